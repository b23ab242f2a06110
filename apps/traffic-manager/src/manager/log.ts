// The manager's logger: one line per event on stdout (`kubectl logs` is where operators look),
// in the same shape as the workstation logs: ISO time, level, version, [scope], message, fields.
import { buildVersion } from '@tel/version';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface ManagerLogger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): ManagerLogger;
}

export function stdoutLogger(level: LogLevel = 'info', scope = 'manager', out: { write(s: string): unknown } = process.stdout): ManagerLogger {
  const write = (l: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] > ORDER[level]) return;
    const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
    out.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} ${buildVersion} [${scope}] ${msg}${extra}\n`);
  };
  return {
    error: (m, f) => write('error', m, f),
    warn: (m, f) => write('warn', m, f),
    info: (m, f) => write('info', m, f),
    debug: (m, f) => write('debug', m, f),
    child: (s) => stdoutLogger(level, `${scope}/${s}`, out),
  };
}

export function parseLogLevel(v: string | undefined): LogLevel {
  return v && v in ORDER ? (v as LogLevel) : 'info';
}
