// How programs on this Linux machine resolve names, read (never changed) before the DNS session
// picks its mode: glibc reaches systemd-resolved either through /etc/resolv.conf naming its stub
// listener (Debian/Ubuntu) or through the `resolve` NSS module (Fedora); otherwise giving resolved
// our routing domains would change nothing for most programs, and the nameserver takeover
// (override mode) is what works.
import { lstat, readFile, readlink } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';
import type { SystemResolverView } from '@tel/contracts';
import { parseResolvConf, type NameserverAddress } from './upstream.js';

/** resolved's stub listeners: 127.0.0.53 (with search domains) and 127.0.0.54 (proxy only). */
const RESOLVED_STUBS = new Set(['127.0.0.53', '127.0.0.54']);
/** glibc's nameserver when resolv.conf names none (or cannot be read). */
export const GLIBC_DEFAULT_NAMESERVER: NameserverAddress = { ip: '127.0.0.1', port: 53 };

export interface SystemResolverFiles {
  resolvConf: string;
  nsswitchConf: string;
}
const FILES: SystemResolverFiles = { resolvConf: '/etc/resolv.conf', nsswitchConf: '/etc/nsswitch.conf' };

export interface SystemResolver {
  view: SystemResolverView;
  /** The nameservers glibc asks (resolv.conf's, or glibc's default when it names none). */
  nameservers: NameserverAddress[];
  /** glibc-based programs reach systemd-resolved (so its per-link domains matter to them). */
  reachesResolved: boolean;
}

/** The `hosts:` sources of an nsswitch.conf ("files dns"), or undefined when it has none. */
export function nsswitchHosts(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*hosts\s*:\s*(.*?)\s*(#.*)?$/.exec(line);
    if (m) return m[1]!.replace(/\s+/g, ' ');
  }
  return undefined;
}

/** Reads resolv.conf (following and describing a symlink) and nsswitch.conf's hosts line. */
export async function inspectSystemResolver(files: SystemResolverFiles = FILES): Promise<SystemResolver> {
  let describe: string;
  let text = '';
  const link = await lstat(files.resolvConf).catch(() => undefined);
  if (!link) describe = `${files.resolvConf} is missing`;
  else {
    const target = link.isSymbolicLink() ? resolve(dirname(files.resolvConf), await readlink(files.resolvConf)) : undefined;
    const content = await readFile(files.resolvConf, 'utf8').catch(() => undefined);
    if (target && content === undefined) describe = `${files.resolvConf} is a symlink to ${target}, which does not exist`;
    else {
      text = content ?? '';
      const what = target ? `${files.resolvConf} → ${target}` : files.resolvConf;
      const servers = parseResolvConf(text).map((s) => s.ip);
      describe = servers.length ? `${what} (nameserver ${servers.join(', ')})` : `${what} names no nameserver`;
    }
  }
  const hosts = nsswitchHosts(await readFile(files.nsswitchConf, 'utf8').catch(() => ''));
  const parsed = parseResolvConf(text);
  const nameservers = parsed.length ? parsed : [GLIBC_DEFAULT_NAMESERVER];
  const viaStub = parsed.length > 0 && parsed.every((s) => RESOLVED_STUBS.has(s.ip));
  const viaNss = (hosts ?? '').split(' ').includes('resolve');
  return {
    view: { resolvConf: describe, nsswitchHosts: hosts ?? `${files.nsswitchConf} has no hosts line (glibc: dns, files)` },
    nameservers,
    reachesResolved: viaStub || viaNss,
  };
}
