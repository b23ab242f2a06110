// The two socket options the daemons need and Node doesn't expose, through koffi (libc's
// getsockopt): who is at the other end of a unix socket (SO_PEERCRED: the daemons' sockets serve
// only root and the session's user) and where a REDIRECTed TCP connection was going
// (SO_ORIGINAL_DST: the user daemon's TCP listener and the root daemon's fallback proxy).
import { createRequire } from 'node:module';
import type * as KoffiNs from 'koffi';

const require = createRequire(import.meta.url);

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SOL_IP = 0;
const SO_ORIGINAL_DST = 80;

/** A failed getsockopt, with its errno (ENOENT = 2: no original destination, not redirected). */
export class SockoptError extends Error {
  constructor(
    readonly option: string,
    readonly errno: number,
  ) {
    super(`getsockopt ${option} failed (errno ${errno})`);
  }
}

interface Lib {
  k: typeof KoffiNs;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
}

let libc: Lib | undefined;
function lib(): Lib {
  if (libc) return libc;
  // koffi is a native addon kept external to the bundles (copied beside them).
  const k = require('koffi') as typeof KoffiNs;
  const c = k.load('libc.so.6');
  libc = { k, getsockopt: c.func('int getsockopt(int, int, int, void *, void *)') };
  return libc;
}

function getsockopt(fd: number, level: number, name: number, option: string, size: number): Buffer {
  const v = Buffer.alloc(size);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(size, 0);
  const l = lib();
  if (l.getsockopt(fd, level, name, v, len) < 0) throw new SockoptError(option, l.k.errno());
  return v;
}

/** Who is at the other end of a connected unix socket (SO_PEERCRED). */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const v = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, 'SO_PEERCRED', 12);
  return { pid: v.readInt32LE(0), uid: v.readUInt32LE(4), gid: v.readUInt32LE(8) };
}

/**
 * Where a connection accepted from a REDIRECT rule was going before the kernel rewrote it to our
 * listener (SO_ORIGINAL_DST, IPv4). Needs no privilege. A connection dialled straight to the
 * listener reports the listener's own address (conntrack's tuple), or throws SockoptError (ENOENT)
 * where conntrack has no entry for it.
 */
export function originalDestination(fd: number): { ip: string; port: number } {
  const v = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, 'SO_ORIGINAL_DST', 16);
  return { ip: `${v[4]}.${v[5]}.${v[6]}.${v[7]}`, port: v.readUInt16BE(2) };
}
