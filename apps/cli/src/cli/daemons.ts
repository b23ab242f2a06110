// The one place the CLI starts daemons and checks their versions. A daemon of another version is
// never used: it is replaced when idle (and the user is told), otherwise the command stops.
import type { Config } from '../config/config.js';
import { connectSession, renderConnect } from './commands/connect.js';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ConnectRequest, Contract, DaemonVersion, RootDaemonContract, UserDaemonContract } from '@tel/contracts';
import { TelError, userError } from '@tel/errors';
import { NotRunningError, connect, isAlive, type Client, QUICK_CALL_TIMEOUT_MS } from '@tel/ipc';
import { API_VERSIONS, buildVersion, mismatchMessage } from '@tel/version';
import { logsDir, rootDaemonEntry, rootDaemonSocket, USER_DAEMON_V8_FLAGS, userDaemonEntry, userDaemonSocket, type Entry } from '../paths.js';
import type { Output } from './output.js';

export interface DaemonKind<C extends Contract<C>> {
  /** Name used in every message, as `telepresence version` prints it. */
  name: 'User Daemon' | 'Root Daemon';
  socket(env: NodeJS.ProcessEnv): string;
  entry(env: NodeJS.ProcessEnv): Entry;
  /** Log file the daemon writes; its stdout/stderr go there too so early crashes are visible. */
  logName: string;
  needsRoot: boolean;
  /** Phantom, carries the contract type. */
  _contract?: C;
}

export const USER_DAEMON: DaemonKind<UserDaemonContract> = {
  name: 'User Daemon',
  socket: userDaemonSocket,
  entry: () => userDaemonEntry(),
  logName: 'connector',
  needsRoot: false,
};

export const ROOT_DAEMON: DaemonKind<RootDaemonContract> = {
  name: 'Root Daemon',
  socket: rootDaemonSocket,
  entry: rootDaemonEntry,
  logName: 'daemon',
  needsRoot: true,
};

/** Either daemon; the helpers below accept a union of kinds (the CLI loops over both). */
export type AnyDaemonKind = DaemonKind<any>;
type ContractOf<K> = K extends DaemonKind<infer C> ? C : never;

export const quitHint = "run 'telepresence quit -s'";

/** A running daemon's version, or undefined when none listens on its socket. */
export async function probe(kind: AnyDaemonKind, env: NodeJS.ProcessEnv): Promise<DaemonVersion | undefined> {
  let client: Client<UserDaemonContract> | undefined;
  try {
    client = await connect<UserDaemonContract>(kind.socket(env), kind.name);
    return await client.version({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof NotRunningError) return undefined;
    throw err;
  } finally {
    client?.close();
  }
}

/**
 * Make sure a daemon of exactly this build runs and return a client for it:
 *  1. connect; if nobody answers, start it;
 *  2. compare its version to the client's; if it differs and it is idle, stop it, start ours and
 *     say so; if it is busy, stop with the mismatch message;
 *  3. starting = spawn detached, then wait for the socket, racing against an early exit.
 */
export async function ensureDaemon<K extends AnyDaemonKind>(
  kind: K,
  ctx: { out: Output; env: NodeJS.ProcessEnv; startTimeoutMs: number; config?: () => Config },
): Promise<{ client: Client<ContractOf<K>>; version: DaemonVersion; started: boolean }> {
  type C = ContractOf<K>;
  const socket = kind.socket(ctx.env);
  let running = await probe(kind, ctx.env);
  let replaced: string | undefined;
  if (running && running.version !== buildVersion) {
    if (!running.idle) throw userError(mismatchMessage(buildVersion, running), quitHint);
    await stopDaemon(kind, ctx.env);
    replaced = running.version;
    running = undefined;
  }
  let started = false;
  if (!running) {
    ctx.out.progress(`Launching ${kind.name}...`);
    // sudo hands the root daemon no config dir: its configured log level comes as a flag.
    const flags = kind.needsRoot && ctx.config ? ['--log-level', ctx.config().logLevels.rootDaemon] : [];
    await startDaemon(kind, ctx.env, ctx.startTimeoutMs, flags);
    ctx.out.progressDone();
    started = true;
  }
  const client = await connect<C>(socket, kind.name);
  const version = (await (client as unknown as Client<UserDaemonContract>).version({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS })) as DaemonVersion;
  if (version.version !== buildVersion) {
    client.close();
    // The daemon we just started is itself of another build: quitting can't help, installing can.
    if (started) {
      const entry = daemonCommand(kind, ctx.env);
      throw userError(
        `${kind.name} ${entry.args.find((a) => /\.(m?js|ts)$/.test(a)) ?? entry.execPath} is ${version.version}, not ${buildVersion}: the Client and its daemons come from different builds`,
        "reinstall telepresence (or rebuild with 'npx nx run-many -t build') so that all three come from one build",
      );
    }
    // Someone else started another version between our probe and connect.
    throw userError(mismatchMessage(buildVersion, version), quitHint);
  }
  if (replaced) ctx.out.notice(`Replaced idle ${kind.name} ${replaced} with ${buildVersion} to match the Client`);
  const expectedApi = kind.name === 'User Daemon' ? API_VERSIONS.userDaemon : API_VERSIONS.rootDaemon;
  if (version.apiVersion !== expectedApi) {
    client.close();
    throw new TelError('bug', `${kind.name} speaks api v${version.apiVersion}, the Client api v${expectedApi}`, quitHint);
  }
  return { client, version, started };
}

/** What `requires: 'daemons'` provides: both daemons of this build, the user daemon connected. */
export interface EnsuredDaemons {
  rootDaemon: { version: DaemonVersion; started: boolean };
  userDaemon: { client: Client<UserDaemonContract>; version: DaemonVersion; started: boolean };
}

/**
 * The one place a command's requirement is met (run.ts calls it for every command):
 *  1. 'none': nothing;
 *  2. 'daemons': both daemons, started side by side (neither needs the other to start; the
 *     session needs the root daemon only once it connects);
 *  3. 'session': the daemons, and a session: without one the user daemon connects first, with
 *     `connect`'s defaults (the kubeconfig's current context) and the command's kube flags
 *     (`connect`), as 2.x does for intercept and list.
 */
export async function ensureDaemons(
  requires: 'daemons' | 'session',
  ctx: { out: Output; env: NodeJS.ProcessEnv; startTimeoutMs: number; config?: () => Config; signal?: AbortSignal; connect?: Partial<ConnectRequest> },
): Promise<EnsuredDaemons> {
  const [rootd, userd] = await Promise.allSettled([ensureDaemon(ROOT_DAEMON, ctx), ensureDaemon(USER_DAEMON, ctx)]);
  if (rootd.status === 'fulfilled') rootd.value.client.close();
  if (rootd.status === 'rejected' || userd.status === 'rejected') {
    if (userd.status === 'fulfilled') {
      userd.value.client.close();
      // Started beside a root daemon that could not start: nothing is left half-started.
      if (userd.value.started) await stopDaemon(USER_DAEMON, ctx.env).catch(() => undefined);
    }
    // The root daemon's failure first: it is the one that needs something of the user (sudo).
    throw rootd.status === 'rejected' ? rootd.reason : (userd as PromiseRejectedResult).reason;
  }
  const root = rootd.value;
  const user = userd.value;
  if (requires === 'session') {
    const status = await user.client.sessionStatus({}, { timeoutMs: 10_000 }).catch((err: unknown) => {
      user.client.close();
      throw err;
    });
    if (!status.session) {
      try {
        ctx.out.notice(renderConnect(await connectSession(user.client, ctx)));
      } catch (err) {
        user.client.close();
        throw err;
      }
    }
  }
  return { rootDaemon: { version: root.version, started: root.started }, userDaemon: user };
}

/** True when this is the single `telepresence` executable (a Node single-executable application). */
function isPackaged(): boolean {
  try {
    return (createRequire(import.meta.url)('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    return false; // a Node without node:sea runs no single executable
  }
}

/**
 * What to run for a daemon, and with which environment. In the single executable there is no
 * bundle to name and no node to give options to (every argument goes to the program): both
 * daemons are the executable itself with a hidden command (the root daemon's,
 * `daemon-foreground`, is taken by its bootstrap, tools/release/src/sea/bootstrap.cjs), and the
 * user daemon's V8 flags go in NODE_OPTIONS or, where NODE_OPTIONS refuses one, in
 * TELEPRESENCE_V8_FLAGS, which the bootstrap applies before the bundle runs.
 */
export function daemonCommand(kind: AnyDaemonKind, env: NodeJS.ProcessEnv, packaged = isPackaged()): Entry & { env: NodeJS.ProcessEnv } {
  if (!packaged) return { ...kind.entry(env), env };
  if (kind.needsRoot) return { execPath: process.execPath, args: ['daemon-foreground'], env };
  const allowed = (flag: string) => process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!);
  const nodeOptions = [env.NODE_OPTIONS, ...USER_DAEMON_V8_FLAGS.filter(allowed)].filter(Boolean).join(' ');
  const v8Flags = USER_DAEMON_V8_FLAGS.filter((f) => !allowed(f)).join(' ');
  return { execPath: process.execPath, args: ['connector-foreground'], env: { ...env, NODE_OPTIONS: nodeOptions, ...(v8Flags ? { TELEPRESENCE_V8_FLAGS: v8Flags } : {}) } };
}

async function startDaemon(kind: AnyDaemonKind, env: NodeJS.ProcessEnv, timeoutMs: number, flags: string[] = []): Promise<void> {
  const entry = daemonCommand(kind, env);
  const dir = logsDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logFile = join(dir, `${kind.logName}.log`);
  const fd = openSync(logFile, 'a');
  let cmd = entry.execPath;
  let args = entry.args;
  const uid = process.getuid?.() ?? 0;
  if (kind.needsRoot && uid !== 0) {
    // The root daemon serves this user: it chowns its socket to us.
    cmd = 'sudo';
    args = ['--non-interactive', '--preserve-env=XDG_CACHE_HOME,HOME,TELEPRESENCE_ROOT_RUN_DIR', entry.execPath, ...entry.args];
  }
  const child = spawn(cmd, [...args, ...flags, '--owner-uid', String(uid), '--owner-gid', String(process.getgid?.() ?? 0)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: entry.env,
  });
  closeSync(fd);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnFailure: NodeJS.ErrnoException | undefined;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  // A program that cannot be run (no sudo on PATH, a deleted node binary) is reported here, not
  // by 'exit'; without a listener Node would crash the CLI with a stack trace.
  child.once('error', (err: NodeJS.ErrnoException) => {
    spawnFailure = err;
  });
  child.unref();
  const socket = kind.socket(env);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnFailure) throw spawnError(kind, cmd, spawnFailure, logFile);
    if (exited) {
      const sudoHint = kind.needsRoot && uid !== 0 ? "; the root daemon needs root: run 'sudo -v' first" : '';
      throw new TelError('user', `${kind.name} exited during start (code ${exited.code ?? exited.signal})`, `see ${logFile}${sudoHint}`);
    }
    if (await isAlive(socket)) return;
    await sleep(25);
  }
  throw new TelError('user', `${kind.name} did not start within ${timeoutMs} ms`, `see ${logFile}, or raise timeouts.daemonStart in config.yml`);
}

/** Why `cmd` could not be run at all, as one line with what to do about it. */
export function spawnError(kind: AnyDaemonKind, cmd: string, err: NodeJS.ErrnoException, logFile: string): TelError {
  if (cmd === 'sudo' && err.code === 'ENOENT') {
    return userError(
      `cannot start the ${kind.name}: it needs root and 'sudo' is not on PATH`,
      'install sudo (and allow this user to use it), or run the command as root',
    );
  }
  const why = err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
  return userError(`cannot start the ${kind.name}: running ${cmd} failed (${why})`, `check that ${cmd} exists and is executable; see ${logFile}`);
}

/** Ask a daemon to quit and wait until its process is gone; true when one was running. */
export async function stopDaemon(kind: AnyDaemonKind, env: NodeJS.ProcessEnv, timeoutMs = 5000): Promise<boolean> {
  let client: Client<UserDaemonContract>;
  try {
    client = await connect<UserDaemonContract>(kind.socket(env), kind.name);
  } catch (err) {
    if (err instanceof NotRunningError) return false;
    throw err;
  }
  const { pid } = await client.version({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS });
  await client.quit({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }).catch(() => undefined);
  client.close();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid) && !(await isAlive(kind.socket(env)))) return true;
    await sleep(25);
  }
  throw new TelError('user', `${kind.name} (pid ${pid}) did not stop within ${timeoutMs} ms`, `stop it with 'kill ${pid}'`);
}

/** Alive = exists and is not a zombie (an exited daemon waits for a slow init to reap it). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
