// How a test workstation resolves names, pinned inside its own mount namespace so that no test
// depends on how the machine running it is set up: /etc is an overlay carrying our own
// nsswitch.conf and resolv.conf, in one of the two ways desktop Linux points glibc at
// systemd-resolved. Used by the test cluster's workstation and by the root daemon's DNS sandbox.
import { join } from 'node:path';

/**
 * - `stub` (Debian/Ubuntu desktops): `hosts: files dns`, and /etc/resolv.conf is a symlink to
 *   resolved's managed stub-resolv.conf, whose `search` line resolved rewrites when a link's search
 *   domains change. glibc applies the search domains; the stub answers.
 * - `nss-resolve` (Fedora): glibc asks resolved itself through the `resolve` NSS module, which
 *   applies search domains and per-link routing; resolv.conf is a static stub file with no search
 *   line that could help, so only the NSS path can make single-label names work.
 */
export type ResolverFlavour = 'stub' | 'nss-resolve';
export const RESOLVER_FLAVOURS: readonly ResolverFlavour[] = ['stub', 'nss-resolve'];

/** Where resolved (252) writes the stub file it keeps current. */
export const RESOLVED_STUB_RESOLV_CONF = '/run/systemd/resolve/stub-resolv.conf';

/** The glibc module the nss-resolve flavour needs (Debian: libnss-resolve). */
export const NSS_RESOLVE_MODULE = '/lib/x86_64-linux-gnu/libnss_resolve.so.2';

const NSSWITCH_COMMON = ['passwd:         files', 'group:          files', 'shadow:         files', 'gshadow:        files'];
const NSSWITCH_TAIL = ['networks:       files', 'protocols:      db files', 'services:       db files', 'ethers:         db files', 'rpc:            db files', 'netgroup:       nis'];

/** nsswitch.conf of a workstation flavour (the `hosts:` line is what differs). */
export function nsswitchConf(flavour: ResolverFlavour): string {
  const hosts = flavour === 'nss-resolve' ? 'hosts:          files resolve [!UNAVAIL=return] dns' : 'hosts:          files dns';
  return [...NSSWITCH_COMMON, hosts, ...NSSWITCH_TAIL].join('\n') + '\n';
}

/** A resolv.conf pointing at resolved's stub listener, without any search domain. */
export const STATIC_STUB_RESOLV_CONF = 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n';

/** Files (under `dir`) the scripts below bind or copy from; written by `workstationEtcFiles`. */
export function workstationEtcFiles(dir: string): Record<string, string> {
  return {
    [join(dir, 'nsswitch.stub.conf')]: nsswitchConf('stub'),
    [join(dir, 'nsswitch.nss-resolve.conf')]: nsswitchConf('nss-resolve'),
    [join(dir, 'resolv.static.conf')]: STATIC_STUB_RESOLV_CONF,
  };
}

export interface EtcOverlayOptions {
  /** Holds the files of `workstationEtcFiles`. */
  dir: string;
  /** A tmpfs of the namespace for the overlay's upper and work dirs (e.g. its private /run). */
  scratch: string;
  /** The base flavour of the namespace. */
  flavour: ResolverFlavour;
  /**
   * resolv.conf content instead of the flavour's (a workstation without resolved: the
   * overriding resolver's world). Unset: the stub symlink (stub) or the static stub file.
   */
  resolvConf?: string;
  /** Make /etc/resolv.conf a symlink to this path instead (it may not exist: a broken machine). */
  resolvConfSymlink?: string;
  /** Extra files to place in /etc (path under /etc → host file to copy), e.g. resolved.conf. */
  copies?: Record<string, string>;
}

/**
 * Shell lines (run inside a fresh private mount namespace, after `scratch` is mounted) that put
 * an overlay over /etc — the host's /etc below, never written — and pin name resolution in it.
 */
export function etcOverlayScript(o: EtcOverlayOptions): string[] {
  const upper = join(o.scratch, '.etc-overlay', 'upper');
  const work = join(o.scratch, '.etc-overlay', 'work');
  const lines = [
    `mkdir -p ${upper} ${work}`,
    `mount -n -t overlay tptc-etc -o lowerdir=/etc,upperdir=${upper},workdir=${work} /etc`,
    `cp ${join(o.dir, `nsswitch.${o.flavour}.conf`)} /etc/nsswitch.conf`,
    'rm -f /etc/resolv.conf',
  ];
  if (o.resolvConfSymlink !== undefined) lines.push(`ln -s ${o.resolvConfSymlink} /etc/resolv.conf`);
  else if (o.resolvConf !== undefined) lines.push(`cp ${join(o.dir, 'resolv.given.conf')} /etc/resolv.conf`);
  else if (o.flavour === 'stub') lines.push(`ln -s ${RESOLVED_STUB_RESOLV_CONF} /etc/resolv.conf`);
  else lines.push(`cp ${join(o.dir, 'resolv.static.conf')} /etc/resolv.conf`);
  for (const [to, from] of Object.entries(o.copies ?? {})) lines.push(`mkdir -p $(dirname ${to})`, `cp ${from} ${to}`);
  return lines;
}

/** The resolv.conf file `etcOverlayScript` copies when `resolvConf` is given. */
export function givenResolvConfFile(dir: string): string {
  return join(dir, 'resolv.given.conf');
}

/** A broken resolv.conf for one command's world (bad-input tests). */
export type ResolvConfOverride = { symlinkTo: string } | 'empty';

/**
 * argv prefix that runs a command in a child mount namespace of a workstation, seeing the world
 * of `flavour` (nsswitch.conf, and the static stub resolv.conf unless the namespace has its own:
 * `keepResolvConf`) and, when given, a broken resolv.conf. The workstation's resolved, DBus and
 * /run are shared; daemons the command starts stay in that world. Empty when nothing differs.
 */
export function flavourPrefix(flavour: ResolverFlavour, dir: string, opts: { keepResolvConf?: boolean; resolvConf?: ResolvConfOverride } = {}): string[] {
  if (flavour === 'stub' && !opts.resolvConf) return [];
  // A second overlay on top of the workstation's /etc, its upper dir on a tmpfs private to this
  // child: nothing the child does reaches the workstation, and no file needs to exist beforehand.
  const scratch = join(dir, 'flavour-scratch');
  const upper = join(scratch, 'upper');
  const work = join(scratch, 'work');
  const steps = [
    `mkdir -p ${scratch}`,
    `mount -n -t tmpfs tptc-flavour ${scratch}`,
    `mkdir ${upper} ${work}`,
    `mount -n -t overlay tptc-etc-flavour -o lowerdir=/etc,upperdir=${upper},workdir=${work} /etc`,
    `cp ${join(dir, `nsswitch.${flavour}.conf`)} /etc/nsswitch.conf`,
  ];
  const rc = opts.resolvConf;
  if (rc === 'empty') steps.push('rm -f /etc/resolv.conf', ': > /etc/resolv.conf');
  else if (rc) steps.push('rm -f /etc/resolv.conf', `ln -s ${rc.symlinkTo} /etc/resolv.conf`);
  else if (flavour === 'nss-resolve' && !opts.keepResolvConf) steps.push('rm -f /etc/resolv.conf', `cp ${join(dir, 'resolv.static.conf')} /etc/resolv.conf`);
  return ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', `${steps.join(' && ')} && exec "$@"`, 'sh'];
}
