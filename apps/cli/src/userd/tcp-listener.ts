// The workstation end of outbound TCP. The root daemon's REDIRECT rule sends every connection to a
// routed subnet straight to this listener (127.0.0.1, a port the kernel picks, owned by the
// session's user); SO_ORIGINAL_DST, which needs no privilege, says where each one was going, and
// TcpCarrier carries it over the manager's TCP stream tunnel (@tel/tcp-wire on port-forward
// streams). The root daemon keeps only the privileged half (tel0, routes, rules) and is out of
// TCP's path: no process hop, no wake-up and no fd passing per connection (bench/connect).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { originalDestination } from '@tel/sockopt';
import type { Logger } from '@tel/logging';
import { TcpCarrier, poolReads, releaseChunk } from '@tel/tcp-wire';

export interface TcpListener {
  /** The loopback port the root daemon redirects to (NetworkConfig.tcpListenerPort). */
  readonly port: number;
  stats(): { ok: number; failed: number; accepted: number; lastError?: string };
  close(): Promise<void>;
}

/** Where a redirected connection was going; replaced in unit tests (no REDIRECT rule there). */
export type DestinationOf = (fd: number) => { ip: string; port: number };

export async function startTcpListener(opts: { dial: () => Promise<Duplex>; log: Logger; destinationOf?: DestinationOf }): Promise<TcpListener> {
  const destinationOf = opts.destinationOf ?? originalDestination;
  // Uploads read into pooled chunks, given back once the port-forward stream has taken them
  // (read-pool.ts): a fresh 64 KiB buffer per read cost the user daemon a fifth of its CPU on an
  // upload in garbage collection.
  const carrier = new TcpCarrier({ dial: opts.dial, log: opts.log, releaseChunk });
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  // allowHalfOpen: a client that shuts down its write side still gets the whole answer.
  // highWaterMark: writes to the client are batched per event-loop turn (spliceFramed); Node's
  // 16 KiB default would pause the tunnel after every batch.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: 256 << 10 }, (sock) => {
    sock.on('error', () => undefined);
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    let dst: { ip: string; port: number };
    try {
      if (typeof fd !== 'number' || fd < 0) throw new Error('accepted socket has no fd');
      dst = destinationOf(fd);
    } catch (err) {
      // Dialled directly rather than redirected: there is no cluster destination to carry it to.
      opts.log.debug('dropping a connection that was not redirected', { err: String(err) });
      sock.destroy();
      return;
    }
    // A direct dial of this port reports the port itself (conntrack's tuple of an unredirected
    // connection): carrying it would reach the manager pod's own loopback, which nobody routed.
    if (dst.port === port && dst.ip === '127.0.0.1') {
      opts.log.debug('dropping a connection dialled to the listener itself', { dst });
      sock.destroy();
      return;
    }
    accepted++;
    // Not read yet (pauseOnConnect): the socket can still switch to pooled reads.
    poolReads(sock);
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    carrier.carry(sock, dst.ip, dst.port);
  });
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as net.AddressInfo).port;
  return {
    port,
    stats: () => ({ ok: carrier.ok, failed: carrier.failed, accepted, ...(carrier.lastError ? { lastError: carrier.lastError } : {}) }),
    close: async () => {
      carrier.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
