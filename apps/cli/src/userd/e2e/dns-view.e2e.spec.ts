// Cluster names answered from the user daemon's view of Services (userd/dns-cluster-names.ts →
// root daemon dns/view.ts), against the shared test cluster, through the system resolver of the
// workstation namespace (getaddrinfo → systemd-resolved's stub → our resolver): a Service created,
// changed to headless and deleted is followed within 1 s; names the view cannot answer (pod form,
// ExternalName chain) still resolve; users who may not list EndpointSlices or Services keep
// working through the cluster path and `status` says so.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkloadManifest, ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { buildVersion, cliRunner, kubectlAsAdmin, pushManager, removeManager, userEnv, type Build, type Tp } from './harness.js';

const RUN = Date.now().toString(36);
const V = `v2.92.0-e2e.${RUN}`;
const NS = 'tel-dnsview-e2e';
/** A user the test grants only what connecting needs: no Services, no EndpointSlices. */
const NO_SVC_USER = 'tel-dnsview-nosvc';

let cluster: ClusterInfo;
let dir: string;
let build: Build;
let podIp: string;
let demoIp: string;
const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);
const measured: Record<string, unknown> = {};

const headless = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec:
  clusterIP: None
  selector: {app: demo}
  ports:
  - {name: http, port: 8080, protocol: TCP}
`;

/**
 * Runs on the workstation as one node process (so each step's time is not a process start):
 * creates, changes and deletes a Service as the admin and times how long until getaddrinfo
 * (the system resolver) shows each change.
 */
const lifecycleDriver = `
const { execFileSync } = require('node:child_process');
const dns = require('node:dns').promises;
const NS = ${JSON.stringify(NS)};
const k = (args, input) => execFileSync('kubectl', args, { input, encoding: 'utf8' });
const look = async (name) => { try { return (await dns.lookup(name, { all: true, family: 4 })).map((a) => a.address).sort().join(','); } catch (e) { return e.code; } };
const until = async (name, want, ms = 5000) => {
  const t0 = Date.now();
  for (;;) {
    const r = await look(name);
    if (r === want) return Date.now() - t0;
    if (Date.now() - t0 > ms) return 'still ' + r;
    await new Promise((res) => setTimeout(res, 5));
  }
};
(async () => {
  const out = {};
  const name = 'fresh.' + NS;
  out.before = await look(name); // resolved may now hold an NXDOMAIN for it
  k(['create', 'service', 'clusterip', 'fresh', '-n', NS, '--tcp=80:80']);
  const ip = k(['get', 'service', 'fresh', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']).trim();
  out.createdMs = await until(name, ip);
  k(['delete', 'service', 'fresh', '-n', NS, '--wait=true']);
  k(['apply', '-f', '-'], process.env.HEADLESS);
  out.headlessMs = await until(name, process.env.POD_IP);
  k(['delete', 'service', 'fresh', '-n', NS, '--wait=true']);
  out.deletedMs = await until(name, 'ENOTFOUND');
  console.log(JSON.stringify(out));
})();
`;

async function lookup(name: string): Promise<string> {
  const r = await cluster.wsExec('node', ['-e', `require('node:dns').promises.lookup(${JSON.stringify(name)}, { all: true, family: 4 }).then((a) => console.log(a.map((x) => x.address).sort().join(',')), (e) => console.log(e.code))`], { timeoutMs: 20_000 });
  return r.stdout.trim();
}

/** The view's status as `telepresence status -o json` reports it. */
async function viewStatus(tp: Tp): Promise<{ path: string; fallback: string[]; stats: { answered: number; nxdomain: number; passed: number } }> {
  const s = await tp('status', '--output', 'json');
  expect(s.code, s.stderr).toBe(0);
  return s.json.root_daemon?.dns_view;
}

async function connectAs(kubeconfig: string, who: string): Promise<Tp> {
  const tp = cliRunner(cluster, build, userEnv(join(dir, who), cluster.registry), kubeconfig);
  const c = await tp('connect', '--namespace', NS, '--output', 'json');
  expect(c.code, c.stdout + c.stderr).toBe(0);
  measured[`${who}ConnectMs`] = c.ms;
  return tp;
}

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-dnsview-e2e-'));
  build = await buildVersion(join(dir, 'dist'), V, cluster.registry);
  await pushManager(build, join(dir, 'dist'));
  // A development build refuses a manager of another development build: connect installs ours.
  await removeManager(cluster);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(['apply', '-f', '-'], demoWorkloadManifest({ image: cluster.demoServerImage, namespace: NS }));
  await kubectl(['rollout', 'status', 'deployment/demo', '-n', NS, '--timeout=150s']);
  podIp = (await kubectl(['get', 'pods', '-n', NS, '-l', 'app=demo', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
  demoIp = (await kubectl(['get', 'service', 'demo', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  await kubectl(['apply', '-f', '-'], headless('demo-hs') + `---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ${NS}}
spec: {type: ExternalName, externalName: demo.${NS}.svc.cluster.local}
`);
}, 900_000);

afterAll(async () => {
  process.stderr.write(`dns view e2e measured: ${JSON.stringify(measured)}\n`);
  if (cluster) {
    await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', 'clusterrole,clusterrolebinding', NO_SVC_USER, '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', 'role,rolebinding', NO_SVC_USER, '-n', cluster.managerNamespace, '--ignore-not-found']).catch(() => undefined);
    await removeManager(cluster).catch(() => undefined);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 300_000);

describe('cluster names from the watched view (shared test cluster, system resolver)', () => {
  it('admin: a Service created, changed to headless and deleted is followed within 1 s each', async () => {
    const tp = await connectAs(cluster.adminKubeconfig, 'admin');
    try {
      const before = await viewStatus(tp);
      expect(before.path, JSON.stringify(before)).toBe('local');
      const r = await cluster.wsExec('node', ['-e', lifecycleDriver], { env: { KUBECONFIG: cluster.adminKubeconfig, HEADLESS: headless('fresh'), POD_IP: podIp }, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
      measured.lifecycle = out;
      expect(out.before).toBe('ENOTFOUND');
      for (const step of ['createdMs', 'headlessMs', 'deletedMs']) {
        expect(typeof out[step], `${step}: ${out[step]}`).toBe('number');
        expect(out[step] as number, step).toBeLessThan(1_000);
      }
      // Names the view does not answer still resolve through the cluster path.
      expect(await lookup(`${podIp.replace(/\./g, '-')}.${NS}.pod.cluster.local`)).toBe(podIp);
      expect(await lookup(`ext.${NS}`)).toBe(demoIp);
      expect(await lookup(`demo-hs.${NS}`)).toBe(podIp);
      expect(await lookup(`nothing-here.${NS}`)).toBe('ENOTFOUND');
      const after = await viewStatus(tp);
      expect(after.stats.answered).toBeGreaterThan(before.stats.answered);
      expect(after.stats.nxdomain).toBeGreaterThan(before.stats.nxdomain);
      expect(after.stats.passed).toBeGreaterThan(before.stats.passed);
    } finally {
      await tp('quit', '-s');
    }
  }, 600_000);

  it('the developer (no EndpointSlices): Services from the view, headless ones through the cluster path; status says why', async () => {
    const tp = await connectAs(cluster.developerKubeconfig, 'dev');
    try {
      const v = await viewStatus(tp);
      expect(v.path, JSON.stringify(v)).toBe('mixed');
      expect(v.fallback.join('\n')).toMatch(/EndpointSlices/);
      expect(await lookup(`demo.${NS}`)).toBe(demoIp);
      expect(await lookup(`demo-hs.${NS}`)).toBe(podIp);
      const after = await viewStatus(tp);
      expect(after.stats.answered).toBeGreaterThan(v.stats.answered);
      expect(after.stats.passed).toBeGreaterThan(v.stats.passed);
    } finally {
      await tp('quit', '-s');
    }
  }, 600_000);

  it('a user who may not list Services: every name through the cluster path, status says why', async () => {
    // Only what connecting needs (namespaces; the manager's Deployment, pods and port-forward), as the admin
    // impersonating a user of its own.
    const subject = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: NO_SVC_USER }];
    const meta = { name: NO_SVC_USER };
    const nsMeta = { name: NO_SVC_USER, namespace: cluster.managerNamespace };
    const rbac = [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NO_SVC_USER }, subjects: subject },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: nsMeta,
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['pods/portforward'], verbs: ['create'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
        ],
      },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: nsMeta, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NO_SVC_USER }, subjects: subject },
    ];
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
    const doc = load(readFileSync(cluster.adminKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    for (const u of doc.users) u.user.as = NO_SVC_USER;
    const kubeconfig = join(dir, 'nosvc.kubeconfig');
    writeFileSync(kubeconfig, dump(doc), { mode: 0o644 });
    const tp = await connectAs(kubeconfig, 'nosvc');
    try {
      const v = await viewStatus(tp);
      expect(v.fallback.join('\n'), JSON.stringify(v)).toMatch(/not allowed to list Services cluster-wide/);
      expect(await lookup(`demo.${NS}`)).toBe(demoIp);
      expect(await lookup(`demo-hs.${NS}`)).toBe(podIp);
      expect(await lookup(`nothing-here.${NS}`)).toBe('ENOTFOUND');
      const after = await viewStatus(tp);
      expect(after.path).toBe('cluster');
      expect(after.stats.answered).toBe(0);
    } finally {
      await tp('quit', '-s');
    }
  }, 600_000);
});
