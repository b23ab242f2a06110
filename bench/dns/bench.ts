// Cluster DNS benchmark for the workstation resolver alone (on loopback). Latency p50/p99 and queries/s of
// our resolver against the same DNS servers queried directly, in this same run:
//   upstream name through the resolver   vs the upstream server directly (forwarding overhead)
//   cluster name, cache hit              vs the cluster DNS directly
//   cluster name, cache miss (TTL 0)     vs the cluster DNS directly (mapping + re-encode overhead)
// Load generator, DNS servers and resolver run in separate processes, on loopback with real UDP
// sockets; results to bench/results/dns.json.
// Run: node --import tsx bench/dns/bench.ts   (BENCH_QUERIES, BENCH_CONCURRENCY to change the load)
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import dnsPacket from 'dns-packet';

const QUERIES = Number(process.env.BENCH_QUERIES ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
/** Each figure is the median of this many alternating runs (the machine is shared and noisy). */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const here = dirname(fileURLToPath(import.meta.url));

interface Run {
  p50Ms: number;
  p99Ms: number;
  qps: number;
  lost: number;
}

/** Closed-loop load: CONCURRENCY queries in flight on one socket until QUERIES answered or lost. */
async function load(target: { host: string; port: number }, name: string): Promise<Run> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  sock.setRecvBufferSize(4 << 20);
  const lat: number[] = [];
  const inflight = new Map<number, number>();
  let sent = 0;
  let lost = 0;
  let nextId = 0;
  const query = (id: number) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const t0 = performance.now();
  await new Promise<void>((done) => {
    const send = () => {
      if (sent >= QUERIES) {
        if (inflight.size === 0) done();
        return;
      }
      const id = nextId++ & 0xffff;
      sent++;
      inflight.set(id, performance.now());
      sock.send(query(id), target.port, target.host);
    };
    sock.on('message', (m) => {
      const id = m.readUInt16BE(0);
      const t = inflight.get(id);
      if (t === undefined) return;
      inflight.delete(id);
      lat.push(performance.now() - t);
      send();
    });
    // Lost datagrams: anything in flight for over a second is counted and replaced.
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (const [id, t] of inflight) {
        if (now - t > 1_000) {
          inflight.delete(id);
          lost++;
          send();
        }
      }
      if (sent >= QUERIES && inflight.size === 0) {
        clearInterval(sweeper);
        done();
      }
    }, 100);
    for (let i = 0; i < CONCURRENCY; i++) send();
  });
  const secs = (performance.now() - t0) / 1000;
  sock.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))] ?? NaN;
  return { p50Ms: pct(50), p99Ms: pct(99), qps: lat.length / secs, lost };
}

/** Median of each figure separately. */
function medianRun(runs: Run[]): Run {
  const med = (f: (r: Run) => number) => [...runs.map(f)].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return { p50Ms: med((r) => r.p50Ms), p99Ms: med((r) => r.p99Ms), qps: med((r) => r.qps), lost: runs.reduce((n, r) => n + r.lost, 0) };
}

const children: ChildProcess[] = [];
/** Start bench/dns/serve.ts in its own process; resolves with the JSON line it prints. */
function serve(...args: string[]): Promise<any> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'serve.ts'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
    });
    child.once('exit', (code) => reject(new Error(`serve.ts ${args.join(' ')} exited ${code}`)));
  });
}

async function main() {
  const zones = (await serve('zones')) as { cluster: number; upstream: number };
  const cluster = { host: '127.0.0.1', port: zones.cluster };
  const upstream = { host: '127.0.0.1', port: zones.upstream };
  const resolver = { host: '127.0.0.1', port: ((await serve('resolver', String(zones.cluster), String(zones.upstream))) as { port: number }).port };
  const rows: Record<string, unknown>[] = [];
  const pair = async (label: string, viaName: string, directTarget: { host: string; port: number }, directName: string, baselineName: string) => {
    await load(resolver, viaName); // warm-up (JIT, cache)
    const bases: Run[] = [];
    const vias: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      bases.push(await load(directTarget, directName));
      vias.push(await load(resolver, viaName));
    }
    const base = medianRun(bases);
    const via = medianRun(vias);
    const row = { name: label, via, baseline: base, baselineName, p50Ratio: via.p50Ms / base.p50Ms, p99Ratio: via.p99Ms / base.p99Ms, qpsRatio: via.qps / base.qps };
    rows.push(row);
    console.log(
      `${label.padEnd(34)} p50 ${via.p50Ms.toFixed(3)} ms (x${row.p50Ratio.toFixed(2)})  p99 ${via.p99Ms.toFixed(3)} ms (x${row.p99Ratio.toFixed(2)})  ${via.qps.toFixed(0)} q/s (x${row.qpsRatio.toFixed(2)} of ${baselineName}: ${base.qps.toFixed(0)} q/s)  lost ${via.lost}`,
    );
  };
  await pair('upstream name via resolver', 'www.example.com', upstream, 'www.example.com', 'upstream direct');
  await pair('cluster name via resolver (cached)', 'cached.default', cluster, 'cached.default.svc.cluster.local', 'cluster DNS direct');
  await pair('cluster name via resolver (uncached)', 'uncached.default', cluster, 'uncached.default.svc.cluster.local', 'cluster DNS direct');
  for (const c of children) c.stdin?.end();
  const out = join(here, '..', 'results', 'dns.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, queries: QUERIES, concurrency: CONCURRENCY, runs: RUNS, rows }, null, 2) + '\n');
  console.log(`results written to ${out}`);
}

main().catch((err) => {
  console.error(err);
  for (const c of children) c.kill();
  process.exit(1);
});
