// The one logger: each process writes one log file (cli.log, connector.log, daemon.log) under the
// user's cache dir; every line carries the version, an ISO time and the request scope.
import { appendFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildVersion } from '@tel/version';

export type Level = 'error' | 'warn' | 'info' | 'debug' | 'trace';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** `$XDG_CACHE_HOME/telepresence/logs`, the place `gather-logs` and error hints point at. */
export function logsDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'telepresence', 'logs');
}

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry `scope` (e.g. a request id or subsystem). */
  child(scope: string): Logger;
  setLevel(level: Level): void;
  readonly file: string | undefined;
}

export function isLevel(s: string): s is Level {
  return s in ORDER;
}

/** A logger appending to `<logsDir>/<name>.log`; with no name it discards everything. */
export function createLogger(name: string | undefined, opts: { level?: Level; dir?: string } = {}): Logger {
  const state = { level: opts.level ?? 'info' };
  let file: string | undefined;
  if (name) {
    const dir = opts.dir ?? logsDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    file = join(dir, `${name}.log`);
  }
  const make = (scope: string): Logger => {
    const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if (!file || ORDER[level] > ORDER[state.level]) return;
      const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      // Synchronous on purpose: a daemon that crashes right after logging must not lose the line.
      appendFileSync(file, `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${buildVersion} [${scope}] ${msg}${extra}\n`);
    };
    return {
      error: (m, f) => write('error', m, f),
      warn: (m, f) => write('warn', m, f),
      info: (m, f) => write('info', m, f),
      debug: (m, f) => write('debug', m, f),
      child: (s) => make(`${scope}/${s}`),
      setLevel: (l) => {
        state.level = l;
      },
      get file() {
        return file;
      },
    };
  };
  return make(name ?? 'main');
}
