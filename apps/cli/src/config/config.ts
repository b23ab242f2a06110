// config.yml (`$XDG_CONFIG_HOME/telepresence/config.yml`): the keys of Telepresence 2.x that this
// implementation honours. A bad value is a config error naming the file, the key and the value.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configError } from '@tel/errors';
import { isLevel, type Level } from '@tel/logging';
import { validateRegistry } from '@tel/version';

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

/** Top-level sections of 2.x config files that are accepted (and ignored) so existing files load. */
const ACCEPTED_2X_SECTIONS = new Set(['cloud', 'grpc', 'telepresenceAPI', 'intercept', 'routing', 'helm', 'client']);

/** `30s`, `1m30s`, `500ms`, `2m` or a number of seconds, as 2.x accepts; returns milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v * 1000;
  if (typeof v !== 'string') return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  return matched === v.length && v.length > 0 && total > 0 ? total : undefined;
}

export function loadConfig(file: string): Config {
  const config: Config = structuredClone(DEFAULT_CONFIG);
  if (!existsSync(file)) return config;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw configError(`${file} is not valid YAML: ${first}`, `fix the syntax in ${file}`);
  }
  if (doc === null || doc === undefined) return config;
  const bad = (key: string, value: unknown, expected: string) =>
    configError(`${file}: ${key} has invalid value ${JSON.stringify(value)}: expected ${expected}`, `fix ${key} in ${file}`);
  if (!isObject(doc)) throw bad('(top level)', doc, 'a mapping of sections');

  for (const [section, body] of Object.entries(doc)) {
    if (ACCEPTED_2X_SECTIONS.has(section)) continue;
    if (!(section in DEFAULT_CONFIG)) {
      throw configError(`${file}: unknown key ${section}`, `remove it or check its spelling (known: ${[...Object.keys(DEFAULT_CONFIG), ...ACCEPTED_2X_SECTIONS].join(', ')})`);
    }
    if (!isObject(body)) throw bad(section, body, 'a mapping');
    for (const [key, value] of Object.entries(body)) {
      const path = `${section}.${key}`;
      switch (section) {
        case 'images':
          if (key === 'registry') {
            if (typeof value !== 'string') throw bad(path, value, 'host[:port][/path]');
            config.images.registry = validateRegistry(value, `${file} key ${path}`);
          } else if (!['agentImage', 'clientImage', 'webhookRegistry', 'webhookAgentImage'].includes(key)) {
            throw configError(`${file}: unknown key ${path}`, 'known: images.registry');
          }
          break;
        case 'timeouts': {
          const known = ['trafficManagerConnect', 'trafficManagerAPI', 'daemonStart', 'agentInstall'] as const;
          const ms = parseDuration(value);
          if ((known as readonly string[]).includes(key)) {
            if (ms === undefined) throw bad(path, value, "a duration such as '30s' or '1m'");
            config.timeouts[key as (typeof known)[number]] = ms;
          } else if (ms === undefined) {
            // Other 2.x timeouts (intercept, helm...) are accepted when well-formed.
            throw bad(path, value, "a duration such as '30s' or '1m'");
          }
          break;
        }
        case 'dns':
          if (key === 'includeSuffixes' || key === 'excludeSuffixes') {
            if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(v))) {
              throw bad(path, value, "a list of DNS suffixes such as ['.corp', '.internal']");
            }
            config.dns[key] = value.map((v: string) => v.toLowerCase().replace(/^\.?/, '.'));
          } else if (key === 'lookupTimeout') {
            const ms = parseDuration(value);
            if (ms === undefined) throw bad(path, value, "a duration such as '4s'");
            config.dns.lookupTimeout = ms;
          } else if (!['localIP', 'remoteIP'].includes(key)) {
            throw configError(`${file}: unknown key ${path}`, 'known: dns.includeSuffixes, dns.excludeSuffixes, dns.lookupTimeout');
          }
          break;
        case 'logLevels':
          if (key !== 'userDaemon' && key !== 'rootDaemon') throw configError(`${file}: unknown key ${path}`, 'known: logLevels.userDaemon, logLevels.rootDaemon');
          if (typeof value !== 'string' || !isLevel(value)) throw bad(path, value, 'one of error, warn, info, debug, trace');
          config.logLevels[key] = value;
          break;
      }
    }
  }
  return config;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
