// Argo Rollouts against the real test cluster (its controller runs there): a canary Rollout is a
// workload like a Deployment: listed, globally intercepted (requests through its Service reach
// the workstation), left, and uninstalled with its pod template back exactly as it was.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, kubectlAsAdmin, pushManager, removeManager, userEnv, type Build, type Tp } from './harness.js';
import { clientDeployment, fromClient, startWorkstationServer, stopWorkstationServer, WS_PORT } from './intercept-world.js';
import { whoAnswers } from './personal-world.js';

const RUN = Date.now().toString(36);
const V = `v2.96.0-e2e.${RUN}`;
const NS = 'tel-argo-e2e';

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let tp: Tp;
let tpDev: Tp;
let server: number | undefined;
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

function manifests(demoImage: string, clientImage: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: ${NS}}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  strategy: {canary: {}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: app
        image: ${demoImage}
        args: [serve]
        env:
        - {name: PORT, value: "8080"}
        - {name: GREETING, value: from the rollout}
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: ${NS}}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 8080, targetPort: http}]
---${clientDeployment(NS, clientImage)}`;
}

interface Rollout {
  metadata: { generation: number };
  spec: { template: unknown };
  status?: { observedGeneration?: string; phase?: string; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
}
const readRollout = async () => JSON.parse(await kubectl(['get', 'rollout', 'shop', '-n', NS, '-o', 'json'])) as Rollout;
const templateText = async () => JSON.stringify((await readRollout()).spec.template, null, 1);

/** Until the controller reports the current generation fully rolled out (kubectl has no rollout status for it). */
async function untilHealthy(timeoutMs = 150_000): Promise<void> {
  const t0 = Date.now();
  let r: Rollout | undefined;
  while (Date.now() - t0 < timeoutMs) {
    r = await readRollout();
    const s = r.status ?? {};
    if (s.observedGeneration === String(r.metadata.generation) && s.phase === 'Healthy' && s.replicas === 2 && s.updatedReplicas === 2 && s.availableReplicas === 2) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`rollout/shop not healthy within ${timeoutMs} ms: ${JSON.stringify(r?.status)}`);
}

/** What 10 requests from the client pod through the Service got, by who answered. */
async function answers(): Promise<{ workstation: number; pods: number }> {
  const bodies = await fromClient(cluster, NS, Array.from({ length: 10 }, () => `http://shop.${NS}:8080/`));
  const unclear = bodies.filter((b) => !b.startsWith('workstation') && !b.startsWith('demo-server'));
  if (unclear.length) process.stderr.write(`[rollout e2e] answers neither from the workstation nor a pod: ${JSON.stringify(unclear)}\n`);
  return { workstation: bodies.filter((b) => b.startsWith('workstation')).length, pods: bodies.filter((b) => b.startsWith('demo-server')).length };
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-argo-e2e-'));
  build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
  await pushManager(build, join(dir, 'dist'));
  await removeManager(cluster);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(['apply', '-f', '-'], manifests(cluster.demoServerImage, build.info.image));
  await kubectl(['rollout', 'status', 'deployment/client', '-n', NS, '--timeout=150s']);
  await untilHealthy();
  tp = cliRunner(cluster, build, userEnv(join(dir, 'user'), cluster.registry), cluster.adminKubeconfig);
  tpDev = cliRunner(cluster, build, userEnv(join(dir, 'dev'), cluster.registry), cluster.developerKubeconfig);
  server = await startWorkstationServer(cluster, join(dir, 'ws-server.log'));
  const c = await tp('connect', '--output', 'json');
  expect(c.code, c.stdout + c.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  if (tp) await tp('quit', '-s').catch(() => undefined);
  if (tpDev) await tpDev('quit', '-s').catch(() => undefined);
  if (server) await stopWorkstationServer(cluster, server);
  if (cluster) {
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await removeManager(cluster).catch(() => undefined);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('Argo Rollouts (real cluster, real controller)', () => {
  let template: string;

  it('list shows the Rollout, ready to intercept, and not its ReplicaSets', async () => {
    template = await templateText();
    const l = await tp('list', '-n', NS);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/^shop\s*: rollout ready to intercept \(traffic-agent not yet installed\)/m);
    expect(l.stdout).not.toMatch(/replicaset/);
  });

  it('a global intercept of the Rollout: every request through its Service reaches the workstation; list shows it with its agent', async () => {
    expect(await answers()).toEqual({ workstation: 0, pods: 10 });
    const r = await tp('intercept', 'shop', '-n', NS, '--port', `${WS_PORT}:http`, '--env-json', join(dir, 'shop.json'), '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.intercept).toMatchObject({ state: 'active', service: 'shop', servicePort: 8080, podsReady: 2, podsWanted: 2 });
    expect(await answers()).toEqual({ workstation: 10, pods: 0 });
    // The controller rolled the new template to the end, not the injector behind its back.
    await untilHealthy(30_000);
    const l = await tp('list', '-n', NS);
    expect(l.stdout).toMatch(/^shop\s*: rollout intercepted by \S+ \(shop\) on shop:http, all traffic → workstation port/m);
    const agents = await tp('list', '-n', NS, '--agents', '--output', 'json');
    expect(agents.code, agents.stderr).toBe(0);
    expect(agents.json.agents).toEqual([expect.objectContaining({ namespace: NS, workload: 'shop', kind: 'Rollout', versions: [V] })]);
    expect(agents.json.agents[0].pods).toHaveLength(2);
  });

  it('leave: the pods answer again; the agent stays (list --agents)', async () => {
    expect((await tp('leave', 'shop')).code).toBe(0);
    expect(await answers()).toEqual({ workstation: 0, pods: 10 });
    expect((await tp('list', '-n', NS, '--agents')).stdout).toMatch(/^shop\s*: rollout ready to intercept \(traffic-agent \S+ installed\)/m);
  });

  it('a personal intercept of the Rollout: only requests with the header reach the workstation', async () => {
    const r = await tp('intercept', 'shop', '-n', NS, '--port', `${WS_PORT}:http`, '--http-header', 'x-dev=rollout', '--output', 'json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.intercept).toMatchObject({ state: 'active', spec: { workloadKind: 'Rollout', filter: { headers: ['x-dev=rollout'] } } });
    const mine = await whoAnswers(cluster, NS, `http://shop.${NS}:8080/`, { 'x-dev': 'rollout' });
    expect(mine).toEqual(Array(6).fill('200 workstation'));
    expect(await answers()).toEqual({ workstation: 0, pods: 10 });
    expect((await tp('leave', 'shop')).code).toBe(0);
  });

  it('uninstall: the pod template is byte for byte what it was, the Rollout healthy without agents', async () => {
    const u = await tp('uninstall', 'shop', '-n', NS, '--output', 'json');
    expect(u.code, u.stdout + u.stderr).toBe(0);
    await untilHealthy();
    expect(await templateText()).toBe(template);
    // The pods with agents are gone once terminated (until then kube-proxy may still pick one).
    let containers: string[][] = [];
    for (const t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((res) => setTimeout(res, 500))) {
      const pods = JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-l', 'app=shop', '-o', 'json'])) as { items: { spec: { containers: { name: string }[] } }[] };
      containers = pods.items.map((p) => p.spec.containers.map((c) => c.name));
      if (containers.length === 2 && containers.every((c) => c.length === 1)) break;
    }
    expect(containers).toEqual([['app'], ['app']]);
    expect(await answers()).toEqual({ workstation: 0, pods: 10 });
  });

  it('the restricted developer lists and intercepts the Rollout with its own credentials', async () => {
    const l = await tpDev('list', '-n', NS);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/^shop\s*: rollout ready to intercept/m);
    const r = await tpDev('intercept', 'shop-dev', '--workload', 'shop', '-n', NS, '--port', `${WS_PORT}:http`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await answers()).toEqual({ workstation: 10, pods: 0 });
    expect((await tpDev('leave', 'shop-dev')).code).toBe(0);
    expect(await answers()).toEqual({ workstation: 0, pods: 10 });
    await tpDev('quit');
  });
});
