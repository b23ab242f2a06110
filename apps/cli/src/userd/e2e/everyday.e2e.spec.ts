// The everyday commands that read the cluster or the daemons, against the real test cluster with
// the built CLI on the workstation: list-namespaces with the developer's kubeconfig, loglevel on
// the running daemons, and gather-logs
// --traffic-manager zipping the daemons', the manager pod's and a real traffic agent's logs;
// with --anonymize none of the run's pod names, namespace, pod IPs, host or user names remain.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, httpGet, kubectlAsAdmin, pushManager, removeManager, userEnv, ws, type Build, type Tp } from './harness.js';

const RUN = Date.now().toString(36);
/** Unique per run: the node keeps images by tag (IfNotPresent), so a reused tag would run an old manager. */
const V = `v2.94.0-e2e.${RUN}`;
const NS = 'tel-everyday-e2e';
/** A user name the workstation's environment carries, so the anonymize check has one that is not root. */
const WS_USER = `tel-e2e-user-${RUN}`;

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let tp: Tp;
let tpDev: Tp;
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

/** `s` standing alone in `text`, as the anonymizer replaces it: not part of a longer name or address. */
function containsWhole(text: string, s: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9_-])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_-])`).test(text);
}

function readZip(file: string): Record<string, string> {
  return Object.fromEntries(Object.entries(unzipSync(readFileSync(file))).map(([n, b]) => [n, strFromU8(b)]));
}

/** Name, namespace and IP of the running pods of `selector` in `namespace`. */
async function pods(namespace: string, selector: string): Promise<{ name: string; namespace: string; ip: string }[]> {
  const list = JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: any[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running').map((p) => ({ name: p.metadata.name, namespace, ip: p.status.podIP }));
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  // Not named like NS: the daemons' logs hold paths under it, and NS must be checkable on its own.
  dir = mkdtempSync(join(tmpdir(), 'tel-day-e2e-'));
  build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
  await pushManager(build, join(dir, 'dist'));
  await removeManager(cluster);
  await kubectl(['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: NS }));
  await kubectl(['rollout', 'status', 'deployment/demo', '-n', NS, '--timeout=150s']);
  // The user's runtime dir is named after them (as /run/user/<name> may be): the daemons log
  // their socket paths, so the user name is in the logs for --anonymize to remove.
  const userDirsEnv = userEnv(join(dir, 'user'), cluster.registry);
  const runtimeDir = join(dir, 'user', WS_USER);
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  tp = cliRunner(cluster, build, { ...userDirsEnv, XDG_RUNTIME_DIR: runtimeDir, USER: WS_USER, LOGNAME: WS_USER }, cluster.adminKubeconfig);
  tpDev = cliRunner(cluster, build, userEnv(join(dir, 'dev'), cluster.registry), cluster.developerKubeconfig);
  const c = await tp('connect', '--output', 'json');
  expect(c.code, c.stdout + c.stderr).toBe(0);
  // An intercept puts a real traffic agent (and its logs) into the demo pod.
  const i = await tp('intercept', 'demo', '-n', NS, '--port', '18080', '--output', 'json');
  expect(i.code, i.stdout + i.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  if (tp) {
    await tp('leave', 'demo').catch(() => undefined);
    await tp('uninstall', '--all-agents', '-n', NS).catch(() => undefined);
    await tp('quit', '-s').catch(() => undefined);
  }
  if (tpDev) await tpDev('quit', '-s').catch(() => undefined);
  if (cluster) {
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await removeManager(cluster).catch(() => undefined);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('list-namespaces against the test cluster', () => {
  it("shows the developer the cluster's namespaces, as kubectl lists them; a bad context is one line", async () => {
    // Other e2e files create and delete their namespaces while this runs, so the list is checked
    // against kubectl's before and after: every namespace present in both must be shown, and
    // nothing that was in neither.
    const kubectlNames = async () =>
      (await kubectl(['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}'])).trim().split(/\s+/);
    const agreesWithKubectl = async (list: () => Promise<string[]>) => {
      const before = await kubectlNames();
      const shown = await list();
      const after = await kubectlNames();
      expect(shown).toEqual([...shown].sort());
      expect(shown).toEqual(expect.arrayContaining(before.filter((n) => after.includes(n))));
      expect(shown.filter((n) => !before.includes(n) && !after.includes(n))).toEqual([]);
      return shown;
    };
    const json = await agreesWithKubectl(async () => {
      const r = await tpDev('list-namespaces', '--output', 'json');
      expect(r.code, r.stderr).toBe(0);
      return r.json.namespaces as string[];
    });
    expect(json).toEqual(expect.arrayContaining(['default', 'kube-system', cluster.managerNamespace, NS]));
    await agreesWithKubectl(async () => {
      const text = await tpDev('list-namespaces');
      expect(text.code, text.stderr).toBe(0);
      return text.stdout.trim().split('\n');
    });
    const bad = await tpDev('list-namespaces', '--context', 'no-such-context');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('context "no-such-context" not found');
  }, 120_000);
});

describe('loglevel against the running daemons', () => {
  it('debug makes the user daemon log what it drops at debug; with -d it goes back to the configured info', async () => {
    const [demo] = await pods(NS, 'app=demo');
    const connectorLog = join(dir, 'user', 'cache', 'telepresence', 'logs', 'connector.log');
    const refusedLine = (port: number) => `tcp ${demo!.ip}:${port} refused`;
    // Configured info: a refused connection through the tunnel is a debug line, not written.
    await httpGet(cluster, `http://${demo!.ip}:7/`, 5);
    expect(readFileSync(connectorLog, 'utf8')).not.toContain(refusedLine(7));
    const short = await tp('loglevel', 'debug', '-d', '3s');
    expect(short.code, short.stderr).toBe(0);
    await httpGet(cluster, `http://${demo!.ip}:9/`, 5);
    expect(readFileSync(connectorLog, 'utf8')).toContain(refusedLine(9));
    await new Promise((r) => setTimeout(r, 3500));
    await httpGet(cluster, `http://${demo!.ip}:13/`, 5);
    expect(readFileSync(connectorLog, 'utf8')).not.toContain(refusedLine(13));
    const bad = await tp('loglevel', 'loud');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    // For the rest of the run: debug, so the logs gathered below name the pod's IP.
    expect((await tp('loglevel', 'debug', '-d', '10m')).code).toBe(0);
    await httpGet(cluster, `http://${demo!.ip}:9/`, 5);
  }, 120_000);
});

describe('gather-logs --traffic-manager against the test cluster', () => {
  it("zips the connector's, the root daemon's, the manager pod's and the traffic agent's logs", async () => {
    const file = join(dir, 'plain.zip');
    const r = await tp('gather-logs', '--traffic-manager', '--output-file', file, '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.file).toBe(file);
    const zip = readZip(file);
    const [manager] = await pods(cluster.managerNamespace, 'app.kubernetes.io/name=traffic-manager');
    const [demo] = await pods(NS, 'app=demo');
    expect(Object.keys(zip)).toEqual(expect.arrayContaining(['connector.log', 'daemon.log', `${manager!.name}.${cluster.managerNamespace}.log`, `${demo!.name}.${NS}.log`]));
    expect(r.json.entries.map((e: { name: string }) => e.name).sort()).toEqual(Object.keys(zip).sort());
    // Each is the real component's log of this build: their lines carry its version.
    for (const name of ['connector.log', 'daemon.log', `${manager!.name}.${cluster.managerNamespace}.log`, `${demo!.name}.${NS}.log`]) expect(zip[name], name).toContain(V);
  }, 180_000);

  it('--anonymize: none of the pod names, namespace, pod IPs, host name or user names of the run remain', async () => {
    const plainFile = join(dir, 'plain-again.zip');
    const anonFile = join(dir, 'anon.zip');
    expect((await tp('gather-logs', '--traffic-manager', '--output-file', plainFile)).code).toBe(0);
    const r = await tp('gather-logs', '--traffic-manager', '--anonymize', '--output-file', anonFile, '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.anonymized).toBe(true);
    const plain = Object.entries(readZip(plainFile)).flat().join('\n');
    const anon = Object.entries(readZip(anonFile)).flat().join('\n');
    const manager = await pods(cluster.managerNamespace, 'app.kubernetes.io/name=traffic-manager');
    const demo = await pods(NS, 'app=demo');
    const host = (await ws(cluster, 'hostname')).stdout.trim();
    const identifying = [...manager, ...demo].flatMap((p) => [p.name, p.ip]).concat([NS, cluster.managerNamespace, host, WS_USER]);
    // The check means something only for what the plain logs hold: at least the pods and the namespace.
    const present = identifying.filter((s) => containsWhole(plain, s));
    expect(present).toEqual(expect.arrayContaining([NS, WS_USER, ...manager.map((p) => p.name), ...demo.flatMap((p) => [p.name, p.ip])]));
    process.stderr.write(`[everyday e2e] identifying strings in the plain logs: ${present.join(', ')} (not there: ${identifying.filter((x) => !present.includes(x)).join(', ') || 'none'})\n`);
    for (const s of identifying) expect(containsWhole(anon, s), `${s} remains in the anonymized zip`).toBe(false);
    // Still useful: the same lines, placeholders where the names were.
    expect(anon).toMatch(/traffic-manager-pod-\d+\.namespace-\d+\.log/);
    expect(anon).toContain(V);
    expect(existsSync(anonFile)).toBe(true);
  }, 180_000);
});
