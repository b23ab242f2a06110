// UDP over the tunnel: one `POST /udp` stream per flow (workstation address ⇄ destination), each
// datagram framed as a 2-byte big-endian length + payload, one connected dgram socket per flow.
import dgram from 'node:dgram';
import type { ServerHttp2Stream } from 'node:http2';
import { TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { headerSafe, type Destination } from './address.js';
import type { Logger } from '@tel/logging';
import { U16Deframer, frameU16 } from '@tel/tcp-wire';

export interface UdpTunnelOptions {
  idleMs: number;
  log: Logger;
  onClose?: () => void;
  /** Datagrams from the cluster are dropped (as a network would) while this much is queued to the workstation. */
  maxQueuedBytes?: number;
}

export function tunnelUdp(stream: ServerHttp2Stream, dest: Destination, opts: UdpTunnelOptions): void {
  const { log } = opts;
  const maxQueued = opts.maxQueuedBytes ?? 1 << 20;
  const socket = dgram.createSocket(dest.family === 6 ? 'udp6' : 'udp4');
  const decoder = new U16Deframer();
  let closed = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(idleTimer);
    try {
      socket.close();
    } catch {
      // already closed
    }
    if (!stream.destroyed) stream.end();
    opts.onClose?.();
  };
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      log.debug('udp flow idle, closing', { destination: `${dest.host}:${dest.port}` });
      close();
    }, opts.idleMs);
  };

  socket.on('error', (err) => {
    if (!stream.headersSent && !stream.destroyed) {
      stream.respond({ ':status': 502, [TUNNEL_ERROR_HEADER]: headerSafe(err.message) }, { endStream: true });
    }
    log.debug('udp socket error', { destination: `${dest.host}:${dest.port}`, error: err.message });
    close();
  });
  socket.on('message', (msg) => {
    touch();
    if (stream.destroyed || stream.writableEnded) return;
    if (stream.writableLength > maxQueued) return; // like a full NIC queue: drop, never buffer unboundedly
    stream.write(frameU16(msg));
  });
  socket.connect(dest.port, dest.host, () => {
    if (stream.destroyed) return close();
    stream.respond({ ':status': 200 });
    touch();
    stream.on('data', (chunk: Buffer) => {
      touch();
      decoder.push(chunk, (d) => socket.send(d));
    });
  });
  stream.on('end', close);
  stream.on('error', close);
  stream.on('close', close);
}
