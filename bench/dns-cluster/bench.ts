// Cluster DNS benchmark, against the embedded test cluster. Lookup latency
// and rate of a cluster name through the workstation's system resolver (systemd-resolved's stub
// 127.0.0.53 → our resolver on tel0 → the manager → CoreDNS), against CoreDNS queried directly
// from the node namespace, measured in this same run; results in bench/results/dns-cluster.json.
// Goals: p50 ≤ 2× direct, p99 ≤ 10 ms with a warm cache, sustained ≥ 5,000 queries/s.
// Prerequisite: `bash scripts/main.sh` (dist/ built for the cluster's registry, orders.shop deployed).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { readBuildInfo, workspaceRoot } from '@tel/genversion';

const root = workspaceRoot();
const QUERIES = Number(process.env.BENCH_DNS_QUERIES ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_DNS_CONCURRENCY ?? 32);

/** A client that sends QUERIES A lookups for `name` to `server` (UDP, via node's c-ares resolver). */
const client = (server: string, name: string) => `
const { Resolver } = require('node:dns').promises;
const r = new Resolver({ timeout: 2000, tries: 1 }); r.setServers([${JSON.stringify(server)}]);
const lat = []; let fail = 0, next = 0;
(async () => {
  for (let i = 0; i < 200; i++) await r.resolve4(${JSON.stringify(name)}).catch(() => {}); // warm caches
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: ${CONCURRENCY} }, async () => {
    while (next++ < ${QUERIES}) { const s = process.hrtime.bigint(); try { await r.resolve4(${JSON.stringify(name)}); lat.push(Number(process.hrtime.bigint() - s) / 1e6); } catch { fail++; } }
  }));
  const sec = Number(process.hrtime.bigint() - t0) / 1e9; lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  console.log(JSON.stringify({ p50Ms: q(0.5), p99Ms: q(0.99), qps: lat.length / sec, fail }));
})();`;

async function run(cluster: ClusterInfo, where: 'ws' | 'node', script: string): Promise<{ p50Ms: number; p99Ms: number; qps: number; fail: number }> {
  const r = where === 'ws' ? await cluster.wsExec('node', ['-e', script], { timeoutMs: 300_000 }) : await cluster.nodeExec('node', ['-e', script], { timeoutMs: 300_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new Error(`client failed (${r.code}): ${r.stderr || r.stdout}`);
  }
}

async function main() {
  const cluster = await ensureClusterUp();
  const info = readBuildInfo(root);
  if (info.registry !== cluster.registry) throw new Error(`dist/ was built for ${info.registry}; run 'bash scripts/main.sh' first`);
  const home = join(cluster.stateDir, 'bench-user');
  const env: NodeJS.ProcessEnv = {
    HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config'),
    TELEPRESENCE_ROOT_RUN_DIR: join(home, 'rootrun'), KUBECONFIG: cluster.adminKubeconfig,
  };
  for (const d of [env.XDG_RUNTIME_DIR!, env.XDG_CACHE_HOME!, env.XDG_CONFIG_HOME!, env.TELEPRESENCE_ROOT_RUN_DIR!]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const tp = (...args: string[]) => cluster.wsExec('node', [join(root, 'dist', 'apps', 'cli', 'main.js'), ...args], { env, timeoutMs: 300_000 });
  const up = await tp('helm', 'upgrade');
  if (up.code !== 0) throw new Error(`helm upgrade failed: ${up.stderr}`);
  const c = await tp('connect');
  if (c.code !== 0) throw new Error(`connect failed: ${c.stderr}`);
  try {
    const name = 'orders.shop.svc.cluster.local';
    const via = await run(cluster, 'ws', client('127.0.0.53', name));
    const direct = await run(cluster, 'node', client('198.19.0.10', name));
    const rows = {
      viaSystemResolver: via,
      coreDnsDirect: direct,
      p50Ratio: via.p50Ms / direct.p50Ms,
      goals: { p50AtMost2xDirect: via.p50Ms <= 2 * direct.p50Ms, p99AtMost10ms: via.p99Ms <= 10, atLeast5000qps: via.qps >= 5000 },
    };
    process.stdout.write(`through the system resolver: p50 ${via.p50Ms.toFixed(2)} ms, p99 ${via.p99Ms.toFixed(2)} ms, ${via.qps.toFixed(0)} q/s (${via.fail} failed)\n`);
    process.stdout.write(`CoreDNS direct (node ns):    p50 ${direct.p50Ms.toFixed(2)} ms, p99 ${direct.p99Ms.toFixed(2)} ms, ${direct.qps.toFixed(0)} q/s (${direct.fail} failed)\n`);
    process.stdout.write(`p50 ratio ${rows.p50Ratio.toFixed(2)}× (goal ≤ 2×), p99 ${via.p99Ms.toFixed(2)} ms (goal ≤ 10), ${via.qps.toFixed(0)} q/s (goal ≥ 5000)\n`);
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'dns-cluster.json'), JSON.stringify({ date: new Date().toISOString(), queries: QUERIES, concurrency: CONCURRENCY, ...rows }, null, 2) + '\n');
  } finally {
    await tp('quit', '-s');
  }
}

await main();
