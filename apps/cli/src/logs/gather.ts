// `gather-logs`: which local log files a `--daemons` choice means, the workstation's identifying
// names for --anonymize, and the zip, written whole or not at all.
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { userError } from '@tel/errors';
import type { Anonymizer } from './anonymize.js';
import type { LogEntry } from './cluster-logs.js';

/** The log names (`<name>.log` in logsDir) of each `--daemons` word; 2.x's words and ours. */
const DAEMON_WORDS: Record<string, string[]> = {
  all: ['cli', 'connector', 'daemon'],
  user: ['connector'],
  connector: ['connector'],
  root: ['daemon'],
  daemon: ['daemon'],
  cli: ['cli'],
  none: [],
};

/** `--daemons all|user|root|none` (2.x: a comma-separated list, `None` capitalised) → log names. */
export function parseDaemons(value: string): string[] {
  const names = new Set<string>();
  for (const word of value.split(',').map((w) => w.trim().toLowerCase())) {
    const logs = DAEMON_WORDS[word];
    if (!logs) throw userError(`invalid --daemons ${JSON.stringify(value)}`, 'use all, user, root or none (or a comma-separated list of them)');
    for (const l of logs) names.add(l);
  }
  return [...names];
}

/**
 * The non-empty log files of `names` in `logsDir`: `connector.log`, and what a rotation left beside
 * it (`connector.log.1`).
 */
export function localLogs(logsDir: string, names: string[]): LogEntry[] {
  if (!existsSync(logsDir)) return [];
  return readdirSync(logsDir)
    .filter((f) => names.some((n) => f === `${n}.log` || f.startsWith(`${n}.log.`)))
    .sort()
    .map((f) => join(logsDir, f))
    .filter((p) => statSync(p).isFile() && statSync(p).size > 0)
    .map((p) => ({ name: basename(p), source: p, content: readFileSync(p, 'utf8') }));
}

/** What names this workstation and its user: the login name(s) and the host name (and its first label). */
export function addWorkstationNames(anonymizer: Anonymizer, env: NodeJS.ProcessEnv): void {
  let login: string | undefined;
  try {
    login = userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): the environment's names still count
  }
  for (const u of [login, env.USER, env.LOGNAME, env.SUDO_USER]) anonymizer.add('user', u);
  const host = hostname();
  anonymizer.add('host', host);
  anonymizer.add('host', host.split('.')[0]);
}

/** The default output file, as 2.x names it, in the current directory. */
export function defaultZipName(now = new Date()): string {
  return `telepresence_logs_${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.zip`;
}

/** Checks `file` before anything is gathered: a .zip whose directory exists. */
export function checkZipPath(file: string): void {
  if (!file.endsWith('.zip')) throw userError(`output file ${JSON.stringify(file)} must end in .zip`, 'name it e.g. logs.zip');
  if (!existsSync(dirname(file))) throw userError(`cannot write ${file}: directory ${dirname(file)} does not exist`, 'create it or write elsewhere');
}

/**
 * Writes the zip: to a temporary name beside `file`, then renamed, so a failure leaves no partial
 * zip. Entries with the same name (a pod in two namespaces) get a numeric suffix.
 */
export async function writeZip(file: string, entries: LogEntry[]): Promise<{ name: string; bytes: number; source: string }[]> {
  // Loaded here: fflate builds its tables when loaded, which every CLI start and the user daemon paid.
  const { strToU8, zipSync } = await import('fflate');
  const files: Record<string, Uint8Array> = {};
  const written: { name: string; bytes: number; source: string }[] = [];
  for (const e of entries) {
    let name = e.name;
    for (let i = 2; name in files; i++) name = e.name.replace(/(\.log)?$/, `-${i}$1`);
    const bytes = strToU8(e.content);
    files[name] = bytes;
    written.push({ name, bytes: bytes.length, source: e.source });
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, zipSync(files, { level: 6 }), { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw userError(`cannot write ${file}: ${(err as Error).message}`, 'check that the directory is writable');
  }
  return written;
}
