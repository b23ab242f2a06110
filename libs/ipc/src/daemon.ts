// What every local daemon shares: parse its start flags, serve its contract on its socket, answer
// version/quit/setLogLevel, and shut down cleanly on quit or SIGTERM/SIGINT.
import { startCpuProfileFromEnv } from './cpu-profile.js';
import type { Server } from 'node:net';
import { rmSync } from 'node:fs';
import type { DaemonVersion, Empty, SetLogLevelRequest } from '@tel/contracts';
import { userError } from '@tel/errors';
import { LEVELS_2X, createLogger, levelFrom2x, type Level, type Logger } from '@tel/logging';
import { buildVersion } from '@tel/version';
import { serve, type Handlers, type ServeOptions } from './index.js';
import type { Contract } from '@tel/contracts';

export interface DaemonFlags {
  ownerUid: number;
  ownerGid: number;
}

/** `--owner-uid N --owner-gid N`, passed by the CLI that starts the daemon. */
export function parseDaemonFlags(argv: string[]): DaemonFlags {
  const num = (flag: string, fallback: number) => {
    const i = argv.indexOf(flag);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 0) throw userError(`invalid ${flag} ${JSON.stringify(argv[i + 1])}`, 'pass a numeric id');
    return n;
  };
  return { ownerUid: num('--owner-uid', process.getuid?.() ?? 0), ownerGid: num('--owner-gid', process.getgid?.() ?? 0) };
}

/** The methods every daemon contract has. */
export interface LifecycleMethods {
  version(req: Empty): Promise<DaemonVersion>;
  quit(req: Empty): Promise<Empty>;
  setLogLevel(req: SetLogLevelRequest): Promise<Empty>;
}

/**
 * Every daemon's `setLogLevel`: a 2.x level name, for `durationMs` (then `configured`, the level
 * given at start from config.yml's logLevels, comes back) or until changed again.
 */
export function logLevelHandler(log: Logger, configured: Level): LifecycleMethods['setLogLevel'] {
  return async ({ level, durationMs }) => {
    const l = levelFrom2x(level);
    if (!l) throw userError(`invalid log level ${JSON.stringify(level)}`, `use one of ${LEVELS_2X.join(', ')}`);
    if (durationMs !== undefined && !(Number.isFinite(durationMs) && durationMs >= 0)) throw userError(`invalid log level duration ${JSON.stringify(durationMs)}`, 'pass a duration such as 10m');
    log.info(`log level ${l}${durationMs ? ` for ${durationMs} ms, then ${configured}` : ''}`);
    log.setLevel(l, durationMs);
    return {};
  };
}

export interface DaemonRuntime {
  log: Logger;
  startedAt: number;
  lifecycle: LifecycleMethods;
  /** Serve the full handler table; resolves once the socket accepts connections. */
  listen<C extends Contract<C>>(handlers: Handlers<C>): Promise<Server>;
}

export function createDaemonRuntime(opts: {
  name: string;
  logName: string;
  apiVersion: number;
  socketPath: string;
  flags: DaemonFlags;
  level: Level;
  /** True while something (a session, routes, DNS) depends on the daemon. */
  busy: () => boolean;
  /** Undo whatever the daemon changed; runs once before exit. */
  cleanup?: () => Promise<void>;
  /** Per-connection peer check on top of the socket's mode (see ServeOptions.authorize). */
  access?: Pick<ServeOptions, 'authorize' | 'peerCredentials'>;
}): DaemonRuntime {
  const log = createLogger(opts.logName, { level: opts.level });
  const startedAt = Date.now();
  let server: Server | undefined;
  let stopping = false;
  const stopProfile = startCpuProfileFromEnv(opts.name);
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`shutting down: ${why}`);
    try {
      await opts.cleanup?.();
    } catch (err) {
      log.error('cleanup failed', { err: String(err) });
    }
    server?.close();
    rmSync(opts.socketPath, { force: true });
    await stopProfile?.().catch((err: unknown) => log.warn('cpu profile not written', { err: String(err) }));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const lifecycle: LifecycleMethods = {
    version: async () => ({ name: opts.name, version: buildVersion, apiVersion: opts.apiVersion, pid: process.pid, idle: !opts.busy() }),
    quit: async () => {
      // Answer first, then exit: the CLI waits for the process to be gone.
      setImmediate(() => void shutdown('quit requested'));
      return {};
    },
    setLogLevel: logLevelHandler(log, opts.level),
  };
  return {
    log,
    startedAt,
    lifecycle,
    async listen(handlers) {
      server = await serve(opts.socketPath, handlers, {
        ownerUid: opts.flags.ownerUid,
        ownerGid: opts.flags.ownerGid,
        ...opts.access,
        onError: (err) => log.warn('request failed', { err: String(err) }),
      });
      log.info(`${opts.name} ${buildVersion} listening on ${opts.socketPath}`, { pid: process.pid });
      return server;
    },
  };
}
