// Transparent TCP proxy: accepts connections the kernel REDIRECTed to 127.0.0.1:<port>, recovers
// each one's original destination (SO_ORIGINAL_DST) and carries it on the manager's TCP stream
// tunnel. Used only when the user daemon's own listener is refused (not owned by the session's user).
import net from 'node:net';
import type { Logger } from '@tel/logging';
import { originalDst, type SockAddrIn } from '../sys/libc.js';
import type { StreamTunnel } from '../tunnel/stream-tunnel.js';

/** How the proxy learns where an accepted connection was going; replaced in unit tests. */
export type DestinationOf = (sock: net.Socket) => SockAddrIn;

export const kernelDestination: DestinationOf = (sock) => {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('accepted socket has no fd');
  return originalDst(fd);
};

export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  active = 0;

  constructor(
    private readonly streamTunnel: StreamTunnel,
    private readonly log: Logger,
    private readonly destinationOf: DestinationOf = kernelDestination,
  ) {
    // allowHalfOpen: a client that shuts down its write side still gets the whole answer.
    // highWaterMark: writes to the client are batched per event-loop turn (spliceFramed); Node's
    // 16 KiB default would pause the tunnel after every batch.
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: 256 << 10 }, (sock) => this.accept(sock));
  }

  /** Listen on 127.0.0.1 (REDIRECT from OUTPUT rewrites the destination to loopback); returns the port. */
  listen(host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port: 0, backlog: 4096 }, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  private accept(clientSide: net.Socket): void {
    this.sockets.add(clientSide);
    this.active++;
    clientSide.once('close', () => {
      this.sockets.delete(clientSide);
      this.active--;
    });
    clientSide.on('error', () => undefined);
    let dst: SockAddrIn;
    try {
      dst = this.destinationOf(clientSide);
    } catch (err) {
      // Not a redirected connection (someone dialled the proxy port directly).
      this.log.debug('dropping connection without an original destination', { err: String(err) });
      clientSide.destroy();
      return;
    }
    this.streamTunnel.carry(clientSide, dst.ip, dst.port);
  }

  /** Counts of the stream tunnel. */
  streamTunnelStats(): { via: 'stream'; ok: number; failed: number; lastError?: string } {
    const t = this.streamTunnel;
    return { via: 'stream', ok: t.ok, failed: t.failed, ...(t.lastError ? { lastError: t.lastError } : {}) };
  }

  async close(): Promise<void> {
    this.streamTunnel.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
