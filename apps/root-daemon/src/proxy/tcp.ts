// Transparent TCP proxy: accepts connections the kernel REDIRECTed to 127.0.0.1:<port>, recovers
// each one's original destination (SO_ORIGINAL_DST) and splices it onto a tunnel stream.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@tel/logging';
import { originalDst, type SockAddrIn } from '../sys/libc.js';
import type { Dialer } from '../tunnel/dialer.js';
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
    private readonly dialer: Dialer,
    private readonly log: Logger,
    private readonly destinationOf: DestinationOf = kernelDestination,
    /** When the manager has a TCP stream tunnel, connections ride it instead of HTTP/2 CONNECT. */
    private readonly streamTunnel?: StreamTunnel,
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
    if (this.streamTunnel) {
      this.streamTunnel.carry(clientSide, dst.ip, dst.port);
      return;
    }
    // Client → cluster starts at once: a client that speaks first (HTTP) has its request on the
    // way with the dial, saving a round trip through the port-forward. Cluster → client waits for
    // the manager's answer, so a refused dial still ends in a reset, never in an empty reply.
    let early: Duplex | undefined;
    const onStream = (stream: Duplex) => {
      early = stream;
      stream.on('error', () => undefined);
      clientSide.pipe(stream);
    };
    this.dialer.tcp(dst.ip, dst.port, { onStream }).then(
      (clusterSide) => this.splice(clientSide, clusterSide, early === clusterSide),
      (err: unknown) => {
        this.log.debug(`tcp ${dst.ip}:${dst.port} refused`, { err: String(err) });
        if (early) clientSide.unpipe(early);
        // A reset, so the client sees "connection refused/reset" rather than an empty answer.
        if (!clientSide.destroyed) clientSide.resetAndDestroy();
      },
    );
  }

  /** Copy both ways with backpressure; each side's end is forwarded as a half-close. */
  private splice(clientSide: net.Socket, clusterSide: Duplex, clientAlreadyPiped = false): void {
    if (clientSide.destroyed) {
      clusterSide.destroy();
      return;
    }
    const fail = () => {
      clientSide.destroy();
      clusterSide.destroy();
    };
    clusterSide.on('error', fail);
    clientSide.on('error', fail);
    clientSide.once('close', () => clusterSide.destroy());
    clusterSide.once('close', () => {
      // The stream is gone; let the client finish reading what was already queued to it.
      if (!clientSide.writableEnded) clientSide.end();
    });
    if (!clientAlreadyPiped) clientSide.pipe(clusterSide);
    clusterSide.pipe(clientSide);
    clientSide.resume();
  }

  /** Counts of the stream tunnel, when TCP rides it. */
  streamTunnelStats(): { via: 'stream'; ok: number; failed: number; lastError?: string } | undefined {
    const t = this.streamTunnel;
    return t ? { via: 'stream', ok: t.ok, failed: t.failed, ...(t.lastError ? { lastError: t.lastError } : {}) } : undefined;
  }

  async close(): Promise<void> {
    this.streamTunnel?.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
