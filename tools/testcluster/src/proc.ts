// Running commands and long-lived daemons for the test cluster. Daemons are detached, log to
// <stateDir>/logs/<name>.log, are recorded in <stateDir>/pids/<name>.pid (pid + start time, so a
// recycled pid is never signalled) and are placed in the cluster's cgroup before they exec.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Don't throw on a non-zero exit; the caller inspects `code`. */
  allowFail?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as any).code) : 1) : 0;
        if (err && !opts.allowFail) {
          const detail = (stderr || stdout || err.message).trim().split('\n').slice(-5).join('\n');
          reject(new CommandError(`${cmd} ${args.join(' ')} failed: ${detail}`, code, stdout, stderr));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => {}); // the command may exit without reading its input
    child.stdin?.end(opts.input ?? '');
  });
}

export interface DaemonSpec {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** cgroup.procs files the daemon writes itself into before exec'ing (cgroup v1: one per hierarchy). */
  cgroupProcs: string[];
  cwd?: string;
}

export interface PidRecord {
  pid: number;
  startTime: string;
  cmd: string;
}

/** Starts a detached daemon and records its pid; returns the pid. */
export function startDaemon(logsDir: string, pidDir: string, spec: DaemonSpec): number {
  mkdirSync(logsDir, { recursive: true });
  mkdirSync(pidDir, { recursive: true });
  const logFile = join(logsDir, `${spec.name}.log`);
  const fd = openSync(logFile, 'a');
  // The wrapper joins the cgroup, then exec's: the recorded pid is the daemon's own pid.
  const script = 'for f in $TPTC_CGROUP_PROCS; do echo $$ > "$f" || { echo "tptc: cannot join cgroup $f" >&2; exit 97; }; done; unset TPTC_CGROUP_PROCS; exec "$@"';
  const child = spawn('/bin/sh', ['-c', script, 'sh', spec.cmd, ...spec.args], {
    detached: true,
    stdio: ['ignore', fd, fd],
    cwd: spec.cwd ?? '/',
    env: { ...(spec.env ?? process.env), TPTC_CGROUP_PROCS: spec.cgroupProcs.join(' ') },
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${spec.name} (${spec.cmd})`);
  child.unref();
  const rec: PidRecord = { pid, startTime: procStartTime(pid) ?? '', cmd: spec.cmd };
  writeFileSync(join(pidDir, `${spec.name}.pid`), JSON.stringify(rec) + '\n');
  return pid;
}

/** Field 22 of /proc/<pid>/stat: with the pid it identifies one process for its lifetime. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function readPid(pidDir: string, name: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(pidDir, `${name}.pid`), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** The recorded process is still the one we started (and not a zombie). */
export function isAlive(rec: PidRecord | undefined): rec is PidRecord {
  if (!rec) return false;
  const st = procStartTime(rec.pid);
  if (st === undefined || (rec.startTime && st !== rec.startTime)) return false;
  try {
    const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function livePid(pidDir: string, name: string): number | undefined {
  const rec = readPid(pidDir, name);
  return isAlive(rec) ? rec.pid : undefined;
}

export function listPidNames(pidDir: string): string[] {
  if (!existsSync(pidDir)) return [];
  return readdirSync(pidDir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -4));
}

/** Signals every recorded daemon that is still the process we started; removes the pid files. */
export async function stopRecorded(pidDir: string, graceMs: number): Promise<void> {
  const live: PidRecord[] = [];
  for (const name of listPidNames(pidDir)) {
    const rec = readPid(pidDir, name);
    if (isAlive(rec)) live.push(rec);
  }
  for (const rec of live) signal(rec.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const rec of live) if (isAlive(rec)) signal(rec.pid, 'SIGKILL');
  while (live.some(isAlive) && Date.now() < deadline + 3000) await sleep(50);
  rmSync(pidDir, { recursive: true, force: true });
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
