// Handing a connected socket from one daemon to another (SCM_RIGHTS over a SOCK_SEQPACKET unix
// socket), with koffi for the few calls Node doesn't expose. The root daemon accepts each
// redirected workstation connection and hands its fd, with the original destination, to the
// user daemon, which carries the bytes: the root daemon stays out of the data path (one process
// hop less per byte and per connection, measured in bench/connect).
// Readiness comes from libuv (koffi.node.poll), so nothing blocks the event loop.
import { createRequire } from 'node:module';
import type * as KoffiNs from 'koffi';

const require = createRequire(import.meta.url);

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;
const EINTR = 4;
/** Largest payload carried with one fd (a destination "ip port"). */
export const MAX_PAYLOAD = 256;

export class FdPassError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall} failed (errno ${errno})`);
  }
}

interface Lib {
  k: typeof KoffiNs;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: null, len: null, flags: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  sendmsg(fd: number, msg: Buffer, flags: number): number;
  recvmsg(fd: number, msg: Buffer, flags: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  close(fd: number): number;
}

let libc: Lib | undefined;
function lib(): Lib {
  if (libc) return libc;
  // koffi is a native addon kept external to the bundles (copied beside them).
  const k = require('koffi') as typeof KoffiNs;
  const c = k.load('libc.so.6');
  libc = {
    k,
    socket: c.func('int socket(int, int, int)'),
    bind: c.func('int bind(int, void *, uint32_t)'),
    listen: c.func('int listen(int, int)'),
    accept4: c.func('int accept4(int, void *, void *, int)'),
    connect: c.func('int connect(int, void *, uint32_t)'),
    sendmsg: c.func('long sendmsg(int, void *, int)'),
    recvmsg: c.func('long recvmsg(int, void *, int)'),
    getsockopt: c.func('int getsockopt(int, int, int, void *, void *)'),
    close: c.func('int close(int)'),
  };
  return libc;
}

function check(syscall: string, ret: number): number {
  if (ret < 0) throw new FdPassError(syscall, lib().k.errno());
  return ret;
}

function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path);
  if (p.length >= 108) throw new Error(`socket path too long (${p.length} bytes, max 107): ${path}`);
  const b = Buffer.alloc(110);
  b.writeUInt16LE(AF_UNIX, 0);
  p.copy(b, 2);
  return b;
}

/** struct msghdr (x86_64/aarch64 LP64 layout) pointing at one iovec and a control buffer. */
class MsgHdr {
  readonly msg = Buffer.alloc(56);
  readonly iov = Buffer.alloc(16);
  constructor(
    readonly data: Buffer,
    readonly control: Buffer,
  ) {}
  prepare(dataLen: number, controlLen: number): Buffer {
    const k = lib().k;
    this.iov.writeBigUInt64LE(BigInt(k.address(this.data)), 0);
    this.iov.writeBigUInt64LE(BigInt(dataLen), 8);
    const m = this.msg;
    m.fill(0);
    m.writeBigUInt64LE(BigInt(k.address(this.iov)), 16); // msg_iov
    m.writeBigUInt64LE(1n, 24); // msg_iovlen
    m.writeBigUInt64LE(BigInt(k.address(this.control)), 32); // msg_control
    m.writeBigUInt64LE(BigInt(controlLen), 40); // msg_controllen
    return m;
  }
}

/**
 * The receiving end: listens on `path` (mode set by the caller's umask/dir), accepts senders and
 * calls `onFd` with each received fd (owned by the callee from then on) and its payload.
 */
export class FdReceiver {
  private readonly listenFd: number;
  private readonly listenPoll: { close(): void };
  private readonly peers = new Map<number, { close(): void }>();
  private readonly hdr = new MsgHdr(Buffer.alloc(MAX_PAYLOAD), Buffer.alloc(64));
  private closed = false;

  constructor(
    readonly path: string,
    private readonly onFd: (fd: number, payload: Buffer, peerFd: number) => void,
    private readonly onPeer: (peerFd: number) => boolean = () => true,
  ) {
    const l = lib();
    this.listenFd = check('socket', l.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    try {
      const addr = sockaddrUn(path);
      check('bind', l.bind(this.listenFd, addr, addr.length));
      check('listen', l.listen(this.listenFd, 64));
    } catch (err) {
      l.close(this.listenFd);
      throw err;
    }
    this.listenPoll = l.k.node.poll(this.listenFd, { readable: true }, () => this.acceptAll());
    (this.listenPoll as unknown as { unref?: () => void }).unref?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listenPoll.close();
    lib().close(this.listenFd);
    for (const [fd, poll] of this.peers) {
      poll.close();
      lib().close(fd);
    }
    this.peers.clear();
  }

  private acceptAll(): void {
    const l = lib();
    for (;;) {
      const fd = l.accept4(this.listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return; // EAGAIN (or an aborted connection): wait for the next readiness
      if (!this.onPeer(fd)) {
        l.close(fd);
        continue;
      }
      const poll = l.k.node.poll(fd, { readable: true }, () => this.receiveAll(fd));
      (poll as unknown as { unref?: () => void }).unref?.();
      this.peers.set(fd, poll);
    }
  }

  private dropPeer(fd: number): void {
    const poll = this.peers.get(fd);
    if (!poll) return;
    this.peers.delete(fd);
    poll.close();
    lib().close(fd);
  }

  private receiveAll(peerFd: number): void {
    const l = lib();
    const h = this.hdr;
    for (;;) {
      const m = h.prepare(h.data.length, h.control.length);
      const n = l.recvmsg(peerFd, m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) {
        const errno = l.k.errno();
        if (errno === EAGAIN || errno === EINTR) return;
        return this.dropPeer(peerFd);
      }
      const controlLen = Number(m.readBigUInt64LE(40));
      const fds: number[] = [];
      for (let off = 0; off + 16 <= controlLen; ) {
        const len = Number(h.control.readBigUInt64LE(off));
        if (len < 16) break;
        if (h.control.readInt32LE(off + 8) === SOL_SOCKET && h.control.readInt32LE(off + 12) === SCM_RIGHTS) {
          for (let i = off + 16; i + 4 <= off + len; i += 4) fds.push(h.control.readInt32LE(i));
        }
        off += (len + 7) & ~7;
      }
      if (n === 0 && fds.length === 0) return this.dropPeer(peerFd); // the sender closed
      const payload = Buffer.from(h.data.subarray(0, n));
      // One fd per message by contract; extra ones are closed rather than leaked.
      for (const extra of fds.slice(1)) l.close(extra);
      if (fds[0] !== undefined) this.onFd(fds[0], payload, peerFd);
    }
  }
}

const SO_PEERCRED = 17;

/** Who is at the other end of a connected unix socket (SO_PEERCRED). */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const v = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12, 0);
  check('getsockopt', lib().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, v, len));
  return { pid: v.readInt32LE(0), uid: v.readUInt32LE(4), gid: v.readUInt32LE(8) };
}

/** The sending end: connected to a receiver's `path`. */
export class FdSender {
  readonly fd: number;
  private readonly hdr = new MsgHdr(Buffer.alloc(MAX_PAYLOAD), Buffer.alloc(24));
  private closed = false;

  constructor(readonly path: string) {
    const l = lib();
    this.fd = check('socket', l.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const addr = sockaddrUn(path);
    if (l.connect(this.fd, addr, addr.length) < 0) {
      const errno = l.k.errno();
      l.close(this.fd);
      throw new FdPassError('connect', errno);
    }
  }

  /**
   * Sends `fd` (which stays open here: close it after) with `payload`. False when the receiver's
   * queue is full right now (EAGAIN); throws when the receiver is gone.
   */
  send(fd: number, payload: Buffer): boolean {
    if (this.closed) throw new FdPassError('sendmsg', 9);
    if (payload.length > MAX_PAYLOAD) throw new Error(`payload over ${MAX_PAYLOAD} bytes`);
    const h = this.hdr;
    payload.copy(h.data);
    const c = h.control;
    c.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
    c.writeInt32LE(SOL_SOCKET, 8);
    c.writeInt32LE(SCM_RIGHTS, 12);
    c.writeInt32LE(fd, 16);
    const m = h.prepare(payload.length, 24); // CMSG_SPACE(sizeof(int))
    const l = lib();
    const n = l.sendmsg(this.fd, m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return true;
    const errno = l.k.errno();
    if (errno === EAGAIN) return false;
    throw new FdPassError('sendmsg', errno);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    lib().close(this.fd);
  }
}
