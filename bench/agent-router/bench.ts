// Agent router benchmark, on loopback: what the traffic agent costs requests that match none of a
// port's personal intercepts, next to what other forwarders in the same place cost, all measured
// in this same run against the app answered directly:
//   agent, 20 personal intercepts   the agent's HTTP/1.1 router (its own code), reading every head
//   agent, no intercept             the agent's plain relay to the app
//   Go byte relay                   io.Copy both ways: the floor for any forwarder that sits in
//                                   the path, as the agents of Telepresence 2.x and mirrord do
//   Go net/http header router       Go's standard reverse proxy choosing by a header: a stand-in for
//                                   an L7 routing agent written in Go
// The load is the in-cluster bench's (8 keep-alive connections; one request at a time for
// latency); the app, the proxy and the load each run in their own process. Medians of RUNS
// interleaved rounds; results to bench/results/agent-router.json.
// Run: node --import tsx bench/agent-router/bench.ts   (needs Go to build the stand-ins)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PERSONAL, OTHER_HEADER } from './world.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 5);
const LAT_N = Number(process.env.BENCH_LATENCY_N ?? 1000);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const CLK_TCK = 100;

type Target = 'direct' | 'agent-personal' | 'agent-none' | 'go-pipe' | 'go-http';
const LABEL: Record<Target, string> = {
  direct: 'app directly',
  'agent-personal': `agent, ${PERSONAL} personal intercepts`,
  'agent-none': 'agent, no intercept',
  'go-pipe': 'Go byte relay',
  'go-http': 'Go net/http header router',
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

/** Starts `cmd` and resolves with it once its first stdout line arrives (ready), or its result. */
function start(cmd: string, args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, line }));
    child.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code} before answering`)));
  });
}
const serve = (...args: string[]) => start(process.execPath, ['--import', 'tsx', join(here, 'serve.ts'), ...args]);
const measure = async (...args: string[]) => JSON.parse((await serve(...args)).line);

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const build = mkdtempSync(join(tmpdir(), 'tel-bench-peer-'));
  const children: ChildProcess[] = [];
  try {
    const peer = join(build, 'peer');
    execFileSync('go', ['build', '-o', peer, '.'], { cwd: join(here, 'peer'), env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' }, stdio: 'inherit' });
    const port = Object.fromEntries(await Promise.all((Object.keys(LABEL) as Target[]).map(async (t) => [t, await freePort()]))) as Record<Target, number>;
    const appAddr = `127.0.0.1:${port.direct}`;
    const procs: Partial<Record<Target, ChildProcess>> = {};
    const up = async (t: Target, p: Promise<{ child: ChildProcess }>) => {
      const { child } = await p;
      children.push(child);
      procs[t] = child;
    };
    await up('direct', serve('app', String(port.direct)));
    await up('agent-personal', serve('agent', String(port['agent-personal']), String(port.direct), 'personal'));
    await up('agent-none', serve('agent', String(port['agent-none']), String(port.direct), 'none'));
    await up('go-pipe', start(peer, ['pipe', `127.0.0.1:${port['go-pipe']}`, appAddr]));
    await up('go-http', start(peer, ['http', `127.0.0.1:${port['go-http']}`, appAddr, `${OTHER_HEADER.name}=dev-0`]));

    const runs: Record<Target, { rps: number; p50: number; p99: number; cpuUsPerReq: number }[]> = { direct: [], 'agent-personal': [], 'agent-none': [], 'go-pipe': [], 'go-http': [] };
    for (let r = 0; r < RUNS; r++) {
      for (const t of Object.keys(LABEL) as Target[]) {
        const pid = t === 'direct' ? undefined : procs[t]!.pid!;
        const c0 = pid ? cpuMs(pid) : 0;
        const rate = await measure('rate', String(port[t]), String(RATE_SECONDS));
        const cpu = pid ? cpuMs(pid) - c0 : 0;
        if (rate.bad) throw new Error(`${LABEL[t]}: ${rate.bad} requests failed`);
        const lat = await measure('latency', String(port[t]), String(LAT_N));
        runs[t].push({ rps: rate.rps, p50: lat.p50, p99: lat.p99, cpuUsPerReq: (cpu * 1000) / (rate.rps * RATE_SECONDS) });
        process.stdout.write(`round ${r + 1} ${LABEL[t]}: ${rate.rps.toFixed(0)} req/s, p50 ${lat.p50.toFixed(3)} ms\n`);
      }
    }
    const med = Object.fromEntries((Object.keys(LABEL) as Target[]).map((t) => [t, { rps: median(runs[t].map((x) => x.rps)), p50: median(runs[t].map((x) => x.p50)), p99: median(runs[t].map((x) => x.p99)), cpuUsPerReq: median(runs[t].map((x) => x.cpuUsPerReq)) }])) as Record<Target, (typeof runs)['direct'][number]>;
    const rows = [];
    for (const t of ['agent-personal', 'agent-none', 'go-pipe', 'go-http'] as Target[]) {
      const mine = t === 'agent-personal';
      rows.push({ name: `request rate, ${LABEL[t]} (req/s)`, value: med[t].rps, baseline: med.direct.rps, baselineName: LABEL.direct, ratio: med[t].rps / med.direct.rps, goal: mine ? '≥ 0.9×' : 'report' });
      rows.push({ name: `p50 latency, ${LABEL[t]} (ms)`, value: med[t].p50, baseline: med.direct.p50, baselineName: LABEL.direct, ratio: med[t].p50 / med.direct.p50, goal: mine ? '≤ 1.1×' : 'report' });
    }
    rows.push({ name: `request rate, ${LABEL['agent-personal']} (req/s)`, value: med['agent-personal'].rps, baseline: med['go-http'].rps, baselineName: LABEL['go-http'], ratio: med['agent-personal'].rps / med['go-http'].rps, goal: 'report' });
    rows.push({ name: `p50 latency, ${LABEL['agent-personal']} (ms)`, value: med['agent-personal'].p50, baseline: med['go-http'].p50, baselineName: LABEL['go-http'], ratio: med['agent-personal'].p50 / med['go-http'].p50, goal: 'report' });
    for (const t of ['agent-personal', 'agent-none', 'go-pipe', 'go-http'] as Target[]) {
      rows.push({ name: `proxy CPU per request, ${LABEL[t]} (µs)`, value: med[t].cpuUsPerReq, baseline: med['go-pipe'].cpuUsPerReq, baselineName: LABEL['go-pipe'], ratio: med[t].cpuUsPerReq / med['go-pipe'].cpuUsPerReq, goal: 'report' });
    }
    for (const row of rows) process.stdout.write(`${row.name}: ${row.value.toFixed(row.value < 10 ? 3 : 0)} vs ${row.baselineName} ${row.baseline.toFixed(row.baseline < 10 ? 3 : 0)} = ${row.ratio.toFixed(2)}× (${row.goal})\n`);
    const version = execFileSync('git', ['describe', '--tags', '--match=v*', '--always'], { cwd: root, encoding: 'utf8' }).trim();
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'agent-router.json'), JSON.stringify({ date: new Date().toISOString(), version, runs: RUNS, rateSeconds: RATE_SECONDS, latencyRequests: LAT_N, personalIntercepts: PERSONAL, rows, raw: runs }, null, 2) + '\n');
  } finally {
    for (const c of children) c.kill();
    rmSync(build, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench/agent-router: ${e.message}\n`);
  process.exit(1);
});
