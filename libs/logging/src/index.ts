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
  /**
   * Change the level at run time. With `forMs` (> 0) it goes back to the level the logger was
   * created with after that long (`telepresence loglevel -d`); a later call replaces the timer.
   */
  setLevel(level: Level, forMs?: number): void;
  /** The level in force now. */
  readonly level: Level;
  readonly file: string | undefined;
}

export function isLevel(s: string): s is Level {
  return s in ORDER;
}

/** Level names as 2.x's config.yml and `telepresence loglevel` take them (logrus: `warning` or `warn`). */
export const LEVELS_2X = ['trace', 'debug', 'info', 'warning', 'error'] as const;

/** The level a 2.x name means (`warning` and `warn` are the same), or undefined: the one parser of that grammar. */
export function levelFrom2x(s: string): Level | undefined {
  const v = s.toLowerCase();
  if (v === 'warning') return 'warn';
  return isLevel(v) ? v : undefined;
}

/** `info` unless `v` names a level (e.g. an environment variable that may be unset or mistyped). */
export function parseLevel(v: string | undefined, fallback: Level = 'info'): Level {
  return v && isLevel(v) ? v : fallback;
}

export interface LoggerOptions {
  level?: Level;
  dir?: string;
  /**
   * Write lines here instead of a file: the cluster image's roles log to stdout, where
   * `kubectl logs` finds them. `name` is then only the scope.
   */
  stream?: { write(line: string): unknown };
}

/**
 * A logger appending to `<logsDir>/<name>.log` (or writing to `opts.stream`); with neither a name
 * nor a stream it discards everything.
 */
export function createLogger(name: string | undefined, opts: LoggerOptions = {}): Logger {
  const configured: Level = opts.level ?? 'info';
  const state: { level: Level; revert?: NodeJS.Timeout } = { level: configured };
  let file: string | undefined;
  const stream = opts.stream;
  if (name && !stream) {
    const dir = opts.dir ?? logsDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    file = join(dir, `${name}.log`);
  }
  const make = (scope: string): Logger => {
    const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if ((!file && !stream) || ORDER[level] > ORDER[state.level]) return;
      const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${buildVersion} [${scope}] ${msg}${extra}\n`;
      if (stream) stream.write(line);
      // Synchronous on purpose: a daemon that crashes right after logging must not lose the line.
      else appendFileSync(file!, line);
    };
    return {
      error: (m, f) => write('error', m, f),
      warn: (m, f) => write('warn', m, f),
      info: (m, f) => write('info', m, f),
      debug: (m, f) => write('debug', m, f),
      child: (s) => make(`${scope}/${s}`),
      setLevel: (l, forMs) => {
        clearTimeout(state.revert);
        state.revert = undefined;
        state.level = l;
        if (forMs && forMs > 0) {
          // unref: a pending revert must not keep a daemon that is otherwise done alive.
          state.revert = setTimeout(() => {
            state.level = configured;
            state.revert = undefined;
            // Timers overflow past 2^31-1 ms (24.8 days) and would fire at once: cap there.
          }, Math.min(forMs, 2 ** 31 - 1)).unref();
        }
      },
      get level() {
        return state.level;
      },
      get file() {
        return file;
      },
    };
  };
  return make(name ?? 'main');
}
