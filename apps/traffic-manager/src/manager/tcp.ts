// TCP over the tunnel: one HTTP/2 CONNECT stream per workstation connection. The manager dials
// the destination inside the cluster and copies bytes both ways with flow control end to end.
import http2, { type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { TUNNEL_ERROR_HEADER } from '@tel/contracts';
import { headerSafe, type Destination } from './address.js';
import type { Logger } from '@tel/logging';

export interface TcpTunnelOptions {
  dialTimeoutMs: number;
  log: Logger;
  onClose?: () => void;
}

/**
 * Serves one CONNECT stream. Why pipe() both ways: it pauses the HTTP/2 stream when the cluster
 * socket's buffer is full (so no WINDOW_UPDATE goes out and the workstation stops sending), and
 * vice versa; and it turns each side's end into the other side's half-close (END_STREAM ⇄ FIN),
 * which request/response protocols over TCP rely on.
 */
export function tunnelTcp(stream: ServerHttp2Stream, dest: Destination, opts: TcpTunnelOptions): void {
  const { log } = opts;
  const clusterSocket = net.connect({ host: dest.host, port: dest.port, family: dest.family, allowHalfOpen: true });
  let connected = false;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(dialTimer);
    opts.onClose?.();
  };
  const dialTimer = setTimeout(() => clusterSocket.destroy(new Error(`dial ${dest.host}:${dest.port} timed out after ${opts.dialTimeoutMs} ms`)), opts.dialTimeoutMs);

  clusterSocket.once('connect', () => {
    clearTimeout(dialTimer);
    connected = true;
    if (stream.destroyed) {
      clusterSocket.destroy();
      return;
    }
    clusterSocket.setNoDelay(true);
    stream.respond({ ':status': 200 });
    stream.pipe(clusterSocket);
    clusterSocket.pipe(stream);
  });

  clusterSocket.on('error', (err) => {
    if (!connected) {
      log.debug('dial failed', { destination: `${dest.host}:${dest.port}`, error: err.message });
      if (!stream.destroyed && !stream.headersSent) {
        stream.respond({ ':status': 502, [TUNNEL_ERROR_HEADER]: headerSafe(err.message) }, { endStream: true });
      }
    } else if (!stream.destroyed) {
      // The destination reset the connection: tell the workstation the same way (RST_STREAM).
      stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
    }
  });
  clusterSocket.on('close', () => {
    // A socket that closed without both FINs having been exchanged was aborted.
    if (connected && !stream.destroyed && !(stream.writableEnded && stream.readableEnded)) {
      if (!stream.writableEnded) stream.end();
    }
  });

  stream.on('error', (err) => {
    log.debug('stream error', { destination: `${dest.host}:${dest.port}`, error: err.message });
    clusterSocket.destroy();
  });
  stream.on('close', () => {
    // Both directions finished (the socket then has the destination's FIN and closes once our
    // FIN is flushed), or the workstation reset the stream: then nothing more may flow.
    if (!connected || stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) clusterSocket.destroy();
    else clusterSocket.end();
    finish();
  });
  clusterSocket.once('close', () => {
    if (!connected) finish();
  });
}
