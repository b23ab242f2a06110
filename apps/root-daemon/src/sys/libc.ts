// Thin koffi bindings to the few libc calls Node doesn't expose (TUN ioctl, SO_ORIGINAL_DST,
// SO_PEERCRED, transparent UDP sockets). Boundary: root daemon ↔ Linux kernel. Linux x86-64/arm64.
import { createRequire } from 'node:module';
import type * as KoffiNs from 'koffi';
import { originalDestination, peerCredentials } from '@tel/sockopt';

// koffi is a CommonJS native addon kept external to the bundle; load it lazily so that modules
// importing this file (and their unit tests) don't need it until a syscall is made.
const require = createRequire(import.meta.url);
let koffiMod: typeof KoffiNs | undefined;
export function koffi(): typeof KoffiNs {
  koffiMod ??= require('koffi') as typeof KoffiNs;
  return koffiMod;
}

export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SOL_IP = 0;
export const IP_TRANSPARENT = 19;
export const IP_RECVORIGDSTADDR = 20;
export const IP_ORIGDSTADDR = 20;
export const MSG_DONTWAIT = 0x40;
export const EAGAIN = 11;
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;

interface Libc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, req: number, arg: Buffer): number;
  socket(domain: number, type: number, proto: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: Buffer): number;
  bind(fd: number, addr: Buffer, len: number): number;
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  recvmsg(fd: number, msg: Buffer, flags: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  strerror(errnum: number): string;
  if_nametoindex(name: string): number;
}

let libc: Libc | undefined;
function lib(): Libc {
  if (libc) return libc;
  const k = koffi();
  const c = k.load('libc.so.6');
  libc = {
    open: c.func('int open(const char *path, int flags)'),
    close: c.func('int close(int fd)'),
    ioctl: c.func('int ioctl(int fd, unsigned long req, void *arg)'),
    socket: c.func('int socket(int domain, int type, int proto)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
    getsockopt: c.func('int getsockopt(int fd, int level, int name, void *val, void *len)'),
    bind: c.func('int bind(int fd, const void *addr, uint32_t len)'),
    getsockname: c.func('int getsockname(int fd, void *addr, void *len)'),
    recvmsg: c.func('long recvmsg(int fd, void *msg, int flags)'),
    sendto: c.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    strerror: c.func('const char *strerror(int errnum)'),
    if_nametoindex: c.func('unsigned int if_nametoindex(const char *name)'),
  } as Libc;
  return libc;
}

/** An errno-carrying error, like Node's own syscall errors. */
export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall}: ${lib().strerror(errno)} (errno ${errno})`);
  }
}

function check(syscall: string, ret: number): number {
  if (ret < 0) throw new SyscallError(syscall, koffi().errno());
  return ret;
}

/** Returns -errno instead of throwing: for hot paths where EAGAIN is routine. */
function soft(ret: number): number {
  return ret < 0 ? -koffi().errno() : ret;
}

export function closeFd(fd: number): void {
  lib().close(fd);
}

/** Open /dev/net/tun and attach it to a TUN link `name` (created if missing). Returns the fd. */
export function openTun(name: string): number {
  const fd = check('open /dev/net/tun', lib().open('/dev/net/tun', O_RDWR | O_CLOEXEC));
  const ifr = Buffer.alloc(40); // struct ifreq: char name[16]; short flags; padding
  ifr.write(name, 0, 15, 'ascii');
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, 16);
  try {
    check('ioctl TUNSETIFF', lib().ioctl(fd, TUNSETIFF, ifr));
  } catch (err) {
    lib().close(fd);
    throw err;
  }
  return fd;
}

/** ifindex of a network interface in this process's network namespace; 0 when there is none. */
export function interfaceIndex(name: string): number {
  return lib().if_nametoindex(name);
}

export interface SockAddrIn {
  ip: string;
  port: number;
}

export function encodeSockAddrIn(addr: SockAddrIn): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(addr.port, 2);
  const parts = addr.ip.split('.').map(Number);
  for (let i = 0; i < 4; i++) b[4 + i] = parts[i] ?? 0;
  return b;
}

export function decodeSockAddrIn(b: Buffer, off = 0): SockAddrIn {
  return { ip: `${b[off + 4]}.${b[off + 5]}.${b[off + 6]}.${b[off + 7]}`, port: b.readUInt16BE(off + 2) };
}

/** The pre-NAT destination of a REDIRECTed TCP connection (@tel/sockopt, shared with the user daemon). */
export const originalDst: (fd: number) => SockAddrIn = originalDestination;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Credentials of the process on the other end of a connected unix socket (@tel/sockopt, shared with the user daemon). */
export const peerCred: (fd: number) => PeerCred = peerCredentials;

/**
 * A check for a socket this daemon connects to: throws unless the process serving it runs as
 * `ownerUid` (root must not be made to talk to some other user's or root-only socket).
 */
export function servedBy(ownerUid: number, what: string): (fd: number) => void {
  return (fd) => {
    const server = peerCred(fd);
    if (server.uid !== ownerUid) throw new Error(`the ${what} is served by uid ${server.uid} (pid ${server.pid}), not by the session's user (uid ${ownerUid})`);
  };
}

function setIntOpt(fd: number, level: number, name: number, what: string): void {
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  check(`setsockopt ${what}`, lib().setsockopt(fd, level, name, one, 4));
}

/**
 * A non-blocking UDP socket with IP_TRANSPARENT bound to `addr`, which may be a non-local address
 * (that is what lets a reply leave with the original destination as its source).
 */
export function transparentUdpSocket(addr: SockAddrIn, opts: { recvOrigDst: boolean }): number {
  const fd = check('socket', lib().socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  try {
    setIntOpt(fd, SOL_SOCKET, SO_REUSEADDR, 'SO_REUSEADDR');
    setIntOpt(fd, SOL_IP, IP_TRANSPARENT, 'IP_TRANSPARENT');
    if (opts.recvOrigDst) setIntOpt(fd, SOL_IP, IP_RECVORIGDSTADDR, 'IP_RECVORIGDSTADDR');
    check(`bind ${addr.ip}:${addr.port}`, lib().bind(fd, encodeSockAddrIn(addr), 16));
  } catch (err) {
    lib().close(fd);
    throw err;
  }
  return fd;
}

/** The address a socket is bound to (to learn the port the kernel picked for port 0). */
export function localAddress(fd: number): SockAddrIn {
  const addr = Buffer.alloc(16);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(16);
  check('getsockname', lib().getsockname(fd, addr, len));
  return decodeSockAddrIn(addr);
}

/** Send one datagram without blocking; returns bytes sent or -errno. */
export function sendTo(fd: number, payload: Buffer, to: SockAddrIn): number {
  return soft(lib().sendto(fd, payload, payload.length, MSG_DONTWAIT, encodeSockAddrIn(to), 16));
}

export interface ReceivedDatagram {
  from: SockAddrIn;
  /** The destination the sender addressed (IP_ORIGDSTADDR), before TPROXY diverted it. */
  origDst: SockAddrIn;
  payload: Buffer;
}

/**
 * Reusable recvmsg state for one socket: the msghdr and its buffers are allocated once and
 * addressed by pointer, so each receive costs one FFI call and one payload copy.
 */
export class DatagramReceiver {
  private readonly data = Buffer.alloc(65536);
  private readonly name = Buffer.alloc(16);
  private readonly control = Buffer.alloc(64);
  private readonly iov = Buffer.alloc(16);
  private readonly msg = Buffer.alloc(56);

  constructor(private readonly fd: number) {
    const k = koffi();
    this.iov.writeBigUInt64LE(k.address(this.data), 0);
    this.iov.writeBigUInt64LE(BigInt(this.data.length), 8);
  }

  /** One datagram, or null when none is queued (EAGAIN). Throws on other errors. */
  receive(): ReceivedDatagram | null {
    const k = koffi();
    const m = this.msg;
    m.fill(0);
    m.writeBigUInt64LE(k.address(this.name), 0); // msg_name
    m.writeUInt32LE(16, 8); // msg_namelen
    m.writeBigUInt64LE(k.address(this.iov), 16); // msg_iov
    m.writeBigUInt64LE(1n, 24); // msg_iovlen
    m.writeBigUInt64LE(k.address(this.control), 32); // msg_control
    m.writeBigUInt64LE(BigInt(this.control.length), 40); // msg_controllen
    const n = soft(lib().recvmsg(this.fd, m, MSG_DONTWAIT));
    if (n === -EAGAIN) return null;
    if (n < 0) throw new SyscallError('recvmsg', -n);
    const controlLen = Number(m.readBigUInt64LE(40));
    let origDst: SockAddrIn | undefined;
    // struct cmsghdr { size_t len; int level; int type; data... } aligned to 8.
    for (let off = 0; off + 16 <= controlLen; ) {
      const len = Number(this.control.readBigUInt64LE(off));
      const level = this.control.readInt32LE(off + 8);
      const type = this.control.readInt32LE(off + 12);
      if (level === SOL_IP && type === IP_ORIGDSTADDR) origDst = decodeSockAddrIn(this.control, off + 16);
      if (len < 16) break;
      off += (len + 7) & ~7;
    }
    if (!origDst) throw new Error('recvmsg: no IP_ORIGDSTADDR (is IP_RECVORIGDSTADDR set?)');
    return { from: decodeSockAddrIn(this.name), origDst, payload: Buffer.from(this.data.subarray(0, n)) };
  }
}

/** Watch an fd for readability on Node's event loop (libuv poll via koffi). */
export function pollReadable(fd: number, onReadable: () => void): { close(): void; unref(): void } {
  const handle = koffi().node.poll(fd, { readable: true }, () => onReadable());
  return { close: () => handle.close(), unref: () => handle.unref() };
}
