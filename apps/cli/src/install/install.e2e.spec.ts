// Install, state, compatibility and the manager's tunnel against the REAL test cluster. The API
// server and port-forwards are reachable only from the workstation namespace, so each step runs
// e2e/driver.ts there (cluster.wsExec); this file, on the host, pushes images and asserts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGER_CAPABILITIES } from '@tel/contracts';
import { ensureClusterUp, NET, type ClusterInfo } from '@tel/testcluster';
import type { DriverRequest } from './e2e/driver.js';
import { pushManagerImage, WORKSPACE_ROOT } from './e2e/image.js';
import { kubectlAsAdmin } from '../userd/e2e/harness.js';

const NS = 'tel-install-e2e';
const DEMO_NS = 'tel-install-e2e-demo';
/**
 * This client's version (image pushed), a compatible one (same 2.99 series) and an incompatible one.
 * Unique per run: the node keeps images by tag (IfNotPresent), so a tag an earlier build pushed
 * would run that build's manager.
 */
const RUN = Date.now().toString(36);
const V1 = `v2.99.1-e2e.${RUN}`;
const V_COMPATIBLE = `v2.99.2-e2e.${RUN}`;
const V_OTHER = 'v2.98.0';
const DRIVER = join(WORKSPACE_ROOT, 'apps/cli/src/install/e2e/driver.ts');

let cluster: ClusterInfo;
let image: string;
let demoIp: string;
const measured: Record<string, number> = {};

type Reply = { ok: true; result: any; ms: number } | { ok: false; error: { category: string; message: string; hint: string }; ms: number };

type Request = (DriverRequest extends infer R ? (R extends unknown ? Omit<R, 'kubeconfig'> : never) : never) & { as?: 'admin' | 'developer' };

async function drive(req: Request): Promise<Reply> {
  const { as, ...rest } = req;
  const kubeconfig = as === 'developer' ? cluster.developerKubeconfig : cluster.adminKubeconfig;
  const r = await cluster.wsExec('node', ['--import', 'tsx', DRIVER, JSON.stringify({ ...rest, kubeconfig })], { cwd: WORKSPACE_ROOT, timeoutMs: 300_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`driver failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Reply;
}

async function ok(req: Parameters<typeof drive>[0]): Promise<any> {
  const r = await drive(req);
  if (!r.ok) throw new Error(`${req.action} failed: ${r.error.message}; ${r.error.hint}`);
  return r.result;
}

const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base!) / size);
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  const t0 = performance.now();
  image = await pushManagerImage(cluster.registry, V1);
  measured.imagePushMs = performance.now() - t0;
  // Leftovers of an earlier, interrupted run.
  await drive({ action: 'uninstall', namespace: NS });
  await kubectl(['apply', '-f', '-'], demoManifest(cluster.demoServerImage));
  await kubectl(['-n', DEMO_NS, 'rollout', 'status', 'deployment/demo', '--timeout=120s']);
  // A running pod that is not on its way out (a pod of an earlier run may still be terminating).
  const pods = JSON.parse(await kubectl(['-n', DEMO_NS, 'get', 'pods', '-l', 'app=demo', '--field-selector=status.phase=Running', '-o', 'json'])) as { items: { metadata: { deletionTimestamp?: string }; status: { podIP: string } }[] };
  demoIp = pods.items.find((p) => !p.metadata.deletionTimestamp)?.status.podIP ?? '';
}, 900_000);

afterAll(async () => {
  if (!cluster) return;
  await drive({ action: 'uninstall', namespace: NS }).catch(() => undefined);
  await cluster.wsExec('kubectl', ['delete', 'namespace', DEMO_NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  process.stdout.write(`[measure] ${JSON.stringify(Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, Math.round(v)])))}\n`);
}, 300_000);

describe('traffic manager install (real cluster)', () => {
  it('admin installs: the Deployment becomes ready and getManagerState reports the version', async () => {
    const before = await ok({ action: 'state', namespace: NS });
    expect(before).toEqual({ installed: false, ready: false });
    const installed = await drive({ action: 'install', namespace: NS, image, version: V1, timeoutMs: 180_000 });
    expect(installed).toMatchObject({ ok: true, result: { version: V1, action: 'installed' } });
    measured.installToReadyMs = installed.ms;
    const state = await ok({ action: 'state', namespace: NS });
    expect(state).toEqual({ installed: true, ready: true, version: V1, apiVersion: 1, image });
    // Installing again is a no-op.
    expect(await ok({ action: 'install', namespace: NS, image, version: V1 })).toMatchObject({ action: 'none' });
  });

  it('through port-forwards: version (with capabilities), cluster-info, HTTP over the TCP stream tunnel and UDP to a demo pod, 1000 concurrent calls on one connection', async () => {
    const r = await ok({ action: 'tunnel', namespace: NS, demoIp, demoPort: 8080, concurrent: 1000 });
    expect(r.version).toEqual({ name: 'Traffic Manager', version: V1, apiVersion: 1, capabilities: [...MANAGER_CAPABILITIES], agentImage: expect.stringMatching(new RegExp(`/tel2:${V1}$`)) });
    expect(r.http).toBe('HTTP/1.1 200 OK');
    expect(r.httpBody).toContain(demoIp);
    expect(r.udp).toContain('ping-udp');
    expect(r.concurrentOk).toBe(1000);
    const info = r.clusterInfo as { podSubnets: string[]; serviceSubnets: string[]; dnsIp: string; clusterDomain: string };
    expect(info.serviceSubnets).toEqual([NET.serviceCidr]);
    expect(info.podSubnets.some((c) => inCidr(demoIp, c))).toBe(true);
    expect(info.dnsIp).toBe(NET.dnsServiceIp);
    expect(info.clusterDomain).toBe('cluster.local');
    Object.assign(measured, { versionRoundTripMs: r.versionMs, connectHttpMs: r.connectMs, concurrent1000Ms: r.concurrentMs, managerRssMiBAfter1000: r.stats.rssBytes / 2 ** 20 });
  });

  it('the restricted developer is refused with the missing permission and nothing is created', async () => {
    const before = await ok({ action: 'inventory', namespace: 'ambassador' });
    const r = await drive({ action: 'install', as: 'developer', namespace: 'ambassador', image, version: V1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toMatch(/^you may not create deployments in namespace ambassador \(forbidden\)/);
    expect(r.error.hint).toBe("ask a cluster admin to run 'telepresence helm install'");
    process.stdout.write(`[message] ${r.error.message}; ${r.error.hint}\n`);
    expect(await ok({ action: 'inventory', namespace: 'ambassador' })).toEqual(before);
  });

  it('a client of another version gets a clear refusal and the manager stays as it was', async () => {
    const r = await drive({ action: 'ensure', namespace: NS, image: image.replace(V1, V_OTHER), version: V_OTHER, mayInstall: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe(`Traffic Manager ${V1} runs in namespace ${NS}, this client is ${V_OTHER} (${V1} and ${V_OTHER} are different release series)`);
    expect(r.error.hint).toContain("'telepresence helm upgrade'");
    expect(r.error.hint).toContain(`use a ${V1} client`);
    process.stdout.write(`[message] ${r.error.message}; ${r.error.hint}\n`);
    const refusedInstall = await drive({ action: 'install', namespace: NS, image: image.replace(V1, V_OTHER), version: V_OTHER });
    expect(refusedInstall.ok ? '' : refusedInstall.error.message).toBe(`Traffic Manager ${V1} is already installed in namespace ${NS} (this client is ${V_OTHER})`);
    expect(await ok({ action: 'state', namespace: NS })).toEqual({ installed: true, ready: true, version: V1, apiVersion: 1, image });
    // Same 2.99 series and API: connect anyway, with a warning; nothing replaced.
    const compatible = await ok({ action: 'ensure', namespace: NS, image: image.replace(V1, V_COMPATIBLE), version: V_COMPATIBLE });
    expect(compatible).toMatchObject({ version: V1, action: 'none' });
    expect(compatible.warning).toContain(`Traffic Manager ${V1} differs from this client ${V_COMPATIBLE}`);
  });

  it('helm upgrade (by an admin) is what replaces it', async () => {
    const next = await pushManagerImage(cluster.registry, V_COMPATIBLE);
    const r = await ok({ action: 'upgrade', namespace: NS, image: next, version: V_COMPATIBLE, timeoutMs: 180_000 });
    expect(r).toMatchObject({ version: V_COMPATIBLE, action: 'upgraded' });
    expect(await ok({ action: 'state', namespace: NS })).toEqual({ installed: true, ready: true, version: V_COMPATIBLE, apiVersion: 1, image: next });
  });

  it('a deleted Deployment (everything else left) reads as not installed and install works again', async () => {
    await kubectl(['-n', NS, 'delete', 'deployment', 'traffic-manager', '--wait=true']);
    expect(await ok({ action: 'state', namespace: NS })).toEqual({ installed: false, ready: false });
    const r = await ok({ action: 'ensure', namespace: NS, image, version: V1, mayInstall: true, timeoutMs: 180_000 });
    expect(r).toMatchObject({ version: V1, action: 'installed' });
    expect(await ok({ action: 'state', namespace: NS })).toMatchObject({ installed: true, ready: true, version: V1 });
  });

  it('uninstall removes everything and verifies it; connect without install rights then says who can help', async () => {
    const t0 = performance.now();
    const r = await ok({ action: 'uninstall', namespace: NS });
    measured.uninstallMs = performance.now() - t0;
    expect(r.removed).toEqual(
      expect.arrayContaining(['Deployment/traffic-manager', 'Service/traffic-manager', 'ClusterRole/traffic-manager-tel-install-e2e', `Namespace/${NS}`]),
    );
    expect(await ok({ action: 'inventory', namespace: NS })).toEqual([]);
    const refused = await drive({ action: 'ensure', namespace: NS, image, version: V1, mayInstall: false });
    expect(refused.ok ? '' : refused.error.message).toBe(`no Traffic Manager runs in namespace ${NS}`);
  });
});

describe('telepresence helm (the real CLI, run from source: version v0.0.0-dev)', () => {
  const ns = 'tel-helm-e2e';
  const tp = (args: string[]) =>
    cluster.wsExec('node', ['--import', 'tsx', join(WORKSPACE_ROOT, 'apps/cli/src/main.ts'), ...args, '--kubeconfig', cluster.adminKubeconfig, '--manager-namespace', ns], {
      cwd: WORKSPACE_ROOT,
      timeoutMs: 300_000,
      env: { TELEPRESENCE_REGISTRY: cluster.registry, XDG_CONFIG_HOME: '/nonexistent' },
    });

  // Leftovers of an interrupted run first, and never leave one behind.
  beforeAll(async () => {
    await ok({ action: 'uninstall', namespace: ns });
  }, 300_000);
  afterAll(async () => {
    if (cluster) await drive({ action: 'uninstall', namespace: ns }).catch(() => undefined);
  }, 300_000);

  it('install, install again, uninstall, uninstall again', async () => {
    await pushManagerImage(cluster.registry, 'v0.0.0-dev');
    let r = await tp(['helm', 'install']);
    // Not a terminal: the progress events are plain lines on stderr, the result alone on stdout.
    expect(r.stderr).toContain(`installing Traffic Manager v0.0.0-dev in namespace ${ns}\n`);
    expect(r.stdout).toBe(`Traffic Manager v0.0.0-dev installed in namespace ${ns} (${cluster.registry}/tel2:v0.0.0-dev)\n`);
    r = await tp(['helm', 'install', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ action: 'none', version: 'v0.0.0-dev', namespace: ns, image: `${cluster.registry}/tel2:v0.0.0-dev`, events: expect.arrayContaining([{ message: `updating Traffic Manager v0.0.0-dev in namespace ${ns}` }]) });
    r = await tp(['helm', 'uninstall']);
    expect(r.code).toBe(0);
    // The webhook's Secret is the manager's own (created when it starts): removed first when there.
    expect(r.stdout).toMatch(new RegExp(`^Traffic Manager uninstalled from namespace ${ns} \\(removed (Secret/traffic-manager-webhook-tls, )?Deployment/traffic-manager, .*Namespace/${ns}\\)`));
    r = await tp(['helm', 'uninstall']);
    expect(r.stdout).toBe(`No Traffic Manager was installed in namespace ${ns}\n`);
  });
});

function demoManifest(demoImage: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NS } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'demo', namespace: DEMO_NS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'demo' } },
          template: {
            metadata: { labels: { app: 'demo' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'demo',
                  image: demoImage,
                  env: [
                    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  ],
                },
              ],
            },
          },
        },
      },
    ],
  });
}
