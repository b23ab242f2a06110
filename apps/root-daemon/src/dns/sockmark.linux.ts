// TCP connections carrying a firewall mark (SO_MARK), made via koffi because Node can't set it.
// The overriding resolver's nft rules let marked traffic pass, so our TCP queries to the original
// nameserver are not redirected back to ourselves. Boundary: root daemon ↔ Linux kernel.
import net from 'node:net';
import { closeFd, koffi } from '../sys/libc.js';

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_MARK = 36;

/** Mark on our own DNS traffic to the original nameserver (override mode). */
export const DNS_BYPASS_MARK = 0x7e11;

interface MarkLibc {
  socket(domain: number, type: number, proto: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
}
let libc: MarkLibc | undefined;
function lib(): MarkLibc {
  if (libc) return libc;
  const c = koffi().load('libc.so.6');
  libc = {
    socket: c.func('int socket(int domain, int type, int proto)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
  } as MarkLibc;
  return libc;
}

/** An IPv4 TCP connection to host:port whose packets carry `mark` (needs CAP_NET_ADMIN). */
export function connectMarked(host: string, port: number, mark: number): net.Socket {
  const fd = lib().socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: errno ${koffi().errno()}`);
  const v = Buffer.alloc(4);
  v.writeInt32LE(mark);
  if (lib().setsockopt(fd, SOL_SOCKET, SO_MARK, v, 4) < 0) {
    const errno = koffi().errno();
    closeFd(fd);
    throw new Error(`setsockopt SO_MARK: errno ${errno}`);
  }
  // Node adopts the fd as a TCP handle; connect() then uses that handle (and so keeps the mark).
  const sock = new net.Socket({ fd, readable: true, writable: true });
  return sock.connect({ host, port });
}
