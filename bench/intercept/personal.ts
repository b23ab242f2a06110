// Personal-intercept benchmark, against the embedded test cluster; every figure is printed with a
// ratio against a baseline measured in this same run, and all are written to
// bench/results/intercept-personal.json.
//   requests that match no filter, through an agent with 20 personal intercepts on their port, vs
//     the same pods before any agent: p50 latency ≤ 1.1×, request rate ≥ 0.9× (keep-alive)
//   requests that match a filter: added p50 latency over a global intercept's ≤ 2 ms (keep-alive)
//   20 personal intercepts on one workload: agent CPU per request and RSS, reported
// Prerequisite: `bash scripts/main.sh` (or the same build + push) so dist/ and the image exist.
import { benchCluster, benchUser } from '../cluster-bench.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from '@tel/genversion';
import { agentPids, appManifest, cpuMs, latencyClient, rssMiB } from './world.js';

const root = workspaceRoot();
const NS = 'tel-bench-personal';
const WS_PORT = 4610;
const PERSONAL = 20;
const LAT_N = Number(process.env.BENCH_LATENCY_N ?? 1000);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 5);

const server = (who: string, port: number, host = '0.0.0.0') => `require('node:http').createServer((q, s) => s.end('${who}')).listen(${port}, '${host}');`;


const URL_ = `http://app.${NS}/`;
/** Keep-alive latency, one request at a time, with `headers`: p50, p99 and who answered. */
/** Requests per second over RATE_SECONDS on 8 keep-alive connections, no header. */
const rateClient = `
const http = require('node:http'); const agent = new http.Agent({ keepAlive: true, maxSockets: 8 }); let n = 0, bad = 0; const end = Date.now() + ${RATE_SECONDS * 1000};
const loop = () => new Promise((done) => { const go = () => { if (Date.now() > end) return done(); http.get('${URL_}', { agent }, (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => { if (b === 'pod') n++; else bad++; go(); }); }).on('error', () => { bad++; go(); }); }; go(); });
Promise.all(Array.from({ length: 8 }, loop)).then(() => { console.log(JSON.stringify({ rps: n / ${RATE_SECONDS}, bad })); agent.destroy(); });`;


async function main() {
  const { cluster, info, kubectl } = await benchCluster();
  const inClient = async (script: string) => JSON.parse((await kubectl(['exec', '-n', NS, 'client', '--', '/usr/bin/node', '-e', script])).split('\n').pop()!);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await kubectl(['apply', '-f', '-'], appManifest({ ns: NS, image: info.image, replicas: 1, server: server('pod', 8080) }));
  await kubectl(['rollout', 'status', '-n', NS, 'deployment/app', '--timeout=120s']);
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/client', '--timeout=120s']);

  const env = benchUser(cluster, 'bench-personal-user');
  const cli = join(root, 'dist', 'apps', 'cli', 'main.js');
  const tp = async (...args: string[]) => {
    const r = await cluster.wsExec('node', ['--', cli, ...args], { env, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`telepresence ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r;
  };
  const serverFile = join(env.HOME!, 'ws-server.cjs');
  writeFileSync(serverFile, server('workstation', WS_PORT, '127.0.0.1'));
  const wsPid = (await cluster.wsExec('sh', ['-c', `node ${serverFile} >/dev/null 2>&1 & echo $!`], { timeoutMs: 10_000 })).stdout.trim();
  const results: Record<string, unknown> = { date: new Date().toISOString(), version: info.version, latencyRequests: LAT_N, rateSeconds: RATE_SECONDS, personalIntercepts: PERSONAL };
  const names: string[] = [];
  try {
    // The cluster's manager becomes this build's (the image pushed for dist/), whatever ran before.
    await tp('helm', 'upgrade');
    await tp('connect');
    // Baselines: the pod before any agent; then a global intercept's matching latency.
    const base = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 50, keepAlive: true, headers: {} }));
    const baseRate = await inClient(rateClient);
    await tp('intercept', 'app', '-n', NS, '--port', `${WS_PORT}:http`);
    const global = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 50, keepAlive: true, headers: {} }));
    await tp('leave', 'app');
    // 20 personal intercepts on the same port, each with its own header.
    for (let i = 0; i < PERSONAL; i++) {
      names.push(`p${i}`);
      await tp('intercept', `p${i}`, '--workload', 'app', '-n', NS, '--port', `${WS_PORT}:http`, '--http-header', `x-dev=dev-${i}`);
    }
    const pid = agentPids()[0];
    if (!pid) throw new Error('no traffic agent process found on this machine');
    const cpu0 = cpuMs(pid);
    const other = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 50, keepAlive: true, headers: { 'x-dev': 'nobody' } }));
    const cpuOther = (cpuMs(pid) - cpu0) / (LAT_N + 50);
    const rate = await inClient(rateClient);
    const cpu1 = cpuMs(pid);
    const matching = await inClient(latencyClient({ url: URL_, n: LAT_N, warmup: 50, keepAlive: true, headers: { 'x-dev': `dev-${PERSONAL - 1}` } }));
    const cpuMatching = (cpuMs(pid) - cpu1) / (LAT_N + 50);
    const rss = rssMiB(pid);
    for (const [name, r, who] of [['non-matching', other, 'pod'], ['matching', matching, 'workstation'], ['global', global, 'workstation'], ['baseline', base, 'pod']] as const) {
      if (Object.keys(r.who).join() !== who) throw new Error(`${name} run was not answered by the ${who} alone: ${JSON.stringify(r.who)}`);
    }
    if (rate.bad || baseRate.bad) throw new Error(`request-rate runs had failures: ${rate.bad} / ${baseRate.bad}`);
    results.rows = [
      { name: 'non-matching p50, 20 personal intercepts (ms)', value: other.p50, baseline: base.p50, baselineName: 'pod without agent', ratio: other.p50 / base.p50, goal: '≤ 1.1×' },
      { name: 'non-matching request rate (req/s)', value: rate.rps, baseline: baseRate.rps, baselineName: 'pod without agent', ratio: rate.rps / baseRate.rps, goal: '≥ 0.9×' },
      { name: 'matching p50 added over global (ms)', value: matching.p50 - global.p50, baseline: 2, baselineName: 'target', ratio: (matching.p50 - global.p50) / 2, goal: '≤ 1.0' },
      { name: 'agent CPU per non-matching request (ms)', value: cpuOther, baseline: cpuOther, baselineName: 'itself', ratio: 1, goal: 'report' },
      { name: 'agent CPU per matching request (ms)', value: cpuMatching, baseline: cpuOther, baselineName: 'non-matching', ratio: cpuMatching / cpuOther, goal: 'report' },
      { name: 'agent RSS with 20 personal intercepts (MiB)', value: rss, baseline: 256, baselineName: 'memory limit', ratio: rss / 256, goal: 'report' },
    ];
    results.raw = { base, baseRate, global, other, rate, matching, cpuOther, cpuMatching, rss };
    for (const row of results.rows as any[]) {
      process.stdout.write(`${row.name.padEnd(48)} ${row.value.toFixed(3).padStart(9)}  ${row.ratio.toFixed(2)}× ${row.baselineName} (${row.baseline.toFixed(3)})  goal ${row.goal}\n`);
    }
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'intercept-personal.json'), JSON.stringify(results, null, 2) + '\n');
  } finally {
    for (const n of names) await cluster.wsExec('node', ['--', cli, 'leave', n], { env, timeoutMs: 60_000 }).catch(() => undefined);
    await cluster.wsExec('node', ['--', cli, 'uninstall', 'app', '-n', NS], { env, timeoutMs: 60_000 }).catch(() => undefined);
    await cluster.wsExec('node', ['--', cli, 'quit', '-s'], { env, timeoutMs: 60_000 }).catch(() => undefined);
    if (wsPid) await cluster.wsExec('kill', [wsPid], { timeoutMs: 5_000 }).catch(() => undefined);
    await cluster.wsExec('kubectl', ['delete', 'namespace', NS, '--wait=false', '--ignore-not-found'], { timeoutMs: 60_000 });
  }
}

await main();
