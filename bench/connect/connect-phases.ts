// Connect until a Service IP answers, split into phases: a client in the workstation namespace
// starts `telepresence connect`, then asks a Service's ClusterIP until it answers; the phases come
// from the daemons' own records (process start in /proc, their `listening` log lines, the user
// daemon's `connected` line with ConnectResult.timings), all on this machine's clock.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectTimings } from '@tel/contracts';
import { logsDir } from '@tel/logging';
import type { ClusterInfo } from '@tel/testcluster';

/** Epoch ms of each point of one connect; phases are differences of these. */
export interface ConnectRun {
  /** Wall time from starting the CLI until the Service answered (s). */
  totalSeconds: number;
  /** Wall time until the CLI exited (s). */
  cliSeconds: number;
  /** Named phases (ms), in the order they happen; overlapping steps overlap. */
  phases: Record<string, number>;
}

const connectClient = (cli: string, serviceIp: string, port: number) => `
const { spawn } = require('node:child_process'); const http = require('node:http');
const t0 = Date.now(); let out = '';
const c = spawn(process.execPath, [${JSON.stringify(cli)}, 'connect'], { stdio: ['ignore', 'pipe', 'pipe'] });
c.stdout.on('data', (d) => (out += d)); c.stderr.on('data', (d) => (out += d));
c.on('exit', (code) => {
  const exitAt = Date.now();
  if (code !== 0) { console.log(JSON.stringify({ error: 'connect exited ' + code + ': ' + out })); return; }
  let tries = 0;
  const once = () => { tries++;
    const q = http.get({ host: ${JSON.stringify(serviceIp)}, port: ${port}, path: '/', agent: false, timeout: 2000 }, (r) => {
      r.resume(); r.on('end', () => console.log(JSON.stringify({ t0, exitAt, answeredAt: Date.now(), tries }))); });
    q.on('timeout', () => q.destroy(new Error('timeout')));
    q.on('error', () => (Date.now() - exitAt < 20000 ? setTimeout(once, 5) : console.log(JSON.stringify({ error: 'no answer from the Service' })))); };
  once();
});`;

/** /proc/<pid>/stat's start time as epoch ms (10 ms resolution). */
function processStartMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const uptimeSec = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptimeSec * 1000 + (startTicks / 100) * 1000;
}

/** The time of the last log line of `file` matching `pattern`, and its JSON fields. */
function lastLine(file: string, pattern: RegExp): { at: number; fields: any } | undefined {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => pattern.test(l));
  const line = lines[lines.length - 1];
  if (!line) return undefined;
  const brace = line.indexOf(' {');
  return { at: Date.parse(line.slice(0, line.indexOf(' '))), fields: brace >= 0 ? JSON.parse(line.slice(brace + 1)) : {} };
}

/**
 * One connect, timed until `serviceIp:port` answers over HTTP. `pids` are looked up after it (the
 * daemons' process ids, from `status`); `coldDaemons`: the daemons were started by this connect.
 */
export async function timedConnect(
  cluster: ClusterInfo,
  env: NodeJS.ProcessEnv,
  cli: string,
  serviceIp: string,
  port: number,
  daemonPids: () => Promise<{ userDaemon: number; rootDaemon: number }>,
  coldDaemons: boolean,
): Promise<ConnectRun> {
  const r = await cluster.wsExec('node', ['-e', connectClient(cli, serviceIp, port)], { env, timeoutMs: 300_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { t0: number; exitAt: number; answeredAt: number; error?: string };
  if (out.error || !out.t0) throw new Error(`timed connect failed: ${out.error ?? r.stderr}`);
  const logs = logsDir(env);
  const connected = lastLine(join(logs, 'connector.log'), / connected \{/);
  const timings = connected?.fields.timings as ConnectTimings | undefined;
  const phases: Record<string, number> = {};
  const totals = { totalSeconds: (out.answeredAt - out.t0) / 1000, cliSeconds: (out.exitAt - out.t0) / 1000 };
  // A user daemon that does not report its steps (an older build, as a baseline): totals only.
  if (!timings) return { ...totals, phases: { 'CLI exited → Service answered': out.answeredAt - out.exitAt } };
  const rel = (at: number) => Math.round(at - out.t0);
  if (coldDaemons) {
    const pids = await daemonPids();
    const rootStart = processStartMs(pids.rootDaemon);
    const rootReady = lastLine(join(logs, 'daemon.log'), /Root Daemon \S+ listening on/)?.at ?? NaN;
    const userReady = lastLine(join(logs, 'connector.log'), /User Daemon \S+ listening on/)?.at ?? NaN;
    phases['CLI start → first daemon spawned'] = rel(Math.min(rootStart, timings.daemonStartedAt));
    phases['root daemon: process start → listening'] = Math.round(rootReady - rootStart);
    phases['user daemon: process start → listening'] = Math.round(userReady - timings.daemonStartedAt);
    phases['both listening → connect received'] = Math.round(timings.receivedAt - Math.max(rootReady, userReady));
  } else {
    phases['CLI start → connect received'] = rel(timings.receivedAt);
  }
  for (const s of timings.steps) phases[`connect: ${s.step} (${s.startMs}…${s.endMs} ms)`] = s.endMs - s.startMs;
  const doneAt = timings.receivedAt + (connected?.fields.elapsedMs ?? 0);
  phases['connect returned → CLI exited'] = Math.round(out.exitAt - doneAt);
  phases['CLI exited → Service answered'] = Math.round(out.answeredAt - out.exitAt);
  return { ...totals, phases };
}
