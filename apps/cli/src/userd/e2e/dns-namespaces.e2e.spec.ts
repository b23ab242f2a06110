// The DNS namespace feed (userd/dns-namespaces.ts) against the real test cluster's API server, from
// the workstation namespace, with the developer's credentials (list/watch namespaces, read
// services): a namespace created or deleted reaches `send` within 2 s; a namespace named like a
// public suffix (`aero`) carries its services.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { kubectlAsAdmin } from './harness.js';

const NS = `tel-dnsfeed-e2e-${process.pid}`;
/** An ICANN public suffix nobody else uses as a namespace in the test cluster. */
const PS_NS = 'aero';
const feedModule = resolve(import.meta.dirname, '../dns-namespaces.ts');

let cluster: ClusterInfo;
let dir: string;

const kubectl = (args: string[], input?: string) => kubectlAsAdmin(cluster, args, input);

/**
 * Runs in the workstation namespace: starts the feed as the developer, then creates and deletes
 * namespaces (as admin) and reports, per step, how long until `send` saw the change.
 */
const driver = (developerKubeconfig: string, adminKubeconfig: string) => `
import { execFileSync } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { kubectlAsAdmin } from './harness.js';
const { startNamespaceFeed } = await import(${JSON.stringify(feedModule)});
const kc = new KubeConfig();
kc.loadFromFile(${JSON.stringify(developerKubeconfig)});
const sends = [];
const feed = startNamespaceFeed(kc, async (list) => void sends.push({ at: Date.now(), list }), {});
/** The first send at or after \`since\` whose list satisfies \`pred\`. */
const until = async (pred, since, ms) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = sends.find((x) => x.at >= since && pred(x.list));
    if (s) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
};
const k = (...args) => execFileSync('kubectl', ['--kubeconfig', ${JSON.stringify(adminKubeconfig)}, ...args], { encoding: 'utf8' });
const has = (name) => (list) => list.some((n) => n.name === name);
const result = {};
const first = await until(has('default'), 0, 10000);
result.initial = first ? first.list.map((n) => n.name) : null;
let t = Date.now();
k('create', 'namespace', ${JSON.stringify(NS)});
let s = await until(has(${JSON.stringify(NS)}), t, 5000);
result.createdMs = s ? s.at - t : null;
t = Date.now();
k('delete', 'namespace', ${JSON.stringify(NS)}, '--wait=false');
s = await until((l) => !has(${JSON.stringify(NS)})(l), t, 5000);
result.deletedMs = s ? s.at - t : null;
feed.stop();
console.log(JSON.stringify(result));
process.exit(0);
`;

beforeAll(async () => {
  cluster = await ensureClusterUp();
  dir = mkdtempSync(join(tmpdir(), 'tel-dnsfeed-e2e-'));
  // The driver scripts live here; bare imports (@kubernetes/client-node) resolve from the workspace.
  symlinkSync(resolve(import.meta.dirname, '../../../../../node_modules'), join(dir, 'node_modules'));
  await kubectl(['delete', 'namespace', NS, PS_NS, '--ignore-not-found', '--wait=true']);
}, 300_000);

afterAll(async () => {
  if (cluster) await kubectl(['delete', 'namespace', NS, PS_NS, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('namespace feed against the test cluster (developer credentials)', () => {
  it('sends the initial list, then a created and a deleted namespace within 2 s each', async () => {
    const script = join(dir, 'driver.mts');
    writeFileSync(script, driver(cluster.developerKubeconfig, cluster.adminKubeconfig));
    const r = await cluster.wsExec('node', ['--import', 'tsx', script], { timeoutMs: 60_000, cwd: resolve(import.meta.dirname, '../../../../..') });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { initial: string[] | null; createdMs: number | null; deletedMs: number | null };
    console.info(`namespace feed: created seen after ${result.createdMs} ms, deleted after ${result.deletedMs} ms`);
    expect(result.initial).toEqual(expect.arrayContaining(['default', 'kube-system', cluster.managerNamespace]));
    expect(result.createdMs).not.toBeNull();
    expect(result.createdMs!).toBeLessThan(2_000);
    expect(result.deletedMs).not.toBeNull();
    expect(result.deletedMs!).toBeLessThan(2_000);
  }, 120_000);

  it('a public-suffix namespace comes with its service names', async () => {
    await kubectl(['create', 'namespace', PS_NS]);
    await kubectl(['create', 'service', 'clusterip', 'my-svc', '-n', PS_NS, '--tcp=80:80']);
    const script = join(dir, 'ps.mts');
    writeFileSync(
      script,
      `import { KubeConfig } from '@kubernetes/client-node';
       const { startNamespaceFeed } = await import(${JSON.stringify(feedModule)});
       const kc = new KubeConfig(); kc.loadFromFile(${JSON.stringify(cluster.developerKubeconfig)});
       const t0 = Date.now();
       const feed = startNamespaceFeed(kc, async (list) => {
         const ps = list.find((n) => n.name === ${JSON.stringify(PS_NS)});
         if (ps && ps.services?.includes('my-svc')) { console.log(JSON.stringify({ ps, ms: Date.now() - t0, plain: list.find((n) => n.name === 'default') })); feed.stop(); process.exit(0); }
       }, {});
       setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(0); }, 10000);`,
    );
    const r = await cluster.wsExec('node', ['--import', 'tsx', script], { timeoutMs: 60_000, cwd: resolve(import.meta.dirname, '../../../../..') });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ps?: { name: string; services: string[] }; plain?: unknown; timeout?: boolean };
    expect(out.timeout).toBeUndefined();
    expect(out.ps).toEqual({ name: PS_NS, services: ['my-svc'] });
    expect(out.plain).toEqual({ name: 'default' });
  }, 120_000);
});
