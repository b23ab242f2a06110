// config.yml (`$XDG_CONFIG_HOME/telepresence/config.yml`): the keys of Telepresence 2.x that this
// implementation honours (keys-2x.ts lists them and the 2.x keys it ignores). A bad value is a
// config error naming the file, the key and the value.
import { existsSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { configError } from '@tel/errors';
import { LEVELS_2X, levelFrom2x, type Level } from '@tel/logging';
import { validateRegistry } from '@tel/version';
import { HONOURED_KEYS, IGNORED_2X_KEYS, ignoredKeysWarning, isKnownSection, keyStatus } from './keys-2x.js';

export interface Config {
  images: {
    /** Registry cluster images are installed from; overrides the build's default. */
    registry?: string;
  };
  timeouts: {
    /** Milliseconds to wait for the port-forward to the traffic manager. */
    trafficManagerConnect: number;
    /** Milliseconds to wait for a traffic-manager API call. */
    trafficManagerAPI: number;
    /** Milliseconds to wait for a daemon to come up and answer. */
    daemonStart: number;
    /** Milliseconds an intercept may take to install the traffic agent (rollout included) and become active. */
    agentInstall: number;
  };
  logLevels: { userDaemon: Level; rootDaemon: Level };
  dns: {
    /** Names ending with one of these always go to the cluster, as they are. */
    includeSuffixes: string[];
    /** Names ending with one of these are resolved by the upstream nameserver, never the cluster. */
    excludeSuffixes: string[];
    /** Milliseconds before an unanswered lookup gets SERVFAIL. */
    lookupTimeout: number;
  };
}

export const DEFAULT_CONFIG: Config = {
  images: {},
  timeouts: { trafficManagerConnect: 60_000, trafficManagerAPI: 15_000, daemonStart: 10_000, agentInstall: 120_000 },
  logLevels: { userDaemon: 'info', rootDaemon: 'info' },
  // Unlike 2.x's default exclude list (.com .io .net ...), nothing is excluded by default: names in
  // those TLDs already fall back to the upstream resolver unless they name a cluster service.
  dns: { includeSuffixes: [], excludeSuffixes: [], lookupTimeout: 8_000 },
};

/** `30s`, `1m30s`, `500ms`, `2m` or a number of seconds, as 2.x accepts; returns milliseconds. `0`/`0s` only with `allowZero`. */
export function parseDuration(v: unknown, opts: { allowZero?: boolean } = {}): number | undefined {
  const ok = (ms: number) => (ms > 0 || (opts.allowZero && ms === 0) ? ms : undefined);
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? ok(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  if (opts.allowZero && v === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  return matched === v.length && v.length > 0 ? ok(total) : undefined;
}

/** Milliseconds in the grammar parseDuration reads (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}

/**
 * config.yml with the defaults filled in. `warn` gets one line naming the 2.x keys that have no
 * effect here (run.ts shows it, the user daemon logs it), so none is dropped silently.
 */
export function loadConfig(file: string, warn?: (line: string) => void): Config {
  const { config, ignored } = readConfig(file);
  const line = ignoredKeysWarning(file, ignored);
  if (line && warn) warn(line);
  return config;
}

/** The effective config and the 2.x keys of the file that are accepted but ignored (`timeouts.helm`). */
export function readConfig(file: string): { config: Config; ignored: string[] } {
  const config: Config = structuredClone(DEFAULT_CONFIG);
  const ignored: string[] = [];
  if (!existsSync(file)) return { config, ignored };
  let doc: unknown;
  try {
    doc = load(readFileSync(file, 'utf8'));
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw configError(`${file} is not valid YAML: ${first}`, `fix the syntax in ${file}`);
  }
  if (doc === null || doc === undefined) return { config, ignored };
  const bad = (key: string, value: unknown, expected: string) =>
    configError(`${file}: ${key} has invalid value ${JSON.stringify(value)}: expected ${expected}`, `fix ${key} in ${file}`);
  const duration = (path: string, value: unknown) => {
    const ms = parseDuration(value);
    if (ms === undefined) throw bad(path, value, "a duration such as '30s' or '1m'");
    return ms;
  };
  if (!isObject(doc)) throw bad('(top level)', doc, 'a mapping of sections');

  for (const [section, body] of Object.entries(doc)) {
    if (!isKnownSection(section)) {
      throw configError(`${file}: unknown key ${section}`, `remove it or check its spelling (known: ${Object.keys({ ...HONOURED_KEYS, ...IGNORED_2X_KEYS }).join(', ')})`);
    }
    if (IGNORED_2X_KEYS[section] === '*') {
      ignored.push(...(isObject(body) && Object.keys(body).length ? Object.keys(body).map((k) => `${section}.${k}`) : [section]));
      continue;
    }
    if (!isObject(body)) throw bad(section, body, 'a mapping');
    for (const [key, value] of Object.entries(body)) {
      const path = `${section}.${key}`;
      const status = keyStatus(section, key);
      if (status === 'unknown') throw configError(`${file}: unknown key ${path}`, `known: ${[...(HONOURED_KEYS[section] ?? []), ...(IGNORED_2X_KEYS[section] ?? [])].map((k) => `${section}.${k}`).join(', ')}`);
      if (status === 'ignored') {
        // An ignored timeout is still checked: a typo there is one the user would want to hear of.
        if (section === 'timeouts') duration(path, value);
        ignored.push(path);
        continue;
      }
      switch (section) {
        case 'images':
          if (typeof value !== 'string') throw bad(path, value, 'host[:port][/path]');
          config.images.registry = validateRegistry(value, `${file} key ${path}`);
          break;
        case 'timeouts':
          config.timeouts[key as keyof Config['timeouts']] = duration(path, value);
          break;
        case 'dns':
          if (key === 'includeSuffixes' || key === 'excludeSuffixes') {
            if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(v))) {
              throw bad(path, value, "a list of DNS suffixes such as ['.corp', '.internal']");
            }
            config.dns[key] = value.map((v: string) => v.toLowerCase().replace(/^\.?/, '.'));
          } else {
            config.dns.lookupTimeout = duration(path, value);
          }
          break;
        case 'logLevels': {
          const level = typeof value === 'string' ? levelFrom2x(value) : undefined;
          if (!level) throw bad(path, value, `one of ${LEVELS_2X.join(', ')}`);
          config.logLevels[key as keyof Config['logLevels']] = level;
          break;
        }
      }
    }
  }
  return { config, ignored };
}

/** The effective config as config.yml would spell it (durations as `1m30s`): `telepresence config view`. */
export function configDocument(config: Config): Record<string, unknown> {
  const durations = <T extends Record<string, number>>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, formatDuration(v)]));
  return {
    images: { ...config.images },
    timeouts: durations(config.timeouts),
    logLevels: { ...config.logLevels },
    dns: { includeSuffixes: [...config.dns.includeSuffixes], excludeSuffixes: [...config.dns.excludeSuffixes], lookupTimeout: formatDuration(config.dns.lookupTimeout) },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
