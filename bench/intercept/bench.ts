// Intercept benchmark, against the embedded test cluster; every figure is printed with a ratio
// against a baseline or target measured or fixed in this same run, and all are written to
// bench/results/intercept.json.
//   first intercept (agent injected, pods rolled) until a cluster request reaches the workstation  ≤ 3 s
//   re-intercept with the agent present                                                            ≤ 0.1 s
//   added latency, in-cluster client → Service → workstation vs the same request to the pod
//     (before any agent): p50 ≤ 2 ms keep-alive, ≤ 5 ms new connection; p99 reported
//   bulk pod-client ← workstation through the intercept vs kubectl port-forward to the same pod   ≥ 1.5×
//   200 concurrent intercepted connections all served; agent RSS ≤ 80 MB meanwhile
//   ten rounds of leave + intercept, each as fast as the first re-intercept (no stale path)
// Prerequisite: `bash scripts/main.sh` (or the same build + push) so dist/ and the image exist.
import { benchCluster, benchUser } from '../cluster-bench.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from '@tel/genversion';
import { cpuDelta, cpuSnapshot } from '../connect/cpu.js';
import { agentPids, appManifest, latencyClient, rssMiB } from './world.js';

const root = workspaceRoot();
const NS = 'tel-bench-icpt';
const WS_PORT = 4600;
const BULK_MIB = Number(process.env.BENCH_BULK_MIB ?? 64);
const LAT_N = Number(process.env.BENCH_LATENCY_N ?? 300);

// The app (in the pods, tel2 image's node) and the workstation's server answer alike: `/` a short
// body naming who answered, `/bulk` BULK_MIB MiB, `/slow` after 1 s.
const server = (who: string, port: number, host = '0.0.0.0') => `
const http = require('node:http'); const chunk = Buffer.alloc(1 << 20, 7);
http.createServer((q, s) => {
  if (q.url === '/bulk') { let left = ${BULK_MIB}; const pump = () => { while (left > 0) { left--; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); }; return pump(); }
  if (q.url === '/slow') return setTimeout(() => s.end('${who}'), 1000);
  if (q.url === '/sink') { let n = 0; q.on('data', (c) => (n += c.length)); return q.on('end', () => s.end(String(n))); }
  s.end('${who}');
}).listen(${port}, '${host}');`;


const URL_ = `http://app.${NS}/`;
// Client scripts run in the client pod; each prints one JSON line.
const bulkClient = (url: string) => `
const http = require('node:http'); const t0 = process.hrtime.bigint(); let n = 0;
http.get('${url}', (r) => { r.on('data', (d) => (n += d.length)); r.on('end', () => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ bytes: n, mibps: n / 1048576 / sec })); }); }).on('error', (e) => console.log(JSON.stringify({ error: String(e) })));`;
/** Sends BULK_MIB MiB to `url` (POST /sink): the same direction as an intercept's answers. */
const uploadClient = (url: string) => `
const http = require('node:http'); const chunk = Buffer.alloc(1 << 20, 7); const t0 = process.hrtime.bigint(); let left = ${BULK_MIB};
const q = http.request('${url}', { method: 'POST' }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ bytes: Number(b), mibps: Number(b) / 1048576 / sec })); }); });
const pump = () => { while (left > 0) { left--; if (!q.write(chunk)) return q.once('drain', pump); } q.end(); }; pump();`;
const concurrentClient = (n: number) => `
const http = require('node:http'); let ok = 0, fail = 0, ws = 0; const t0 = Date.now();
Promise.all(Array.from({ length: ${n} }, () => new Promise((res) => { const q = http.get('${URL_}slow', { agent: false, timeout: 30000 }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => { ok++; if (b === 'workstation') ws++; res(); }); }); q.on('error', () => { fail++; res(); }); q.on('timeout', () => q.destroy()); })))
  .then(() => console.log(JSON.stringify({ ok, fail, workstation: ws, seconds: (Date.now() - t0) / 1000 })));`;
/** Polls the Service every 10 ms; prints the epoch ms of the first answer from the workstation. */
const firstArrivalClient = `
const http = require('node:http'); const end = Date.now() + 60000;
const poll = () => { if (Date.now() > end) return console.log(JSON.stringify({ at: -1 }));
  const q = http.get('${URL_}', { agent: false, timeout: 1000 }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => { if (b === 'workstation') console.log(JSON.stringify({ at: Date.now() })); else setTimeout(poll, 10); }); });
  q.on('error', () => setTimeout(poll, 10)); q.on('timeout', () => q.destroy()); };
poll();`;

/** The largest RSS (MiB) of the traffic agents on this machine. */
const agentRss = () => Math.max(0, ...agentPids().map(rssMiB));

async function main() {
  const { cluster, info, kubectl } = await benchCluster();
  const inClient = async (script: string) => {
    const out = await kubectl(['exec', '-n', NS, 'client', '--', '/usr/bin/node', '-e', script]);
    return JSON.parse(out.split('\n').pop()!);
  };
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['apply', '-f', '-'], appManifest({ ns: NS, image: info.image, replicas: 2, server: server('pod', 8080) }));
  await kubectl(['rollout', 'status', '-n', NS, 'deployment/app', '--timeout=120s']);
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', '--timeout=120s']);

  const env = benchUser(cluster, 'bench-icpt-user');
  const cli = join(root, 'dist', 'apps', 'cli', 'main.js');
  const tp = async (...args: string[]) => {
    const t0 = performance.now();
    const r = await cluster.wsExec('node', [cli, ...args], { env, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`telepresence ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  };
  // The workstation's server, from a file (no shell quoting of the script), checked to answer.
  const serverFile = join(env.HOME!, 'ws-server.cjs');
  writeFileSync(serverFile, server('workstation', WS_PORT, '127.0.0.1'));
  const wsServer = await cluster.wsExec('sh', ['-c', `node ${serverFile} >/dev/null 2>&1 & echo $!`], { timeoutMs: 10_000 });
  const wsPid = wsServer.stdout.trim();
  for (let i = 0; ; i++) {
    if ((await cluster.wsExec('curl', ['-s', `http://127.0.0.1:${WS_PORT}/`], { timeoutMs: 5_000 })).stdout === 'workstation') break;
    if (i > 50) throw new Error('the workstation server does not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
  const intercept = ['intercept', 'app', '-n', NS, '--port', `${WS_PORT}:http`, '--output', 'json'];
  /** The user daemon's own time for an intercept (what the command waits for, without the CLI process's start). */
  const daemonSeconds = (r: { stdout: string }) => (JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs / 1000;
  const results: Record<string, unknown> = { date: new Date().toISOString(), version: info.version, bulkMiB: BULK_MIB, latencyRequests: LAT_N };
  try {
    // The cluster's manager becomes this build's (the image pushed for dist/), whatever ran before.
    await tp('helm', 'upgrade');
    await tp('connect');
    // Baselines first: the pods answer, no agent anywhere yet.
    const baseKeep = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 30, keepAlive: true }));
    const baseNew = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 30, keepAlive: false }));
    // kubectl port-forward to one app pod, the workstation downloading: the bulk baseline.
    const pod = await kubectl(['get', 'pods', '-n', NS, '-l', 'app=app', '-o', 'jsonpath={.items[0].metadata.name}']);
    const pf = cluster.wsExec('kubectl', ['port-forward', '-n', NS, `pod/${pod}`, '18080:8080'], { timeoutMs: 600_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const pfBulk = JSON.parse((await cluster.wsExec('node', ['-e', bulkClient('http://127.0.0.1:18080/bulk')], { timeoutMs: 300_000 })).stdout.trim());
    // The same port-forward with the bytes going into the cluster, as an intercept's answers do.
    const pfUpload = JSON.parse((await cluster.wsExec('node', ['-e', uploadClient('http://127.0.0.1:18080/sink')], { timeoutMs: 300_000 })).stdout.trim());
    await cluster.wsExec('pkill', ['-f', `port-forward -n ${NS} pod/${pod}`]);
    await pf.catch(() => undefined);

    // First intercept: a client in the cluster polls while the command runs.
    const t0 = Date.now();
    const arrival = inClient(firstArrivalClient);
    const first = await tp(...intercept);
    const firstArrival = (await arrival).at - t0;
    const agentRssAfterIntercept = agentRss();
    if ((await arrival).at < 0) throw new Error('no request reached the workstation within 60 s of the first intercept');
    const keep = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 30, keepAlive: true }));
    const fresh = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 30, keepAlive: false }));
    for (const [name, r] of [['keep-alive', keep], ['new connection', fresh]] as const) {
      if (Object.keys(r.who).join() !== 'workstation') throw new Error(`${name} latency run was not answered by the workstation alone: ${JSON.stringify(r.who)}`);
    }
    const agentRssAfterLatency = agentRss();
    // Where the bulk transfer's CPU goes (every process of the test cluster shares this PID namespace).
    const cpuBefore = cpuSnapshot();
    const bulk = await inClient(bulkClient(`${URL_}bulk`));
    const bulkCpu = cpuDelta(cpuBefore, cpuSnapshot()).slice(0, 10);
    process.stdout.write(`bulk CPU: ${bulkCpu.map((c) => `${c.name} ${c.ms}ms`).join(', ')}\n`);
    // 200 concurrent connections held 1 s each; the agents' RSS sampled meanwhile (their
    // processes are visible from the host: containerd runs them there).
    const agentRssAfterBulk = agentRss();
    const agents = agentPids();
    let maxAgentRss = 0;
    const sampler = setInterval(() => agents.forEach((p) => (maxAgentRss = Math.max(maxAgentRss, rssMiB(p)))), 100);
    const conc = await inClient(concurrentClient(200));
    clearInterval(sampler);
    // Leave + intercept, ten rounds.
    const rounds: number[] = [];
    const roundsWall: number[] = [];
    for (let i = 0; i < 10; i++) {
      await tp('leave', 'app');
      const r = await tp(...intercept);
      rounds.push(daemonSeconds(r));
      roundsWall.push(r.seconds);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    results.rows = [
      { name: 'first intercept until cluster request arrives (s)', value: firstArrival / 1000, baseline: 3, baselineName: 'target', ratio: firstArrival / 3000, goal: '≤ 1.0' },
      { name: 'first intercept command returns (s)', value: first.seconds, baseline: 3, baselineName: 'target', ratio: first.seconds / 3, goal: '≤ 1.0' },
      { name: 're-intercept, agent present (s)', value: median(rounds), baseline: 0.1, baselineName: 'target', ratio: median(rounds) / 0.1, goal: '≤ 1.0' },
      { name: 're-intercept command, CLI start included (s)', value: median(roundsWall), baseline: 0.1, baselineName: 'target', ratio: median(roundsWall) / 0.1, goal: 'report' },
      { name: 'added p50 latency keep-alive (ms)', value: keep.p50 - baseKeep.p50, baseline: 2, baselineName: 'target', ratio: (keep.p50 - baseKeep.p50) / 2, goal: '≤ 1.0' },
      { name: 'added p50 latency new conn (ms)', value: fresh.p50 - baseNew.p50, baseline: 5, baselineName: 'target', ratio: (fresh.p50 - baseNew.p50) / 5, goal: '≤ 1.0' },
      { name: 'p99 keep-alive via intercept (ms)', value: keep.p99, baseline: baseKeep.p99, baselineName: 'pod direct', ratio: keep.p99 / baseKeep.p99, goal: 'report' },
      { name: 'p99 new conn via intercept (ms)', value: fresh.p99, baseline: baseNew.p99, baselineName: 'pod direct', ratio: fresh.p99 / baseNew.p99, goal: 'report' },
      { name: 'bulk through intercept (MiB/s)', value: bulk.mibps, baseline: pfBulk.mibps, baselineName: 'kubectl port-forward', ratio: bulk.mibps / pfBulk.mibps, goal: '≥ 1.5×' },
      { name: 'bulk through intercept (MiB/s)', value: bulk.mibps, baseline: pfUpload.mibps, baselineName: 'port-forward into the pod', ratio: bulk.mibps / pfUpload.mibps, goal: 'report' },
      { name: '200 concurrent conns served by workstation', value: conc.workstation, baseline: 200, baselineName: 'attempted', ratio: conc.workstation / 200, goal: '= 1.0' },
      { name: 'max agent RSS (MiB)', value: maxAgentRss, baseline: 80, baselineName: 'limit', ratio: maxAgentRss / 80, goal: '≤ 1.0' },
      { name: 'slowest of 10 leave+intercept rounds (s)', value: Math.max(...rounds), baseline: rounds[0]!, baselineName: 'first round', ratio: Math.max(...rounds) / rounds[0]!, goal: 'report' },
    ];
    results.raw = { agentRssAfterIntercept, agentRssAfterLatency, agentRssAfterBulk, bulkCpu, pfUpload, baseKeep, baseNew, keep, fresh, bulk, pfBulk, conc, rounds, roundsWall, firstArrivalMs: firstArrival, firstCommandS: first.seconds, agentPids: agents.length };
    for (const row of results.rows as any[]) {
      process.stdout.write(`${row.name.padEnd(52)} ${row.value.toFixed(2).padStart(9)}  ${row.ratio.toFixed(2)}× ${row.baselineName} (${row.baseline.toFixed(2)})  goal ${row.goal}\n`);
    }
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'intercept.json'), JSON.stringify(results, null, 2) + '\n');
  } finally {
    await cluster.wsExec('node', [cli, 'leave', 'app'], { env, timeoutMs: 60_000 }).catch(() => undefined);
    await cluster.wsExec('node', [cli, 'uninstall', 'app', '-n', NS], { env, timeoutMs: 60_000 }).catch(() => undefined);
    await cluster.wsExec('node', [cli, 'quit', '-s'], { env, timeoutMs: 60_000 }).catch(() => undefined);
    if (wsPid) await cluster.wsExec('kill', [wsPid], { timeoutMs: 5_000 }).catch(() => undefined);
    await cluster.wsExec('kubectl', ['delete', 'namespace', NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 });
  }
}

await main();
