// Cluster DNS benchmark against the embedded test cluster: lookups through the workstation's
// system resolver (systemd-resolved's stub 127.0.0.53 → our resolver on tel0 → the Service view,
// or the manager → CoreDNS) beside CoreDNS queried directly from the node namespace in the same run.
// Every row but the labelled cache-hit one asks each name once, so resolved's cache cannot answer
// it; `resolvectl statistics` deltas per row show which path the lookups took.
// Latency rows ask one name at a time (what an application waits for); rate rows CONCURRENCY at a
// time. Goals (issue 15): uncached p50 ≤ 2× CoreDNS direct, p99 ≤ 3 ms, first lookup after connect
// ≤ 5 ms, ≥ 5,000 uncached q/s. Results: bench/results/dns-cluster.json.
// Prerequisite: dist/ built for the cluster's registry and the image pushed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';

const root = workspaceRoot();
const NS = 'tel-bench-dns';
/** Distinct Services (each looked up once per row that uses them). */
const SERVICES = Number(process.env.BENCH_DNS_SERVICES ?? 1000);
/** Endpoint hostnames of one headless Service (`e<i>.hs.<ns>`): many distinct existing names cheaply. */
const ENDPOINTS = Number(process.env.BENCH_DNS_ENDPOINTS ?? 10_000);
const NXDOMAIN = Number(process.env.BENCH_DNS_NXDOMAIN ?? 5_000);
const CACHED = Number(process.env.BENCH_DNS_CACHED ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_DNS_CONCURRENCY ?? 32);
const FIRST_ROUNDS = Number(process.env.BENCH_DNS_FIRST_ROUNDS ?? 5);
const CLUSTER_DNS = '198.19.0.10';

interface Names {
  prefix: string;
  /** Ends with a dot: a fully qualified name, so no search domain is tried after an NXDOMAIN. */
  suffix: string;
  count: number;
  /** First index (rows that measure latency and rate use disjoint names). */
  start?: number;
  /** The same name `count` times instead of `prefix<i>suffix`. */
  same?: boolean;
}
interface Row {
  p50Ms: number;
  p99Ms: number;
  qps: number;
  n: number;
  fail: number;
  nxdomain: number;
}

/** Looks the names up over UDP at `server` with node's c-ares resolver, CONCURRENCY at a time. */
const client = (server: string, names: Names, expectNx: boolean, concurrency: number, warm = true) => `
const { Resolver } = require('node:dns').promises;
const r = new Resolver({ timeout: 2000, tries: 1 }); r.setServers([${JSON.stringify(server)}]);
const N = ${JSON.stringify(names)};
const name = (i) => N.same ? N.prefix + N.suffix : N.prefix + (i + (N.start || 0)) + N.suffix;
const lat = []; let fail = 0, nx = 0, next = 0;
(async () => {
  if (${warm}) for (let i = 0; i < 20; i++) await r.resolve4('kubernetes.default.svc.cluster.local').catch(() => {}); // sockets, not names
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: ${concurrency} }, async () => {
    for (let i = next++; i < N.count; i = next++) {
      const s = process.hrtime.bigint();
      try { await r.resolve4(name(i)); lat.push(Number(process.hrtime.bigint() - s) / 1e6); }
      catch (e) { if (e.code === 'ENOTFOUND') { nx++; lat.push(Number(process.hrtime.bigint() - s) / 1e6); } else fail++; }
    }
  }));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9; lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  console.log(JSON.stringify({ p50Ms: q(0.5), p99Ms: q(0.99), qps: lat.length / sec, n: lat.length, fail: fail + (${expectNx} ? lat.length - nx : nx), nxdomain: nx }));
})();`;

async function run(cluster: ClusterInfo, where: 'ws' | 'node', script: string): Promise<Row> {
  const r = where === 'ws' ? await cluster.wsExec('node', ['-e', script], { timeoutMs: 300_000 }) : await cluster.nodeExec('node', ['-e', script], { timeoutMs: 300_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new Error(`client failed (${r.code}): ${r.stderr || r.stdout}`);
  }
}

/** resolved's counters on the workstation. */
async function resolvedStats(cluster: ClusterInfo): Promise<{ transactions: number; cacheHits: number; cacheMisses: number }> {
  const r = await cluster.wsExec('resolvectl', ['statistics'], { timeoutMs: 15_000 });
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(r.stdout)?.[1] ?? NaN);
  return { transactions: num('Total Transactions'), cacheHits: num('Cache Hits'), cacheMisses: num('Cache Misses') };
}

async function kubectl(cluster: ClusterInfo, args: string[], input?: string): Promise<string> {
  const r = await cluster.wsExec('kubectl', args, { env: { KUBECONFIG: cluster.adminKubeconfig }, timeoutMs: 600_000, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** SERVICES ClusterIP Services and one headless Service without selector whose slices name ENDPOINTS hosts. */
async function createNames(cluster: ClusterInfo): Promise<void> {
  await kubectl(cluster, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  await kubectl(cluster, ['create', 'namespace', NS]);
  const items: object[] = [];
  for (let i = 0; i < SERVICES; i++) items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}`, namespace: NS }, spec: { ports: [{ name: 'http', port: 80 }] } });
  items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'hs', namespace: NS }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } });
  for (let s = 0; s * 1000 < ENDPOINTS; s++) {
    const endpoints = Array.from({ length: Math.min(1000, ENDPOINTS - s * 1000) }, (_, j) => {
      const i = s * 1000 + j;
      return { addresses: [`10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`], hostname: `e${i}`, conditions: { ready: true } };
    });
    items.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `hs-${s}`, namespace: NS, labels: { 'kubernetes.io/service-name': 'hs' } }, addressType: 'IPv4', ports: [{ name: 'http', port: 80 }], endpoints });
  }
  await kubectl(cluster, ['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
}

const fmt = (r: Row) => `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.qps.toFixed(0)} q/s, n ${r.n} (${r.fail} unexpected)`;

async function main() {
  const cluster = await ensureClusterUp();
  const info = readBuildInfo(root);
  if (info.registry !== cluster.registry) throw new Error(`dist/ was built for ${info.registry}; build for ${cluster.registry} first`);
  const home = join(cluster.stateDir, 'bench-user');
  const env: NodeJS.ProcessEnv = {
    HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config'),
    TELEPRESENCE_ROOT_RUN_DIR: join(home, 'rootrun'), KUBECONFIG: cluster.adminKubeconfig,
  };
  for (const d of [env.XDG_RUNTIME_DIR!, env.XDG_CACHE_HOME!, env.XDG_CONFIG_HOME!, env.TELEPRESENCE_ROOT_RUN_DIR!]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const tp = (...args: string[]) => cluster.wsExec('node', [join(root, 'dist', 'apps', 'cli', 'main.js'), ...args], { env, timeoutMs: 300_000 });
  await tp('quit', '-s');
  const up = await tp('helm', 'upgrade');
  if (up.code !== 0) throw new Error(`helm upgrade failed: ${up.stderr}`);
  process.stdout.write(`creating ${SERVICES} Services and ${ENDPOINTS} endpoint names in ${NS}\n`);
  await createNames(cluster);

  // First lookup right after connect: a name nobody asked before, timed inside one process that
  // starts as soon as connect returned.
  const first: number[] = [];
  for (let round = 0; round < FIRST_ROUNDS; round++) {
    const c = await tp('connect', '--namespace', NS);
    if (c.code !== 0) throw new Error(`connect failed: ${c.stderr}`);
    const r = await run(cluster, 'ws', client('127.0.0.53', { prefix: `s${round}.${NS}.svc.cluster.local.`, suffix: '', count: 1, same: true }, false, 1, false));
    first.push(r.p50Ms);
    if (round < FIRST_ROUNDS - 1) await tp('quit');
  }
  first.sort((a, b) => a - b);
  const firstAfterConnect = { medianMs: first[Math.floor(first.length / 2)]!, maxMs: first[first.length - 1]!, rounds: first };
  process.stdout.write(`first lookup after connect: median ${firstAfterConnect.medianMs.toFixed(2)} ms, max ${firstAfterConnect.maxMs.toFixed(2)} ms\n`);

  try {
    type Measured = { label: string; concurrency: number; via: Row; direct: Row; resolved: Record<string, number>; p50Ratio: number };
    const rows: Record<string, Measured> = {};
    const measure = async (key: string, label: string, names: Names, concurrency: number, nx = false) => {
      const before = await resolvedStats(cluster);
      const via = await run(cluster, 'ws', client('127.0.0.53', names, nx, concurrency));
      const after = await resolvedStats(cluster);
      const direct = await run(cluster, 'node', client(CLUSTER_DNS, names, nx, concurrency));
      const resolved = { transactions: after.transactions - before.transactions, cacheHits: after.cacheHits - before.cacheHits, cacheMisses: after.cacheMisses - before.cacheMisses };
      rows[key] = { label, concurrency, via, direct, resolved, p50Ratio: via.p50Ms / direct.p50Ms };
      process.stdout.write(`${label} [${concurrency} at a time]\n  through the system resolver: ${fmt(via)}\n  CoreDNS direct (node ns):    ${fmt(direct)}\n  p50 ${rows[key]!.p50Ratio.toFixed(2)}× direct; resolved: ${resolved.cacheMisses} cache misses, ${resolved.cacheHits} cache hits (the warm-up asks one name 20 times)\n`);
    };
    const svc = `.${NS}.svc.cluster.local.`;
    // Latency: one lookup at a time (what an application waits for); rate: CONCURRENCY at a time.
    const half = Math.floor(ENDPOINTS / 5);
    await measure('uniqueServices', `unique Service names (${SERVICES} Services, each asked once)`, { prefix: 's', suffix: svc, count: SERVICES }, 1);
    await measure('uniqueEndpointNames', `unique existing names (${half} hostnames of a headless Service, each asked once)`, { prefix: 'e', suffix: `.hs${svc}`, count: half }, 1);
    await measure('nxdomain', `NXDOMAIN in a cluster namespace (${half} names, each asked once)`, { prefix: 'missing-', suffix: svc, count: half }, 1, true);
    await measure('uniqueRate', `rate, unique existing names (${ENDPOINTS - half} other hostnames, each asked once)`, { prefix: 'e', suffix: `.hs${svc}`, count: ENDPOINTS - half, start: half }, CONCURRENCY);
    await measure('nxdomainRate', `rate, NXDOMAIN (${NXDOMAIN} other names, each asked once)`, { prefix: 'missing-', suffix: svc, count: NXDOMAIN, start: half }, CONCURRENCY, true);
    await measure('podForm', 'pod-form names, answered through the cluster path (250, each asked once)', { prefix: '10-244-9-', suffix: `.${NS}.pod.cluster.local.`, count: 250 }, 1);
    await measure('cacheHit', `CACHE HIT: one name ${CACHED} times (answered by resolved's cache, not by us)`, { prefix: `s0${svc}`, suffix: '', count: CACHED, same: true }, CONCURRENCY);

    const u = [rows.uniqueServices!, rows.uniqueEndpointNames!, rows.nxdomain!];
    const goals = {
      uncachedP50AtMost2xDirect: u.every((r) => r.via.p50Ms <= 2 * r.direct.p50Ms),
      uncachedP99AtMost3ms: u.every((r) => r.via.p99Ms <= 3),
      firstLookupAfterConnectAtMost5ms: firstAfterConnect.medianMs <= 5,
      uncachedAtLeast5000qps: rows.uniqueRate!.via.qps >= 5000 && rows.nxdomainRate!.via.qps >= 5000,
      noUnexpectedAnswers: Object.values(rows).every((r) => r.via.fail === 0),
    };
    process.stdout.write(`goals: ${JSON.stringify(goals)}\n`);
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'dns-cluster.json'), JSON.stringify({ date: new Date().toISOString(), version: info.version, concurrency: CONCURRENCY, firstAfterConnect, rows, goals }, null, 2) + '\n');
  } finally {
    await tp('quit', '-s');
    await kubectl(cluster, ['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  }
}

await main();
