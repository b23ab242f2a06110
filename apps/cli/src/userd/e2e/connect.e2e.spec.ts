// `telepresence connect` against the real test cluster, from its workstation namespace: the built
// CLI starts real daemons there, installs the manager, port-forwards through the API server and
// routes pod/service traffic through the tunnel.
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPV6_NOT_SUPPORTED } from '@tel/cidr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, httpGet, kubeconfigWithExtension, netState, pushManager, udpEcho, userEnv, ws, type Build, type Tp, kubectlAsAdmin, removeManager as removeManagerFrom, MANAGER_SELECTOR } from './harness.js';

// Unique per run: the node keeps images by tag (IfNotPresent), so a tag an earlier build pushed
// would run that build's manager.
const RUN = Date.now().toString(36);
const V1 = `v2.90.0-e2e.${RUN}`;
const V2 = `v2.91.0-e2e.${RUN}`;
const MANAGER_NS = 'ambassador';
const DEMO_NS = 'tel-connect-e2e-demo';

let cluster: ClusterInfo;
let dir: string;
let v1: Build;
let v2: Build;
let env: NodeJS.ProcessEnv;
let adminKubeconfig: string;
let tpAdmin: Tp;
let tpDeveloper: Tp;
let tpV2: Tp;
let pristine: string;
let demo: { serviceIp: string; podA: string; podB: string };
/** The stream pod's IP: raw TCP servers (digest echo on 9000, server-speaks-first on 9001). */
let streamPod: string;

/** Runs with the tel2 image's node: 9000 answers sha256 + the bytes back after the client's FIN; 9001 greets first. */
const streamServers = `
const net = require('node:net'), crypto = require('node:crypto');
net.createServer({ allowHalfOpen: true }, (s) => { const h = crypto.createHash('sha256'); const parts = [];
  s.on('data', (c) => { h.update(c); parts.push(c); }); s.on('end', () => { s.write(h.digest('hex') + '\\n'); s.end(Buffer.concat(parts)); }); s.on('error', () => {}); }).listen(9000);
net.createServer((s) => { s.write('220 hello\\r\\n'); s.on('data', (c) => { if (String(c).includes('QUIT')) s.end('221 bye\\r\\n'); }); s.on('error', () => {}); }).listen(9001);`;
const streamPodManifest = (image: string) => `
apiVersion: v1
kind: Pod
metadata: {name: stream, namespace: ${DEMO_NS}, labels: {app: stream}}
spec:
  containers:
  - name: stream
    image: ${image}
    command: [/usr/bin/node, -e, ${JSON.stringify(streamServers)}]
`;
/** Measured numbers, printed at the end (and written beside the temp dir's report). */
const measured: Record<string, number | string> = {};

const demoManifest = (image: string) => demoWorkloadManifest({ image, namespace: DEMO_NS, replicas: 2, udp: true });

const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

const removeManager = () => removeManagerFrom(cluster);

async function managerDeployment(): Promise<{ image: string; generation: number; uid: string; resourceVersion: string } | null> {
  const r = await cluster.wsExec('kubectl', ['get', 'deployment', '-n', MANAGER_NS, '-l', MANAGER_SELECTOR, '-o', 'json'], { timeoutMs: 30_000 });
  const items = (JSON.parse(r.stdout || '{"items":[]}') as { items: any[] }).items;
  if (!items.length) return null;
  const d = items[0];
  return { image: d.spec.template.spec.containers[0].image, generation: d.metadata.generation, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion };
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-connect-e2e-'));
  const dist = join(dir, 'dist');
  // 1. Two builds; only V1's image is pushed (V2 must never get to install anything).
  v1 = await buildVersion(dist, V1, cluster.registry);
  v2 = await buildVersion(dist, V2, cluster.registry);
  await pushManager(v1, dist);
  // 2. The demo workload: two pods (one will be never-proxy) and a ClusterIP service.
  await kubectl(['apply', '-f', '-'], demoManifest(cluster.demoServerImage));
  await kubectl(['rollout', 'status', 'deployment/demo', '-n', DEMO_NS, '--timeout=150s']);
  const pods = (await kubectl(['get', 'pods', '-n', DEMO_NS, '-l', 'app=demo', '--field-selector=status.phase=Running', '-o', 'jsonpath={.items[*].status.podIP}'])).trim().split(/\s+/).sort();
  const serviceIp = (await kubectl(['get', 'service', 'demo', '-n', DEMO_NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  await kubectl(['apply', '-f', '-'], streamPodManifest(v1.info.image));
  await kubectl(['wait', '-n', DEMO_NS, '--for=condition=Ready', 'pod/stream', '--timeout=150s']);
  streamPod = (await kubectl(['get', 'pod', 'stream', '-n', DEMO_NS, '-o', 'jsonpath={.status.podIP}'])).trim();
  demo = { serviceIp, podA: pods[0]!, podB: pods[1]! };
  // 3. A workstation user; the admin's kubeconfig carries the telepresence.io extension.
  env = userEnv(join(dir, 'user'), cluster.registry);
  adminKubeconfig = kubeconfigWithExtension(cluster.adminKubeconfig, join(dir, 'admin-ext.kubeconfig'), { 'never-proxy': [`${demo.podB}/32`] });
  tpAdmin = cliRunner(cluster, v1, env, adminKubeconfig);
  tpDeveloper = cliRunner(cluster, v1, env, cluster.developerKubeconfig);
  tpV2 = cliRunner(cluster, v2, env, adminKubeconfig);
  await removeManager();
  pristine = await netState(cluster);
}, 600_000);

afterAll(async () => {
  // Daemons started here run in the ws namespace; stop them whatever happened (both versions).
  if (tpAdmin) await tpAdmin('quit', '-s').catch(() => undefined);
  if (tpV2) await tpV2('quit', '-s').catch(() => undefined);
  if (cluster) {
    await cluster.wsExec('kubectl', ['delete', 'namespace', DEMO_NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 }).catch(() => undefined);
    await removeManager().catch(() => undefined);
  }
  if (dir) {
    writeFileSync(join(tmpdir(), 'tel-connect-e2e-measured.json'), JSON.stringify(measured, null, 2) + '\n');
    process.stderr.write(`connect e2e measured: ${JSON.stringify(measured)}\n`);
    // Keep the daemons' logs of the last run for debugging; the rest goes.
    const logs = join(tmpdir(), 'tel-connect-e2e-logs');
    rmSync(logs, { recursive: true, force: true });
    const userLogs = join(dir, 'user', 'cache', 'telepresence', 'logs');
    if (existsSync(userLogs)) cpSync(userLogs, logs, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);

describe('telepresence connect (real cluster, workstation namespace)', () => {
  it('connect as admin starts both daemons, installs the manager and routes the cluster subnets', async () => {
    const r = await tpAdmin('connect', '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    measured.connectColdInstallMs = r.ms;
    expect(r.json).toMatchObject({ connected: true, alreadyConnected: false, namespace: 'default', managerNamespace: MANAGER_NS, trafficManager: { version: V1, action: 'installed' } });
    // The install's progress, streamed from the user daemon, lands in the document's `events`.
    expect(r.json.events).toEqual(expect.arrayContaining([{ message: `installing Traffic Manager ${V1} in namespace ${MANAGER_NS}` }]));
    expect(r.json.routedSubnets).toEqual(expect.arrayContaining(['198.19.0.0/16']));
    expect(r.json.routedSubnets.some((s: string) => s.startsWith('198.18.128.'))).toBe(true);
    expect(r.json.excluded).toEqual(expect.arrayContaining([
      { cidr: '198.18.0.1/32', reason: 'api-server' },
      { cidr: `${demo.podB}/32`, reason: 'never-proxy' },
    ]));

    const s = await tpAdmin('status', '--output', 'json');
    expect(s.code).toBe(0);
    expect(s.json.client.version).toBe(V1);
    expect(s.json.user_daemon.version).toBe(V1);
    expect(s.json.root_daemon.version).toBe(V1);
    expect(s.json.user_daemon.idle).toBe(false);
    expect(s.json.user_daemon).toMatchObject({ status: 'Connected', manager_namespace: MANAGER_NS, kubernetes_server: cluster.apiServer });
    expect(s.json.traffic_manager.version).toBe(V1);
    expect(s.json.root_daemon.tunnel_healthy).toBe(true);
    const human = await tpAdmin('status');
    expect(human.stdout).toContain(`${demo.podB}/32 (never-proxy)`);
    expect(human.stdout).toContain('198.18.0.1/32 (api-server)');
  }, 400_000);

  it('reaches a service by ClusterIP and a pod by IP over HTTP', async () => {
    const t0 = performance.now();
    const svc = await httpGet(cluster, `http://${demo.serviceIp}:8080/`);
    measured.firstServiceHttpMs = Math.round(performance.now() - t0);
    expect(svc.ok, svc.body).toBe(true);
    expect(svc.body).toContain(DEMO_NS);
    const pod = await httpGet(cluster, `http://${demo.podA}:8080/`);
    expect(pod.ok, pod.body).toBe(true);
    expect(pod.body).toContain(demo.podA);
    // 20 sequential requests, each a new TCP connection (a request on the stream tunnel).
    const t1 = performance.now();
    const loop = await ws(cluster, `for i in $(seq 20); do curl -sS -o /dev/null --max-time 5 http://${demo.serviceIp}:8080/ || exit 1; done`);
    expect(loop.code, loop.stderr).toBe(0);
    measured.sequentialHttpRequestMs = Math.round((performance.now() - t1) / 20);
  }, 60_000);

  it('list: the demo Deployment can be intercepted through its Service port; one without a Service says why', async () => {
    // replicas 0: only its template matters to list, and no pod has to start.
    await kubectl(['apply', '-f', '-'], `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: lonely, namespace: ${DEMO_NS}}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: lonely}}\n  template:\n    metadata: {labels: {app: lonely}}\n    spec:\n      containers: [{name: app, image: ${cluster.demoServerImage}}]\n`);
    try {
      const r = await tpAdmin('list', '-n', DEMO_NS, '--output', 'json');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const byName = (n: string) => r.json.workloads.find((w: { name: string }) => w.name === n);
      expect(byName('demo')).toMatchObject({ kind: 'Deployment', namespace: DEMO_NS, interceptable: true, ports: expect.arrayContaining([expect.objectContaining({ service: 'demo', port: 8080 })]) });
      expect(byName('lonely')).toMatchObject({ kind: 'Deployment', interceptable: false, reason: 'no Service selects its pods' });
      const human = await tpAdmin('list', '-n', DEMO_NS);
      expect(human.stdout).toMatch(/^demo\s*: deployment ready to intercept \(traffic-agent not yet installed\): demo:/m);
      expect(human.stdout).toMatch(/^lonely\s*: deployment not interceptable: no Service selects its pods$/m);
      // Without -n: the session's namespace.
      expect((await tpAdmin('list', '--output', 'json')).json.namespace).toBe('default');
      const missing = await tpAdmin('list', '-n', 'no-such-namespace');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/namespace no-such-namespace not found/);
    } finally {
      await kubectl(['delete', 'deployment', 'lonely', '-n', DEMO_NS, '--ignore-not-found']);
    }
  });

  it('carries 16 MiB each way intact over the TCP stream tunnel, with half-close, a server that speaks first, and a refused port', async () => {
    const script = `
const net = require('node:net'), crypto = require('node:crypto');
const payload = crypto.randomBytes(16 << 20); const want = crypto.createHash('sha256').update(payload).digest('hex');
const out = {};
const s = net.connect({ host: ${JSON.stringify(streamPod)}, port: 9000, allowHalfOpen: true });
const parts = []; s.on('data', (c) => parts.push(c));
s.on('connect', () => s.end(payload));
s.on('end', () => {
  const all = Buffer.concat(parts); const nl = all.indexOf(10);
  out.digestOk = all.subarray(0, nl).toString() === want; out.echoOk = all.subarray(nl + 1).equals(payload);
  const b = net.connect(9001, ${JSON.stringify(streamPod)}); let text = '';
  b.on('data', (c) => { text += c; if (text === '220 hello\\r\\n') b.write('QUIT\\r\\n'); });
  b.on('end', () => { out.banner = text;
    const r = net.connect(9, ${JSON.stringify(streamPod)}); r.on('error', (e) => { out.refused = e.code; console.log(JSON.stringify(out)); });
    r.on('connect', () => { r.on('data', () => {}); r.on('end', () => { out.refused = 'connected'; console.log(JSON.stringify(out)); }); }); });
});
s.on('error', (e) => { out.error = String(e); console.log(JSON.stringify(out)); });`;
    const r = await cluster.wsExec('node', ['-e', script], { timeoutMs: 120_000 });
    const res = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
    expect(res, r.stderr).toMatchObject({ digestOk: true, echoOk: true, banner: '220 hello\r\n221 bye\r\n' });
    // A refused dial in the cluster reaches the workstation client as a reset, never an empty answer.
    expect(res.refused).toBe('ECONNRESET');
    // TCP was redirected to the user daemon's listener and rode the stream tunnel (this manager has
    // one); status says so.
    const st = await tpAdmin('status', '--output', 'json');
    expect(st.json?.root_daemon?.tcp, st.stdout).toMatchObject({ via: 'user-daemon' });
    expect(st.json.user_daemon.port_forward.tcp.accepted).toBeGreaterThanOrEqual(3);
    expect(st.json.user_daemon.port_forward.tcp.ok).toBeGreaterThanOrEqual(2);
    expect(st.json.user_daemon.port_forward.tcp.failed).toBeGreaterThanOrEqual(1);
    expect(st.json.user_daemon.port_forward.tcp.last_error).toMatch(/ECONNREFUSED/);
  }, 180_000);

  it('echoes UDP through a pod', async () => {
    const r = await udpEcho(cluster, demo.podA, 8080, 'hello-udp');
    expect(r.ok, r.reply).toBe(true);
    expect(r.reply).toContain('hello-udp');
  }, 60_000);

  it('keeps a never-proxy address off the tunnel', async () => {
    const route = await ws(cluster, `ip route get ${demo.podB}`);
    expect(route.stdout).not.toContain('tel0');
    const blocked = await httpGet(cluster, `http://${demo.podB}:8080/`, 3);
    expect(blocked.ok).toBe(false);
    // ...while its sibling in the same subnet is reached.
    expect((await httpGet(cluster, `http://${demo.podA}:8080/`)).ok).toBe(true);
  }, 60_000);

  it('a client of another version meets the connected daemons: refused, nothing replaced', async () => {
    const r = await tpV2('connect');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`version mismatch: Client ${V2} != (Root|User) Daemon ${V1}; run 'telepresence quit -s'`));
    const s = await tpAdmin('status', '--output', 'json');
    expect(s.json.user_daemon.version).toBe(V1);
    expect(s.json.root_daemon.version).toBe(V1);
    expect(s.json.root_daemon.tunnel_healthy).toBe(true);
    expect((await httpGet(cluster, `http://${demo.serviceIp}:8080/`)).ok).toBe(true);
  }, 120_000);

  it('after kill -9 of the root daemon, connect again restores everything without duplicate rules', async () => {
    const connected = await netState(cluster);
    const s = await tpAdmin('status', '--output', 'json');
    const pid = s.json.root_daemon.pid as number;
    process.kill(pid, 'SIGKILL'); // our own daemon, by pid
    await new Promise((r) => setTimeout(r, 300));
    const r = await tpAdmin('connect', '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    measured.reconnectAfterRootDaemonKillMs = r.ms;
    expect(r.json.alreadyConnected).toBe(true);
    expect(await netState(cluster)).toBe(connected);
    expect((await httpGet(cluster, `http://${demo.serviceIp}:8080/`)).ok).toBe(true);
  }, 120_000);

  it('survives a restart of the manager pod: the port-forward finds the new pod, the tunnel recovers', async () => {
    const t0 = performance.now();
    await kubectl(['delete', 'pod', '-n', MANAGER_NS, '-l', MANAGER_SELECTOR, '--wait=true']);
    await kubectl(['rollout', 'status', 'deployment/traffic-manager', '-n', MANAGER_NS, '--timeout=120s']);
    let ok = false;
    while (!ok && performance.now() - t0 < 90_000) {
      ok = (await httpGet(cluster, `http://${demo.serviceIp}:8080/`, 3)).ok;
      if (!ok) await new Promise((r) => setTimeout(r, 1000));
    }
    measured.recoveryAfterManagerPodRestartMs = Math.round(performance.now() - t0);
    expect(ok).toBe(true);
    // The root daemon re-checks health on its ping interval: status follows within seconds.
    let s = await tpAdmin('status', '--output', 'json');
    for (let i = 0; i < 30 && !s.json.root_daemon?.tunnel_healthy; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      s = await tpAdmin('status', '--output', 'json');
    }
    expect(s.json.root_daemon.tunnel_healthy).toBe(true);
    expect(s.json.user_daemon.port_forward.serving).toBe(true);
  }, 200_000);

  it('quit -s restores routes and rules exactly', async () => {
    const r = await tpAdmin('quit', '-s');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Disconnected');
    expect(await netState(cluster)).toBe(pristine);
    expect((await httpGet(cluster, `http://${demo.serviceIp}:8080/`, 3)).ok).toBe(false);
  }, 120_000);

  it('the restricted developer connects to the manager the admin installed', async () => {
    const before = await managerDeployment();
    const r = await tpDeveloper('connect', '--output', 'json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    measured.connectColdDaemonsManagerInstalledMs = r.ms;
    expect(r.json).toMatchObject({ trafficManager: { version: V1, action: 'none' } });
    expect((await httpGet(cluster, `http://${demo.serviceIp}:8080/`)).ok).toBe(true);
    expect(await managerDeployment()).toEqual(before);
    // Plain `quit` (user daemon only) ends the session too: the root daemon stays, its network goes.
    const q = await tpDeveloper('quit');
    expect(q.code, q.stdout + q.stderr).toBe(0);
    expect(q.stdout).toBe('Disconnected\nUser Daemon quit\n');
    expect(await netState(cluster)).toBe(pristine);
    const v = await tpDeveloper('version', '--output', 'json');
    expect(v.json.components.find((c: { name: string }) => c.name === 'Root Daemon').running).toBe(true);
    expect((await tpDeveloper('quit', '-s')).code).toBe(0);
  }, 300_000);

  it('a client of another version gets the clear message and the manager stays as it was', async () => {
    const before = await managerDeployment();
    expect(before?.image).toContain(`tel2:${V1}`);
    const r = await tpV2('connect');
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toContain(`Traffic Manager ${V1} runs in namespace ${MANAGER_NS}, this client is ${V2}`);
    expect(await managerDeployment()).toEqual(before);
    await tpV2('quit', '-s');
    expect(await netState(cluster)).toBe(pristine);
  }, 300_000);

  it('a bad telepresence.io value in the kubeconfig is refused naming the file, the key and the value', async () => {
    const bad = kubeconfigWithExtension(cluster.adminKubeconfig, join(dir, 'bad-ext.kubeconfig'), { 'never-proxy': ['10.10.8.9/33'] });
    const r = await cliRunner(cluster, v1, env, bad)('connect');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain(`${bad}: cluster "telepresence-testcluster" extension telepresence.io: never-proxy[0] has invalid value "10.10.8.9/33": prefix length 33 exceeds 32 for IPv4`);
    await tpAdmin('quit', '-s');
    expect(await netState(cluster)).toBe(pristine);
  }, 120_000);

  it('an IPv6 subnet is refused up front, with the same message from the flag and from the kubeconfig', async () => {
    await tpAdmin('quit', '-s');
    const before = await managerDeployment();
    const flag = await tpAdmin('connect', '--also-proxy', 'fd00::/64');
    expect(flag.code, flag.stdout + flag.stderr).toBe(2);
    expect(flag.stderr).toContain(`--also-proxy "fd00::/64": ${IPV6_NOT_SUPPORTED}`);
    const v6 = kubeconfigWithExtension(cluster.adminKubeconfig, join(dir, 'v6-ext.kubeconfig'), { 'also-proxy': ['fd00::/64'] });
    const ext = await cliRunner(cluster, v1, env, v6)('connect');
    expect(ext.code, ext.stdout + ext.stderr).toBe(3);
    expect(ext.stderr).toContain(`${v6}: cluster "telepresence-testcluster" extension telepresence.io: also-proxy[0] has invalid value "fd00::/64": ${IPV6_NOT_SUPPORTED}`);
    // Refused before the manager was installed, upgraded or port-forwarded to, and nothing routed.
    expect(await managerDeployment()).toEqual(before);
    await tpAdmin('quit', '-s');
    expect(await netState(cluster)).toBe(pristine);
  }, 120_000);
});
