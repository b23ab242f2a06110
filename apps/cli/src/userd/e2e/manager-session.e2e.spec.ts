// The user daemon's session in the traffic manager, in the real test cluster: the manager pod
// deleted mid-session (a new session and working traffic within 10 s, no command typed), the user
// daemon killed with -9 (the manager drops its session within lease + 5 s), and the manager's
// client ports unreachable from other pods while `telepresence connect` works through the port-forward.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_TOKEN_AUDIENCE, DEFAULT_SESSION_LEASE_MS, MANAGER_API_PORT, MANAGER_HEALTH_PORT, MANAGER_TCP_PORT, type SessionSummary } from '@tel/contracts';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { WORKSPACE_ROOT, buildVersion, cliRunner, httpGet, pushManager, userEnv, type Build, type Tp, kubectlAsAdmin, removeManager as removeManagerFrom, MANAGER_SELECTOR } from './harness.js';

/** Unique per run: the node keeps images by tag (IfNotPresent), so a reused tag would run an old manager. */
const VERSION = `v2.93.0-e2e.${Date.now().toString(36)}`;
const MANAGER_NS = 'ambassador';
const DEMO_NS = 'tel-msession-e2e';
/** Checks agent tokens as the manager does (its service account's token, its TokenReview rights). */
const AGENT_AUTH_DRIVER = join(WORKSPACE_ROOT, 'apps/traffic-manager/src/manager/e2e/agent-auth-driver.ts');

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let tp: Tp;
let serviceIp: string;
const measured: Record<string, number> = {};

const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

const removeManager = () => removeManagerFrom(cluster);

/** The running (not terminating) manager pod: name and IP. */
async function managerPod(): Promise<{ name: string; ip: string }> {
  const pods = JSON.parse(await kubectl(['get', 'pods', '-n', MANAGER_NS, '-l', MANAGER_SELECTOR, '-o', 'json'])) as { items: any[] };
  const p = pods.items.find((x) => !x.metadata.deletionTimestamp && x.status.phase === 'Running');
  if (!p) throw new Error('no running manager pod');
  return { name: p.metadata.name, ip: p.status.podIP };
}

/** The manager's own session list: a `listSessions` call made inside its pod, on its loopback. */
async function managerSessions(): Promise<SessionSummary[]> {
  const { name } = await managerPod();
  const script = `const s = require('node:http2').connect('http://127.0.0.1:${MANAGER_API_PORT}'); const r = s.request({ ':path': '/sessions' }); let b = '';
r.on('data', (d) => (b += d)); r.on('end', () => { process.stdout.write(b); s.close(); }); r.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return (JSON.parse(await kubectl(['exec', '-n', MANAGER_NS, name, '--', '/usr/bin/node', '-e', script])) as { sessions: SessionSummary[] }).sessions;
}

/** The user daemon's view through `telepresence status --output json` (its `user_daemon`). */
async function status(): Promise<any> {
  const r = await tp('status', '--output', 'json');
  if (r.code !== 0 || !r.json) throw new Error(`status failed: ${r.stdout}${r.stderr}`);
  return r.json.user_daemon;
}

async function pollUntil<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-msession-e2e-'));
  const dist = join(dir, 'dist');
  build = await buildVersion(dist, VERSION, cluster.registry);
  await pushManager(build, dist);
  await kubectl(['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: DEMO_NS }));
  await kubectl(['rollout', 'status', 'deployment/demo', '-n', DEMO_NS, '--timeout=150s']);
  serviceIp = (await kubectl(['get', 'service', 'demo', '-n', DEMO_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  // A pod that is not the manager: it tries the manager's ports over the pod network.
  await kubectl(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: {name: prober, namespace: ${DEMO_NS}}
spec:
  containers:
  - name: prober
    image: ${build.info.image}
    command: [/usr/bin/node, -e, "setInterval(() => {}, 1 << 30)"]
`);
  await kubectl(['wait', '-n', DEMO_NS, '--for=condition=Ready', 'pod/prober', '--timeout=150s']);
  tp = cliRunner(cluster, build, userEnv(join(dir, 'user'), cluster.registry), cluster.adminKubeconfig);
  await tp('quit', '-s').catch(() => undefined);
  await removeManager();
}, 600_000);

afterAll(async () => {
  if (tp) await tp('quit', '-s').catch(() => undefined);
  if (cluster) {
    await cluster.wsExec('kubectl', ['delete', 'namespace', DEMO_NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 }).catch(() => undefined);
    await removeManager().catch(() => undefined);
  }
  process.stderr.write(`manager-session e2e measured: ${JSON.stringify(measured)}\n`);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('the user daemon session in the traffic manager (real cluster)', () => {
  it('connect arrives: status shows the session id, the manager version and when it last answered; the manager lists the session', async () => {
    const r = await tp('connect', '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const s = await status();
    expect(s.manager_session).toMatchObject({ manager_version: VERSION, arrivals: 1 });
    expect(s.manager_session.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.now() - Date.parse(s.manager_session.last_answer_at)).toBeLessThan(10_000);
    const human = await tp('status');
    expect(human.stdout).toContain(`Manager session   : ${s.manager_session.session_id}`);
    expect(human.stdout).toMatch(/Manager answered  : \S+ \(\d+s ago\)/);
    const sessions = await managerSessions();
    expect(sessions.map((x) => x.sessionId)).toEqual([s.manager_session.session_id]);
    expect(sessions[0]!.client).toMatchObject({ version: VERSION, namespace: 'default' });
    expect((await httpGet(cluster, `http://${serviceIp}:8080/`)).ok).toBe(true);
  }, 400_000);

  it("from another pod, the manager's API and TCP tunnel ports refuse connections, while connect works through the port-forward", async () => {
    const { ip } = await managerPod();
    const script = `const net = require('node:net'); const out = {};
const probe = (port) => new Promise((res) => { const s = net.connect(port, ${JSON.stringify(ip)}); const t = setTimeout(() => { s.destroy(); res('timeout'); }, 5000);
  s.on('connect', () => { clearTimeout(t); s.destroy(); res('open'); }); s.on('error', (e) => { clearTimeout(t); res(e.code); }); });
(async () => { for (const p of [${MANAGER_API_PORT}, ${MANAGER_TCP_PORT}, ${MANAGER_HEALTH_PORT}]) out[p] = await probe(p); console.log(JSON.stringify(out)); })();`;
    const seen = JSON.parse(await kubectl(['exec', '-n', DEMO_NS, 'prober', '--', '/usr/bin/node', '-e', script])) as Record<string, string>;
    // The readiness probe's health port answers: the pod network path works, so the refusals are the listeners'.
    expect(seen).toEqual({ [MANAGER_API_PORT]: 'ECONNREFUSED', [MANAGER_TCP_PORT]: 'ECONNREFUSED', [MANAGER_HEALTH_PORT]: 'open' });
    expect((await tp('status', '--output', 'json')).json.root_daemon.tunnel_healthy).toBe(true);
    expect((await httpGet(cluster, `http://${serviceIp}:8080/`)).ok).toBe(true);
  }, 120_000);

  it("an agent's projected token for the manager's audience is accepted as its service account; other tokens are refused", async () => {
    await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: tel-e2e-agent, namespace: ${DEMO_NS}}\n`);
    const token = async (args: string[]) => (await kubectl(['create', 'token', ...args])).trim();
    const agentToken = await token(['tel-e2e-agent', '-n', DEMO_NS, '--audience', AGENT_TOKEN_AUDIENCE]);
    const apiServerToken = await token(['tel-e2e-agent', '-n', DEMO_NS]); // the default audience: the API server's
    const managerToken = await token(['traffic-manager', '-n', MANAGER_NS]);
    const req = { kubeconfig: cluster.adminKubeconfig, managerToken, tokens: [agentToken, apiServerToken, 'not-a-token', agentToken] };
    const r = await cluster.wsExec('node', ['--import', 'tsx', AGENT_AUTH_DRIVER, JSON.stringify(req)], { cwd: WORKSPACE_ROOT, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
    expect(out.error, r.stderr).toBeUndefined();
    expect(out.results[0]).toEqual({ ok: true, identity: { namespace: DEMO_NS, serviceAccount: 'tel-e2e-agent' } });
    expect(out.results[1]).toMatchObject({ ok: false, code: 'unauthenticated' });
    expect(out.results[2]).toMatchObject({ ok: false, code: 'unauthenticated' });
    expect(out.results[3]).toEqual(out.results[0]); // answered again (from the cache)
  }, 120_000);

  it('the manager pod deleted mid-session: a new session and working outbound traffic within 10 s, no command typed', async () => {
    const before = (await status()).manager_session;
    const old = await managerPod();
    const t0 = Date.now();
    await kubectl(['delete', 'pod', '-n', MANAGER_NS, old.name, '--wait=false']);
    const after = await pollUntil(
      'a new manager session',
      async () => {
        const m = (await status()).manager_session;
        return m?.session_id && m.session_id !== before.session_id ? m : undefined;
      },
      15_000,
    );
    measured.newSessionMs = Date.now() - t0;
    await pollUntil('HTTP to the service again', async () => ((await httpGet(cluster, `http://${serviceIp}:8080/`, 2)).ok ? true : undefined), 15_000, 100);
    measured.trafficAgainMs = Date.now() - t0;
    expect(after.arrivals).toBe(2);
    expect(measured.newSessionMs).toBeLessThan(10_000);
    expect(measured.trafficAgainMs).toBeLessThan(10_000);
    expect((await managerPod()).name).not.toBe(old.name);
    expect((await managerSessions()).map((x) => x.sessionId)).toEqual([after.session_id]);
  }, 120_000);

  it('the user daemon killed with -9: the manager drops its session within lease + 5 s', async () => {
    const s = await status();
    const sessionId = s.manager_session.session_id as string;
    const pid = s.pid as number;
    expect((await managerSessions()).map((x) => x.sessionId)).toContain(sessionId);
    const t0 = Date.now();
    const k = await cluster.wsExec('kill', ['-9', String(pid)]);
    expect(k.code, k.stderr).toBe(0);
    await pollUntil('the session dropped by the manager', async () => ((await managerSessions()).some((x) => x.sessionId === sessionId) ? undefined : true), DEFAULT_SESSION_LEASE_MS + 10_000, 500);
    measured.sessionDroppedMs = Date.now() - t0;
    expect(measured.sessionDroppedMs).toBeLessThan(DEFAULT_SESSION_LEASE_MS + 5_000);
    expect(measured.sessionDroppedMs).toBeGreaterThan(DEFAULT_SESSION_LEASE_MS - 6_000); // expired, not departed
  }, 120_000);
});
