// Workstation TCP connections handed over by the root daemon (fd + original destination over a
// SOCK_SEQPACKET socket, @tel/fdpass) and carried here over the manager's TCP stream tunnel
// (@tel/tcp-wire TcpCarrier on port-forward streams). The root daemon keeps the transparent
// proxy's privileged half (the REDIRECT rules, accepting, SO_ORIGINAL_DST); the bytes no longer
// pass through it: one process hop less per byte and per connection (bench/connect).
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { FdReceiver, peerCredentials } from '@tel/fdpass';
import type { Logger } from '@tel/logging';
import { TcpCarrier } from '@tel/tcp-wire';

export interface TcpHandoff {
  readonly socketPath: string;
  stats(): { ok: number; failed: number; handedOver: number; lastError?: string };
  close(): void;
}

/**
 * Serve `socketPath` (0600) for the root daemon (uid 0 only) and carry every connection it hands
 * over through streams from `dial`.
 */
export function startTcpHandoff(opts: { socketPath: string; dial: () => Promise<Duplex>; log: Logger }): TcpHandoff {
  const carrier = new TcpCarrier({ dial: opts.dial, log: opts.log });
  let handedOver = 0;
  rmSync(opts.socketPath, { force: true });
  const receiver = new FdReceiver(
    opts.socketPath,
    (fd, payload) => {
      handedOver++;
      const [ip, portText] = payload.toString('latin1').split(' ');
      const port = Number(portText);
      // highWaterMark: writes to the client are batched per event-loop turn (see spliceFramed).
      const sock = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true, highWaterMark: 256 << 10 } as net.SocketConstructorOpts);
      if (!ip || !net.isIP(ip) || !Number.isInteger(port) || port < 1 || port > 65535) {
        opts.log.warn('handed-over connection without a valid destination', { payload: payload.toString('latin1').slice(0, 80) });
        sock.resetAndDestroy();
        return;
      }
      sock.pause();
      carrier.carry(sock, ip, port);
    },
    // Only the root daemon hands connections over.
    (peerFd) => {
      const peer = peerCredentials(peerFd);
      if (peer.uid === 0) return true;
      opts.log.warn('refused a handoff peer that is not root', { ...peer });
      return false;
    },
  );
  chmodSync(opts.socketPath, 0o600);
  return {
    socketPath: opts.socketPath,
    stats: () => ({ ok: carrier.ok, failed: carrier.failed, handedOver, ...(carrier.lastError ? { lastError: carrier.lastError } : {}) }),
    close: () => {
      receiver.close();
      carrier.close();
      rmSync(opts.socketPath, { force: true });
    },
  };
}
