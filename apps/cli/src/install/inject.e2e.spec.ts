// Agent injection against the REAL test cluster: the manager's webhook (its certificate, the
// caBundle), the template annotation set and removed by the Injector, the init container's nft
// redirect, and the pod templates coming back byte for byte. Cluster steps run in the workstation
// namespace (install driver and inject driver through cluster.wsExec); this file asserts.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { WORKSPACE_ROOT } from './e2e/image.js';
import { pushManagerImage } from './e2e/image.js';
import { kubectlAsAdmin } from '../userd/e2e/harness.js';

const NS = 'tel-inject-e2e';
const APPS = 'tel-inject-e2e-apps';
const MWC = `traffic-manager-${NS}`;
/** Our own version (never another suite's); unique per run because the node keeps images by tag. */
const VERSION = `v2.99.0-inject.${Date.now().toString(36)}`;
const INSTALL_DRIVER = join(WORKSPACE_ROOT, 'apps/cli/src/install/e2e/driver.ts');
const INJECT_DRIVER = join(WORKSPACE_ROOT, 'apps/traffic-manager/src/manager/inject/e2e/driver.ts');

let cluster: ClusterInfo;
let image: string;
const measured: Record<string, number> = {};
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

async function runDriver(path: string, req: object): Promise<any> {
  const r = await cluster.wsExec('node', ['--import', 'tsx', path, JSON.stringify({ kubeconfig: cluster.adminKubeconfig, ...req })], { cwd: WORKSPACE_ROOT, timeoutMs: 300_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`driver failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const reply = JSON.parse(line);
  if (!reply.ok) throw new Error(`${(req as { action: string }).action} failed: ${reply.error.message}; ${reply.error.hint}`);
  return reply.result;
}
/** A request of apps/traffic-manager/src/manager/inject/e2e/driver.ts (InjectDriverRequest) without what every call shares. */
type InjectReq = { name: string; kind?: 'Deployment' | 'StatefulSet' | 'ReplicaSet' } & ({ action: 'describe' | 'remove' } | { action: 'ensure'; rolloutMs?: number } | { action: 'rollout'; hash?: string; timeoutMs: number; until: 'done' | 'failure' });
const inject = (req: InjectReq) => runDriver(INJECT_DRIVER, { managerNamespace: NS, agentImage: image, namespace: APPS, ...req });
const install = (action: 'install' | 'uninstall') => runDriver(INSTALL_DRIVER, { action, namespace: NS, image, version: VERSION, timeoutMs: 180_000 });

const specOf = async (kind: string, name: string) => JSON.stringify(JSON.parse(await kubectl(['-n', APPS, 'get', kind, name, '-o', 'json'])).spec);
const caBundle = async () => (await kubectl(['get', 'mutatingwebhookconfiguration', MWC, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).trim();
const podsOf = async (app: string) => (JSON.parse(await kubectl(['-n', APPS, 'get', 'pods', '-l', `app=${app}`, '-o', 'json'])).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
const fromClient = (url: string) => cluster.wsExec('kubectl', ['-n', APPS, 'exec', 'client', '--', '/demo-server', 'get', url], { env: { KUBECONFIG: cluster.adminKubeconfig }, timeoutMs: 60_000 });

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The host pid of a process in `pod` (the demo server has POD_NAME and POD_NAMESPACE in its environment). */
function pidOfPod(pod: string): string {
  const want = [`POD_NAME=${pod}`, `POD_NAMESPACE=${APPS}`];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (want.every((w) => env.includes(w))) return pid;
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no process of pod ${pod} found`);
}

const podEnv = [
  { name: 'PORT', value: '8080' },
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
];
function appsManifest(demo: string): string {
  const container = (port: object, probePort: string | number) => ({ name: 'app', image: demo, env: podEnv, ports: [port], readinessProbe: { httpGet: { path: '/', port: probePort }, periodSeconds: 1 } });
  const template = (app: string, c: object) => ({ metadata: { labels: { app } }, spec: { terminationGracePeriodSeconds: 1, containers: [c] } });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: APPS } },
      // A named targetPort: the agent takes the name over.
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: APPS }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('web', container({ name: 'http', containerPort: 8080 }, 'http')) } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: APPS }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } },
      // A numeric targetPort: the init container redirects it.
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: APPS }, spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db', container({ containerPort: 8080 }, 8080)) } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: APPS }, spec: { selector: { app: 'db' }, ports: [{ port: 80, targetPort: 8080 }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: APPS }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'client', image: demo, env: [{ name: 'PORT', value: '8080' }] }] } },
    ],
  });
}

const recorded: Record<string, string> = {};

beforeAll(async () => {
  cluster = await ensureClusterUp();
  const t0 = performance.now();
  image = await pushManagerImage(cluster.registry, VERSION);
  measured.imagePushMs = performance.now() - t0;
  await cluster.wsExec('kubectl', ['delete', 'namespace', APPS, '--ignore-not-found', '--wait=true'], { timeoutMs: 120_000 });
  await install('uninstall');
  const t1 = performance.now();
  await install('install');
  // The manager is Ready before its injector has put the CA in (the lead wires that readiness).
  await until('caBundle set by the manager', 60_000, async () => ((await caBundle()) ? true : undefined));
  measured.installToCaBundleMs = performance.now() - t1;
  await kubectl(['apply', '-f', '-'], appsManifest(cluster.demoServerImage));
  await kubectl(['-n', APPS, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
  await kubectl(['-n', APPS, 'rollout', 'status', 'statefulset/db', '--timeout=120s']);
  await kubectl(['-n', APPS, 'wait', 'pod/client', '--for=condition=Ready', '--timeout=120s']);
  recorded.web = await specOf('deployment', 'web');
  recorded.db = await specOf('statefulset', 'db');
}, 900_000);

afterAll(async () => {
  if (!cluster) return;
  await cluster.wsExec('kubectl', ['delete', 'namespace', APPS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
  await install('uninstall').catch(() => undefined);
  process.stdout.write(`[measure] ${JSON.stringify(Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, Math.round(v)])))}\n`);
}, 300_000);

describe('agent injection (real cluster)', () => {
  let webAgentPort = 0;

  it('named and numeric targetPort: the pods roll to the agent, stay Ready, and the ports land on the agent', async () => {
    // Found by name alone (Deployment first, then StatefulSet); the rollout followed from the annotation on.
    const [web, db] = await Promise.all([inject({ action: 'ensure', name: 'web', rolloutMs: 120_000 }), inject({ action: 'ensure', name: 'db', rolloutMs: 120_000 })]);
    expect(web).toMatchObject({ ref: { kind: 'Deployment', name: 'web' }, changed: true });
    expect(db).toMatchObject({ ref: { kind: 'StatefulSet', name: 'db' }, changed: true });
    webAgentPort = web.config.ports[0].agentPort;
    const [webRollout, dbRollout] = [web.rollout, db.rollout];
    Object.assign(measured, { webInjectToDoneMs: web.totalMs, dbInjectToDoneMs: db.totalMs });
    expect(webRollout.statuses.length).toBeGreaterThan(1);
    expect(webRollout.final).toMatchObject({ done: true, podsReady: 2, podsWanted: 2, message: 'rollout of deployment/web: 2/2 pods ready with the agent' });
    expect(dbRollout.final).toMatchObject({ done: true, podsReady: 1, message: 'rollout of statefulset/db: 1/1 pods ready with the agent' });
    process.stdout.write(`[rollout] ${webRollout.statuses.map((s: any) => `${s.atMs}ms ${s.message}`).join(' | ')}\n`);
    // The webhook answered every pod of the namespace (agent or not) quickly.
    const logs = await kubectl(['-n', NS, 'logs', 'deployment/traffic-manager']);
    const answers = [...logs.matchAll(/webhook: admission answered.*?"ms":(\d+)/g)].map((m) => Number(m[1]));
    expect(answers.length).toBeGreaterThanOrEqual(3);
    measured.webhookMaxMs = Math.max(...answers);
    expect(logs).not.toMatch(/left without the traffic agent/);
    // Ensuring again is a no-op.
    expect(await inject({ action: 'ensure', name: 'web' })).toMatchObject({ changed: false, hash: web.hash });

    const webPods = await podsOf('web');
    expect(webPods).toHaveLength(2);
    for (const p of webPods) {
      expect(p.spec.containers.map((c: any) => c.name)).toEqual(['app', 'traffic-agent']);
      expect(p.spec.initContainers).toBeUndefined();
      expect(p.metadata.annotations['telepresence.io/agent']).toBe(web.hash);
      expect(p.spec.volumes.find((v: any) => v.name === 'tel-agent-token').projected.sources[0].serviceAccountToken.audience).toBe('telepresence-traffic-manager');
    }
    const [dbPod] = await podsOf('db');
    expect(dbPod.spec.initContainers.map((c: any) => c.name)).toEqual(['tel-agent-init']);
    expect(dbPod.status.initContainerStatuses[0].state.terminated).toMatchObject({ exitCode: 0 });

    // Named port: the Service's endpoints point at the agent; the app still answers on its own port.
    const slices = JSON.parse(await kubectl(['-n', APPS, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json'])).items as any[];
    expect(slices.flatMap((s) => s.ports.map((p: any) => p.port))).toEqual([webAgentPort]);
    expect((await fromClient(`http://${webPods[0].status.podIP}:8080/`)).stdout).toContain(webPods[0].metadata.name);

    // Numeric port: the redirect is in the pod's netns; probes (from the node) still reach the app
    // (the pod is Ready), a connection from another pod goes to the agent port, and the agent (no
    // intercept) hands it to the app on the pod's loopback: the app sees it come from 127.0.0.1.
    const rules = execFileSync('nsenter', ['-t', pidOfPod(dbPod.metadata.name), '-n', 'nft', 'list', 'table', 'ip', 'telepresence_agent'], { encoding: 'utf8' });
    expect(rules).toContain(`tcp dport 8080 redirect to :${db.config.ports[0].agentPort}`);
    expect(rules).toMatch(/ip saddr \{ [\d., ]+ \} return/);
    process.stdout.write(`[nft] ${rules.replace(/\s+/g, ' ')}\n`);
    const viaAgent = (await fromClient(`http://${dbPod.status.podIP}:8080/`)).stdout;
    expect(viaAgent).toContain(dbPod.metadata.name);
    expect(viaAgent).toMatch(/from=127\.0\.0\.1:\d+/);
  });

  it('a re-install keeps the caBundle the manager set', async () => {
    const before = await caBundle();
    expect(await install('install')).toMatchObject({ action: 'none' });
    expect(await caBundle()).toBe(before);
  });

  it('removing the annotation rolls the pods back: the templates equal the originals byte for byte, the Services answer', async () => {
    expect(await inject({ action: 'remove', name: 'web' })).toEqual({ changed: true });
    expect(await inject({ action: 'remove', name: 'db', kind: 'StatefulSet' })).toEqual({ changed: true });
    expect(await inject({ action: 'remove', name: 'web' })).toEqual({ changed: false });
    const [web, db] = await Promise.all([
      inject({ action: 'rollout', name: 'web', timeoutMs: 120_000, until: 'done' }),
      inject({ action: 'rollout', name: 'db', kind: 'StatefulSet', timeoutMs: 120_000, until: 'done' }),
    ]);
    expect(web.final).toMatchObject({ done: true, message: 'rollout of deployment/web: 2/2 pods ready without the agent' });
    expect(db.final).toMatchObject({ done: true });
    expect(await specOf('deployment', 'web')).toBe(recorded.web);
    expect(await specOf('statefulset', 'db')).toBe(recorded.db);
    expect((await fromClient(`http://web.${APPS}/`)).stdout).toContain('web-');
    expect((await fromClient(`http://db.${APPS}/`)).stdout).toContain('db-0');
  });

  it('a pod created while the webhook is unreachable starts without the agent and the rollout says webhook-not-called; the restarted manager keeps its certificate', async () => {
    const ca = await caBundle();
    await kubectl(['-n', NS, 'scale', 'deployment/traffic-manager', '--replicas=0']);
    await until('manager pods gone', 60_000, async () => (JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=traffic-manager', '-o', 'json'])).items.length === 0 ? true : undefined));
    try {
      const web = await inject({ action: 'ensure', name: 'web' });
      const r = await inject({ action: 'rollout', name: 'web', hash: web.hash, timeoutMs: 60_000, until: 'failure' });
      expect(r.final.failure).toMatchObject({ code: 'webhook-not-called' });
      expect(r.final.message).toMatch(/^rollout of deployment\/web: pod web-[a-z0-9-]+ was created without the traffic agent/);
      process.stdout.write(`[webhook-not-called] ${r.final.message}; ${r.final.failure.hint}\n`);
    } finally {
      await inject({ action: 'remove', name: 'web' });
      await kubectl(['-n', NS, 'scale', 'deployment/traffic-manager', '--replicas=1']);
    }
    await kubectl(['-n', APPS, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
    expect(await specOf('deployment', 'web')).toBe(recorded.web);
    await kubectl(['-n', NS, 'rollout', 'status', 'deployment/traffic-manager', '--timeout=120s']);
    await until('the new manager checked its certificate', 30_000, async () => ((await kubectl(['-n', NS, 'logs', 'deployment/traffic-manager'])).includes('webhook CA already in') ? true : undefined));
    expect(await caBundle()).toBe(ca);
  });

  it('uninstall removes the webhook configuration and the certificate Secret', async () => {
    await kubectl(['-n', NS, 'rollout', 'status', 'deployment/traffic-manager', '--timeout=120s']);
    expect(await kubectl(['-n', NS, 'get', 'secret', 'traffic-manager-webhook-tls', '-o', 'name'])).toContain('secret/traffic-manager-webhook-tls');
    const r = await install('uninstall');
    expect(r.removed).toEqual(expect.arrayContaining([`MutatingWebhookConfiguration/${MWC}`, 'Secret/traffic-manager-webhook-tls']));
    expect(await kubectl(['get', 'mutatingwebhookconfiguration', '-o', 'name'])).not.toContain(MWC);
  });
});
