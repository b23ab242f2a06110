// Connect/tunnel benchmark: how fast outbound traffic through a connected session is. Runs against the embedded test cluster; every figure
// is printed with a ratio against a baseline measured in this same run, and all are written to
// bench/results/connect.json.
//   bulk TCP pod → workstation (download) and workstation → pod (upload) through the tunnel
//                                                  vs kubectl port-forward to the same pod (goal ≥ 1.5×)
//                                                  vs the pod read directly from the node namespace
//   new-connection HTTP request rate via tunnel    vs direct from the node namespace (goal ≥ 30%),
//                                                  steady state: counted after a warm-up
//   1000 concurrent tunnelled connections          all succeed; user daemon RSS ≤ 120 MiB meanwhile
//   connect until a Service IP answers, manager installed: no daemons ≤ 1.0 s, daemons running
//   ≤ 0.3 s, split into phases (connect-phases.ts); daemons' RSS idle after connect
// Prerequisite: `bash scripts/main.sh` (or the same build + push) so dist/ and the image exist.
import { benchCluster, benchUser } from '../cluster-bench.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ClusterInfo } from '@tel/testcluster';
import { workspaceRoot } from '@tel/genversion';
import { cpuDelta, cpuSnapshot, machineCpu, machineDelta } from './cpu.js';
import { timedConnect, type ConnectRun } from './connect-phases.js';

const root = workspaceRoot();
const BULK_MIB = Number(process.env.BENCH_BULK_MIB ?? 256);
const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 8);
const HTTP_WARMUP = Number(process.env.BENCH_HTTP_WARMUP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECT_ROUNDS = Number(process.env.BENCH_CONNECT_ROUNDS ?? 5);
const NS = 'tel-bench';

// A pod running the tel2 image's node: port 9000 streams BULK_MIB then closes, 9001 echoes,
// 9002 reads an 8-byte length then that many bytes and answers how many it got (no half-close:
// kubectl port-forward does not pass one on), 8080 answers HTTP with a short body.
const serverScript = `
const net = require('node:net'), http = require('node:http');
const chunk = Buffer.alloc(1 << 20, 7);
net.createServer((s) => { let left = ${BULK_MIB}; const pump = () => { while (left > 0) { left--; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); }; pump(); s.on('error', () => {}); }).listen(9000);
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(9001);
net.createServer((s) => { s.on('error', () => {}); let want = -1, n = 0, head = Buffer.alloc(0);
  s.on('data', (d) => { if (want < 0) { head = Buffer.concat([head, d]); if (head.length < 8) return; want = Number(head.readBigUInt64BE(0)); n = head.length - 8; } else n += d.length;
    if (n >= want) s.end(String(n)); }); }).listen(9002);
http.createServer((q, r) => r.end('ok')).listen(8080);
`;

const manifest = (image: string) => `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Pod
metadata: {name: bulk, namespace: ${NS}, labels: {app: bulk}}
spec:
  containers:
  - name: bulk
    image: ${image}
    command: [/usr/bin/node, -e, ${JSON.stringify(serverScript)}]
---
apiVersion: v1
kind: Service
metadata: {name: bulk, namespace: ${NS}}
spec:
  selector: {app: bulk}
  ports: [{name: http, port: 8080}]
`;

// Client scripts run with node in the workstation or node namespace; each prints one JSON line.
const bulkClient = (host: string, port: number) => `
const net = require('node:net'); const t0 = process.hrtime.bigint(); let n = 0;
const s = net.connect(${port}, ${JSON.stringify(host)}); s.on('data', (d) => n += d.length);
s.on('end', () => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; const c = process.cpuUsage(); console.log(JSON.stringify({ bytes: n, seconds: sec, mibps: n / 1048576 / sec, cpuMs: (c.user + c.system) / 1000 })); });
s.on('error', (e) => { console.log(JSON.stringify({ error: String(e) })); });`;
const uploadClient = (host: string, port: number) => `
const net = require('node:net'); const chunk = Buffer.alloc(1 << 20, 7); let left = ${BULK_MIB}; let reply = '';
const head = Buffer.alloc(8); head.writeBigUInt64BE(BigInt(${BULK_MIB} * 1048576));
const t0 = process.hrtime.bigint();
const s = net.connect(${port}, ${JSON.stringify(host)}, () => { s.write(head); const pump = () => { while (left > 0) { left--; if (!s.write(chunk)) return s.once('drain', pump); } }; pump(); });
s.on('data', (d) => (reply += d));
s.on('end', () => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; const n = Number(reply); const c = process.cpuUsage(); console.log(JSON.stringify(n > 0 ? { bytes: n, seconds: sec, mibps: n / 1048576 / sec, cpuMs: (c.user + c.system) / 1000 } : { error: 'no count: ' + reply })); });
s.on('error', (e) => { console.log(JSON.stringify({ error: String(e) })); });`;
// The first seconds of a fresh client process run unoptimized code (V8 tiers up as it goes), and
// the daemons' and manager's per-connection paths warm up the same way: the rate is counted after
// HTTP_WARMUP seconds of the same load, for both sides; the warm-up's own rate is reported too.
const httpRateClient = (url: string) => `
const http = require('node:http'); const t0 = Date.now(); const warmEnd = t0 + ${HTTP_WARMUP * 1000}, end = warmEnd + ${HTTP_SECONDS * 1000};
let ok = 0, fail = 0, okAtWarm = -1, tWarm = 0;
const one = () => new Promise((res) => { const q = http.get(${JSON.stringify(url)}, { agent: false }, (r) => { r.resume(); r.on('end', () => { ok++; res(); }); }); q.on('error', () => { fail++; res(); }); });
const mark = () => { if (okAtWarm < 0 && Date.now() >= warmEnd) { okAtWarm = ok; tWarm = Date.now(); } };
(async () => { await Promise.all(Array.from({ length: 8 }, async () => { while (Date.now() < end) { await one(); mark(); } }));
  const t1 = Date.now(); const c = process.cpuUsage();
  console.log(JSON.stringify({ ok, fail, warmupRps: okAtWarm / ((tWarm - t0) / 1000), rps: (ok - okAtWarm) / ((t1 - tWarm) / 1000), cpuMs: (c.user + c.system) / 1000 })); })();`;
const concurrentClient = (host: string, port: number, n: number) => `
const net = require('node:net'); let ok = 0, fail = 0; const socks = [];
const one = () => new Promise((res) => { const s = net.connect(${port}, ${JSON.stringify(host)}); socks.push(s); let got = '';
  s.on('connect', () => s.write('ping'));
  s.on('data', (d) => { got += d; if (got === 'ping') { ok++; res(); } });
  s.on('error', () => { fail++; res(); }); setTimeout(() => { if (got !== 'ping') { fail++; res(); } }, 30000); });
(async () => { const t0 = Date.now(); await Promise.all(Array.from({ length: ${n} }, one)); console.log(JSON.stringify({ ok, fail, seconds: (Date.now() - t0) / 1000 }));
  await new Promise((r) => setTimeout(r, 1500)); for (const s of socks) s.destroy(); })();`;

/** CPU per process (ms) of each measurement (its last round), to see which hop pays for it. */
const cpuProfile: Record<string, { name: string; ms: number }[]> = {};
/** Our processes: what the tunnel's own code costs. Everything else on the machine is "theirs". */
const OURS = new Set(['node:user-daemon', 'node:traffic-manager', 'node:root-daemon']);

/**
 * Where one tunnelled HTTP round's CPU went, per request: our processes, and everything else on
 * the machine (the client, which reports its own CPU because it has exited before the snapshot;
 * the server; API server, kubelet, containerd; irq/softirq time, which no process is charged
 * for). `ceilingRps`: the rate this 2-core machine could reach if our processes cost nothing and
 * the rest stayed as measured, i.e. an upper bound for any client-side implementation.
 */
interface HttpAccounting {
  requests: number;
  usPerRequest: Record<string, number>;
  oursUs: number;
  othersUs: number;
  idleShare: number;
  ceilingRps: number;
}
const httpAccounting: HttpAccounting[] = [];
const CORES = availableParallelism();

async function run(cluster: ClusterInfo, where: 'ws' | 'node', script: string, label?: string, timeoutMs = 300_000): Promise<any> {
  const before = label ? cpuSnapshot() : undefined;
  const mBefore = machineCpu();
  const r = where === 'ws' ? await cluster.wsExec('node', ['-e', script], { timeoutMs }) : await cluster.nodeExec('node', ['-e', script], { timeoutMs });
  const m = machineDelta(mBefore, machineCpu());
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let out: any;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`client failed (${r.code}): ${r.stderr || r.stdout}`);
  }
  if (label && before) {
    const procs = cpuDelta(before, cpuSnapshot());
    if (typeof out.cpuMs === 'number') procs.push({ name: 'bench client (own report)', ms: Math.round(out.cpuMs) });
    procs.push({ name: 'irq+softirq (no process)', ms: m.irqMs });
    procs.sort((a, b) => b.ms - a.ms);
    cpuProfile[label] = procs.slice(0, 10);
    if (label === 'http tunnel' && out.ok > 0) {
      const ours = procs.filter((p) => OURS.has(p.name)).reduce((a, p) => a + p.ms, 0);
      const per = (ms: number) => Math.round((ms * 1000) / out.ok);
      const othersUs = per(m.busyMs - ours);
      httpAccounting.push({
        requests: out.ok,
        usPerRequest: Object.fromEntries(procs.slice(0, 10).map((p) => [p.name, per(p.ms)])),
        oursUs: per(ours),
        othersUs,
        idleShare: m.idleMs / (m.idleMs + m.busyMs),
        ceilingRps: (CORES * 1e6) / othersUs,
      });
    }
    if (process.env.BENCH_CPU) {
      process.stdout.write(`${label}: ${cpuProfile[label]!.map((c) => `${c.name} ${c.ms}ms`).join(', ')}; machine busy ${m.busyMs}ms idle ${m.idleMs}ms\n`);
      const a = httpAccounting[httpAccounting.length - 1];
      if (label === 'http tunnel' && a) process.stdout.write(`  per request: ours ${a.oursUs} µs, everything else ${a.othersUs} µs -> ceiling ${a.ceilingRps.toFixed(0)} req/s on ${CORES} cores\n`);
    }
  }
  return out;
}

function rssMiB(pid: number, field = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** RSS split into the process's own memory (heap, stacks) and mapped files (node's binary, addons). */
const rssSplit = (pid: number) => ({ rss: rssMiB(pid), anon: rssMiB(pid, 'RssAnon'), file: rssMiB(pid, 'RssFile') });

async function main() {
  const { cluster, info, kubectl } = await benchCluster();
  // A namespace still terminating from the previous run would take the new pod down with it.
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['apply', '-f', '-'], manifest(info.image));
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/bulk', '--timeout=120s']);
  const podIp = await kubectl(['get', 'pod', 'bulk', '-n', NS, '-o', 'jsonpath={.status.podIP}']);
  const serviceIp = await kubectl(['get', 'service', 'bulk', '-n', NS, '-o', 'jsonpath={.spec.clusterIP}']);

  const env = benchUser(cluster, 'bench-user', {
    // BENCH_PROFILE_DIR: V8 CPU profiles of the daemons, written when they quit.
    ...(process.env.BENCH_PROFILE_DIR ? { TELEPRESENCE_CPU_PROFILE_DIR: process.env.BENCH_PROFILE_DIR } : {}),
  });
  const cli = join(root, 'dist', 'apps', 'cli', 'main.js');
  const tp = (...args: string[]) => cluster.wsExec('node', [cli, ...args], { env, timeoutMs: 300_000 });

  const results: Record<string, unknown> = {
    date: new Date().toISOString(), version: info.version, bulkMiB: BULK_MIB, rounds: ROUNDS, httpWarmupSeconds: HTTP_WARMUP, httpSeconds: HTTP_SECONDS,
    note: 'medians of interleaved rounds; HTTP rates counted after the warm-up',
  };
  try {
    // Connect once (installs the manager if needed), then time connects with it installed until
    // the Service answers: with no daemons, and with both daemons already running.
    let r = await tp('connect');
    // A manager of another build (another suite's, on this shared cluster): replaced by ours.
    if (r.code !== 0 && /helm upgrade/.test(r.stderr)) {
      const up = await tp('helm', 'upgrade');
      if (up.code !== 0) throw new Error(`helm upgrade failed: ${up.stderr || up.stdout}`);
      r = await tp('connect');
    }
    if (r.code !== 0) throw new Error(`connect failed: ${r.stderr || r.stdout}`);
    const daemonPids = async () => {
      const st = JSON.parse((await tp('status', '-o', 'json')).stdout);
      return { userDaemon: st.user_daemon.pid as number, rootDaemon: st.root_daemon.pid as number };
    };
    const connectRuns: { cold: ConnectRun[]; warm: ConnectRun[] } = { cold: [], warm: [] };
    for (let i = 0; i < CONNECT_ROUNDS; i++) {
      await tp('quit', '-s');
      connectRuns.cold.push(await timedConnect(cluster, env, cli, serviceIp, 8080, daemonPids, true));
      await tp('quit', '-s');
      await tp('start-daemons');
      connectRuns.warm.push(await timedConnect(cluster, env, cli, serviceIp, 8080, daemonPids, false));
    }
    const pids = await daemonPids();
    // Idle after connect: the daemons as a user leaves them once connect has returned, 3 s after
    // and (the figure compared with the goal) 15 s after, once V8's memory reducer has had its
    // idle-time collections (it shrinks the heap only after seconds without allocation).
    await new Promise((res) => setTimeout(res, 3000));
    const idleAt3s = { userDaemon: rssSplit(pids.userDaemon), rootDaemon: rssSplit(pids.rootDaemon) };
    await new Promise((res) => setTimeout(res, 12_000));
    const idle = { userDaemon: rssSplit(pids.userDaemon), rootDaemon: rssSplit(pids.rootDaemon), at3s: idleAt3s };
    const rssIdle = { userDaemon: idle.userDaemon.rss, rootDaemon: idle.rootDaemon.rss };
    // BENCH_SMAPS_DIR: the idle daemons' memory maps, to see which mappings hold their RSS.
    if (process.env.BENCH_SMAPS_DIR) {
      for (const [name, pid] of Object.entries(pids)) writeFileSync(join(process.env.BENCH_SMAPS_DIR, `${name}.smaps`), readFileSync(`/proc/${pid}/smaps`));
      writeFileSync(join(process.env.BENCH_SMAPS_DIR, 'pids.json'), JSON.stringify(pids));
      // BENCH_IDLE_HOLD_S: keep the idle daemons that long, to look at them from outside.
      await new Promise((res) => setTimeout(res, Number(process.env.BENCH_IDLE_HOLD_S ?? 0) * 1000));
    }
    if (process.env.BENCH_ONLY === 'connect') {
      for (const [kind, runs] of Object.entries(connectRuns)) for (const run of runs) process.stdout.write(`${kind}: ${JSON.stringify(run, null, 1)}\n`);
      process.stdout.write(`idle RSS: ${JSON.stringify(idle)}\n`);
      return;
    }

    // BENCH_ONLY=bulk|http|conc: one comparison (conc: the 1000 connections and the user daemon's
    // RSS, with fresh daemons), printed, nothing written (for iterating on one figure).
    const only = process.env.BENCH_ONLY;
    if (only === 'conc') {
      const before = rssMiB(pids.userDaemon);
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(rssMiB(pids.userDaemon)), 200);
      const conc = await run(cluster, 'ws', concurrentClient(podIp, 9001, 1000));
      clearInterval(sampler);
      process.stdout.write(`conc: ${JSON.stringify(conc)}; user daemon RSS before ${before.toFixed(0)} MiB, max ${Math.max(...samples).toFixed(0)} MiB\n`);
      return;
    }
    if (only === 'bulk' || only === 'http' || only === 'upload') {
      const client = only === 'bulk' ? bulkClient(podIp, 9000) : only === 'upload' ? uploadClient(podIp, 9002) : httpRateClient(`http://${podIp}:8080/`);
      // BENCH_REPEAT=n: the tunnel side n times, the user daemon's RSS after each (growth = leak?).
      for (let i = 1; i < Number(process.env.BENCH_REPEAT ?? 1); i++) {
        const r = await run(cluster, 'ws', client);
        process.stdout.write(`${only} #${i}: ${JSON.stringify(r)}; user daemon RSS ${rssMiB(pids.userDaemon).toFixed(0)} MiB\n`);
      }
      const t = await run(cluster, 'ws', client, `${only} tunnel`);
      const d = await run(cluster, 'node', client, `${only} direct`);
      process.stdout.write(`${only}: tunnel ${JSON.stringify(t)} direct ${JSON.stringify(d)}; user daemon RSS after ${rssMiB(pids.userDaemon).toFixed(0)} MiB\n`);
      return;
    }

    // Bulk TCP and the HTTP rate: ROUNDS interleaved runs of each side, medians compared (single
    // runs on this shared 2-core machine vary by ±20%).
    const pf = cluster.wsExec('kubectl', ['port-forward', '-n', NS, 'pod/bulk', '19000:9000', '19002:9002'], { timeoutMs: 900_000 });
    await new Promise((res) => setTimeout(res, 2000));
    const bulkRuns: { tunnel: any[]; direct: any[]; portForward: any[] } = { tunnel: [], direct: [], portForward: [] };
    const uploadRuns: { tunnel: any[]; direct: any[]; portForward: any[] } = { tunnel: [], direct: [], portForward: [] };
    const httpRuns: { tunnel: any[]; direct: any[] } = { tunnel: [], direct: [] };
    try {
      for (let i = 0; i < ROUNDS; i++) {
        bulkRuns.tunnel.push(await run(cluster, 'ws', bulkClient(podIp, 9000), 'bulk tunnel'));
        bulkRuns.portForward.push(await run(cluster, 'ws', bulkClient('127.0.0.1', 19000), 'bulk kubectl port-forward'));
        bulkRuns.direct.push(await run(cluster, 'node', bulkClient(podIp, 9000), 'bulk direct'));
        uploadRuns.tunnel.push(await run(cluster, 'ws', uploadClient(podIp, 9002), 'upload tunnel'));
        uploadRuns.portForward.push(await run(cluster, 'ws', uploadClient('127.0.0.1', 19002), 'upload kubectl port-forward'));
        uploadRuns.direct.push(await run(cluster, 'node', uploadClient(podIp, 9002), 'upload direct'));
        httpRuns.tunnel.push(await run(cluster, 'ws', httpRateClient(`http://${podIp}:8080/`), 'http tunnel'));
        httpRuns.direct.push(await run(cluster, 'node', httpRateClient(`http://${podIp}:8080/`), 'http direct'));
      }
    } finally {
      await cluster.wsExec('pkill', ['-f', 'port-forward -n tel-bench pod/bulk']);
      await pf.catch(() => undefined);
    }
    const medianBy = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
    const tunnel = medianBy(bulkRuns.tunnel, (r) => r.mibps);
    const portForward = medianBy(bulkRuns.portForward, (r) => r.mibps);
    const direct = medianBy(bulkRuns.direct, (r) => r.mibps);
    const upTunnel = medianBy(uploadRuns.tunnel, (r) => r.mibps);
    const upPortForward = medianBy(uploadRuns.portForward, (r) => r.mibps);
    const upDirect = medianBy(uploadRuns.direct, (r) => r.mibps);
    const httpTunnel = medianBy(httpRuns.tunnel, (r) => r.rps);
    const httpDirect = medianBy(httpRuns.direct, (r) => r.rps);

    // 1000 concurrent connections, RSS sampled while they are open (and once before: what the
    // bulk and HTTP rounds left behind).
    const rssBefore = { userDaemon: rssMiB(pids.userDaemon), rootDaemon: rssMiB(pids.rootDaemon) };
    const rssSamples: { userDaemon: number; rootDaemon: number }[] = [];
    const sampler = setInterval(() => rssSamples.push({ userDaemon: rssMiB(pids.userDaemon), rootDaemon: rssMiB(pids.rootDaemon) }), 200);
    const conc = await run(cluster, 'ws', concurrentClient(podIp, 9001, 1000));
    clearInterval(sampler);
    const maxRss = {
      userDaemon: Math.max(...rssSamples.map((s) => s.userDaemon)),
      rootDaemon: Math.max(...rssSamples.map((s) => s.rootDaemon)),
    };

    const cold = medianBy(connectRuns.cold, (c) => c.totalSeconds);
    const warm = medianBy(connectRuns.warm, (c) => c.totalSeconds);
    const ceiling = medianBy(httpAccounting, (a) => a.ceilingRps);
    results.rows = [
      { name: 'bulk TCP via tunnel (MiB/s)', value: tunnel.mibps, baseline: portForward.mibps, baselineName: 'kubectl port-forward', ratio: tunnel.mibps / portForward.mibps, goal: '≥ 1.5×' },
      { name: 'bulk TCP via tunnel (MiB/s)', value: tunnel.mibps, baseline: direct.mibps, baselineName: 'direct from node ns', ratio: tunnel.mibps / direct.mibps, goal: 'report' },
      { name: 'upload TCP via tunnel (MiB/s)', value: upTunnel.mibps, baseline: upPortForward.mibps, baselineName: 'kubectl port-forward', ratio: upTunnel.mibps / upPortForward.mibps, goal: '≥ 1.5×' },
      { name: 'upload TCP via tunnel (MiB/s)', value: upTunnel.mibps, baseline: upDirect.mibps, baselineName: 'direct from node ns', ratio: upTunnel.mibps / upDirect.mibps, goal: 'report' },
      { name: 'new-conn HTTP via tunnel (req/s)', value: httpTunnel.rps, baseline: httpDirect.rps, baselineName: 'direct from node ns', ratio: httpTunnel.rps / httpDirect.rps, goal: '≥ 0.30×' },
      // Not a goal: what caps the row above on this machine (see HttpAccounting).
      { name: 'HTTP ceiling, our processes at 0 CPU (req/s)', value: ceiling.ceilingRps, baseline: httpDirect.rps, baselineName: 'direct from node ns', ratio: ceiling.ceilingRps / httpDirect.rps, goal: 'report' },
      { name: '1000 concurrent conns ok', value: conc.ok, baseline: 1000, baselineName: 'attempted', ratio: conc.ok / 1000, goal: '= 1.0' },
      { name: 'max RSS user daemon, 1000 conns (MiB)', value: maxRss.userDaemon, baseline: 120, baselineName: 'limit', ratio: maxRss.userDaemon / 120, goal: '≤ 1.0' },
      { name: 'max RSS root daemon, 1000 conns (MiB)', value: maxRss.rootDaemon, baseline: 200, baselineName: 'limit', ratio: maxRss.rootDaemon / 200, goal: '≤ 1.0' },
      { name: 'RSS user daemon idle 15 s after connect (MiB)', value: rssIdle.userDaemon, baseline: 60, baselineName: 'limit', ratio: rssIdle.userDaemon / 60, goal: '≤ 1.0' },
      { name: 'RSS root daemon idle 15 s after connect (MiB)', value: rssIdle.rootDaemon, baseline: 50, baselineName: 'limit', ratio: rssIdle.rootDaemon / 50, goal: '≤ 1.0' },
      { name: 'connect, no daemons, until a Service answers (s)', value: cold.totalSeconds, baseline: 1, baselineName: 'target', ratio: cold.totalSeconds, goal: '≤ 1.0' },
      { name: 'connect, daemons running, until a Service answers (s)', value: warm.totalSeconds, baseline: 0.3, baselineName: 'target', ratio: warm.totalSeconds / 0.3, goal: '≤ 1.0' },
    ];
    results.connectPhases = { noDaemons: cold, daemonsRunning: warm, note: 'the median round of each (by total); ms; steps inside the user daemon overlap where run side by side' };
    results.cpuMs = cpuProfile;
    results.httpAccounting = { cores: CORES, median: ceiling, rounds: httpAccounting };
    results.raw = { rounds: ROUNDS, bulkRuns, uploadRuns, httpRuns, conc, connectRuns, rssIdle: idle, rssBefore, rssSamples: rssSamples.length };
    for (const row of results.rows as any[]) {
      process.stdout.write(`${row.name.padEnd(52)} ${row.value.toFixed(1).padStart(9)}  ${row.ratio.toFixed(2)}× ${row.baselineName} (${row.baseline.toFixed(1)})  goal ${row.goal}\n`);
    }
    for (const [label, c] of [['connect, no daemons', cold], ['connect, daemons running', warm]] as const) {
      process.stdout.write(`${label}: ${c.totalSeconds.toFixed(3)} s until the Service answered (CLI exited at ${c.cliSeconds.toFixed(3)} s)\n`);
      for (const [phase, ms] of Object.entries(c.phases)) process.stdout.write(`  ${String(ms).padStart(5)} ms  ${phase}\n`);
    }
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'connect.json'), JSON.stringify(results, null, 2) + '\n');
  } finally {
    // BENCH_KEEP=1: leave the session and the bench pod for cpu-per-request.ts (prints the pod IP).
    if (process.env.BENCH_KEEP) {
      process.stdout.write(`kept: session connected, bench pod ${podIp} (ports 8080 http, 9000 bulk, 9001 echo)\n`);
    } else {
      await tp('quit', '-s');
      await cluster.wsExec('kubectl', ['delete', 'namespace', NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 });
    }
  }
}

await main();
