// Global intercepts of Deployments behind an Istio-style mesh sidecar (the test cluster's stand-in:
// istio-init redirects all inbound TCP to the proxy, the proxy dials the app on 127.0.0.1 as UID
// 1337) against the real test cluster: the agent sits behind the proxy, traffic provably passes
// the proxy, leave gives the app back, uninstall gives the templates back byte for byte, and a
// port the mesh keeps from its proxy is refused in one line with nothing changed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_CONTAINER, AGENT_INIT_CONTAINER, WORKLOAD_ANNOTATION } from '@tel/agent-config';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, kubectlAsAdmin, pushManager, removeManager, userEnv, type Build, type Tp } from './harness.js';
import { fromClient, meshManifests, meshStats, specOf, startWorkstationServer, stopWorkstationServer, WS_PORT } from './intercept-world.js';

const RUN = Date.now().toString(36);
const V = `v2.92.0-e2e.${RUN}`;
const NS = 'tel-mesh-e2e';

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let tp: Tp;
let server: number | undefined;
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

/** Bodies of 10 requests from the client pod through the Service. */
const tenRequests = (svc: string) => fromClient(cluster, NS, Array.from({ length: 10 }, () => `http://${svc}.${NS}:8080/`));

/** Containers of the workload's running pods, for "is the agent there". */
async function podContainers(app: string): Promise<string[][]> {
  const pods = JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-l', `app=${app}`, '-o', 'json'])) as { items: { metadata: { deletionTimestamp?: string }; spec: { containers: { name: string }[]; initContainers?: { name: string }[] } }[] };
  return pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => [...(p.spec.initContainers ?? []), ...p.spec.containers].map((c) => c.name));
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-mesh-e2e-'));
  build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
  await pushManager(build, join(dir, 'dist'));
  await removeManager(cluster);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(['apply', '-f', '-'], meshManifests(NS, cluster.demoServerImage, cluster.meshProxyImage, build.info.image));
  for (const w of ['mesh-web', 'mesh-db', 'mesh-hidden', 'client']) await kubectl(['rollout', 'status', `deployment/${w}`, '-n', NS, '--timeout=150s']);
  tp = cliRunner(cluster, build, userEnv(join(dir, 'user'), cluster.registry), cluster.adminKubeconfig);
  server = await startWorkstationServer(cluster, join(dir, 'ws-server.log'));
  const c = await tp('connect', '--output', 'json');
  expect(c.code, c.stdout + c.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  if (tp) await tp('quit', '-s').catch(() => undefined);
  if (server) await stopWorkstationServer(cluster, server);
  if (cluster) {
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await removeManager(cluster).catch(() => undefined);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('intercepts behind a mesh sidecar (real cluster, stand-in mesh)', () => {
  const specs: Record<string, string> = {};

  it('without an intercept, requests reach the app through the mesh proxy (it dials the app on loopback)', async () => {
    for (const w of ['mesh-web', 'mesh-db', 'mesh-hidden']) specs[w] = await specOf(cluster, NS, `deployment/${w}`);
    const before = await meshStats(cluster, NS, 'mesh-db');
    const bodies = await tenRequests('mesh-db');
    expect(bodies.every((b) => b.startsWith('demo-server') && b.includes('from=127.0.0.1:')), JSON.stringify(bodies)).toBe(true);
    const after = await meshStats(cluster, NS, 'mesh-db');
    expect((after.inbound['8080'] ?? 0) - (before.inbound['8080'] ?? 0)).toBeGreaterThanOrEqual(10);
  });

  it.each([
    ['numeric targetPort', 'mesh-db', String(WS_PORT)],
    ['named targetPort', 'mesh-web', `${WS_PORT}:http`],
  ])('%s: a global intercept reaches the workstation through the proxy; leave gives the app back', async (_kind, workload, port) => {
    const r = await tp('intercept', workload, '-n', NS, '--port', port, '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.intercept).toMatchObject({ state: 'active', service: workload, servicePort: 8080, podsReady: 1, podsWanted: 1 });
    // The agent joined the pod next to the mesh's containers, after the mesh's init container.
    expect(await podContainers(workload)).toEqual([['istio-init', AGENT_INIT_CONTAINER, 'app', 'istio-proxy', AGENT_CONTAINER]]);
    const before = await meshStats(cluster, NS, workload);
    // The agent's own connection to the manager went out through the mesh's outbound capture.
    expect(before.outbound['8084'] ?? 0).toBeGreaterThanOrEqual(1);
    const bodies = await tenRequests(workload);
    expect(bodies.filter((b) => b.startsWith('workstation')), JSON.stringify(bodies)).toHaveLength(10);
    const after = await meshStats(cluster, NS, workload);
    expect((after.inbound['8080'] ?? 0) - (before.inbound['8080'] ?? 0)).toBeGreaterThanOrEqual(10);
    expect((await tp('leave', workload)).code).toBe(0);
    const back = await tenRequests(workload);
    expect(back.every((b) => b.startsWith('demo-server') && b.includes('from=127.0.0.1:')), JSON.stringify(back)).toBe(true);
  });

  it("the manager pod deleted while intercepting: the agent arrives again through the mesh's outbound capture and the intercept works again, no command typed", async () => {
    expect((await tp('intercept', 'mesh-db', '-n', NS, '--port', String(WS_PORT))).code).toBe(0);
    const arrivals = (await meshStats(cluster, NS, 'mesh-db')).outbound['8084'] ?? 0;
    await kubectl(['delete', 'pod', '-n', cluster.managerNamespace, '-l', 'app.kubernetes.io/name=traffic-manager', '--wait=false']);
    const t0 = Date.now();
    let bodies: string[] = [];
    while (Date.now() - t0 < 60_000) {
      bodies = await tenRequests('mesh-db');
      if (bodies.every((b) => b.startsWith('workstation')) && ((await meshStats(cluster, NS, 'mesh-db')).outbound['8084'] ?? 0) > arrivals) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(bodies.filter((b) => b.startsWith('workstation')), JSON.stringify(bodies)).toHaveLength(10);
    expect((await meshStats(cluster, NS, 'mesh-db')).outbound['8084'] ?? 0).toBeGreaterThan(arrivals);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await tp('leave', 'mesh-db')).code).toBe(0);
  });

  it('a port the mesh keeps from its proxy: one line saying what and how to fix it, a user exit code, nothing changed', async () => {
    const r = await tp('intercept', 'mesh-hidden', '-n', NS, '--port', String(WS_PORT));
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/port mesh-hidden:8080 \(pod port 8080\) bypasses the service mesh's proxy.*traffic\.sidecar\.istio\.io\/excludeInboundPorts="8080" lists 8080; let the mesh capture port 8080/);
    expect(await specOf(cluster, NS, 'deployment/mesh-hidden')).toBe(specs['mesh-hidden']);
    expect(await podContainers('mesh-hidden')).toEqual([['istio-init', 'app', 'istio-proxy']]);
    expect((await tp('list', '-n', NS, '--intercepts')).stdout.trim()).toBe(`No intercepted workloads in namespace ${NS}`);
  });

  it('uninstall puts both templates back byte for byte and the pods lose the agent', async () => {
    const u = await tp('uninstall', 'mesh-web', 'mesh-db', '-n', NS, '--output', 'json');
    expect(u.code, u.stdout + u.stderr).toBe(0);
    for (const w of ['mesh-web', 'mesh-db']) {
      await kubectl(['rollout', 'status', `deployment/${w}`, '-n', NS, '--timeout=150s']);
      expect(await specOf(cluster, NS, `deployment/${w}`)).toBe(specs[w]);
      expect(specs[w]).not.toContain(WORKLOAD_ANNOTATION);
    }
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && (await podContainers('mesh-db')).flat().includes(AGENT_CONTAINER)) await new Promise((res) => setTimeout(res, 500));
    for (const w of ['mesh-web', 'mesh-db']) expect(await podContainers(w)).toEqual([['istio-init', 'app', 'istio-proxy']]);
    // The replaced pods leave kube-proxy's rules a moment after the rollout reports done.
    let bodies: string[] = [];
    for (const t1 = Date.now(); Date.now() - t1 < 15_000; await new Promise((res) => setTimeout(res, 500))) {
      bodies = await tenRequests('mesh-web');
      if (bodies.every((b) => b.startsWith('demo-server') && b.includes('from=127.0.0.1:'))) break;
    }
    expect(bodies.every((b) => b.startsWith('demo-server') && b.includes('from=127.0.0.1:')), JSON.stringify(bodies)).toBe(true);
  });
});
