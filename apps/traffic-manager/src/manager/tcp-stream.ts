// The TCP stream tunnel (MANAGER_TCP_PORT; protocol in @tel/contracts manager/tunnel.ts, wire format
// and splice in @tel/tcp-wire): one plain TCP connection per workstation connection, reached
// through its own port-forward stream. TCP goes here rather than through HTTP/2 streams:
// no HTTP/2 framing or flow-control windows, just a 4-byte length per chunk.
import { closeServer, listen } from '../listen.js';
import net from 'node:net';
import { MAX_REQUEST_LINE, connectPooled, parseRequest, poolReads, readLine, releaseChunk, spliceFramed } from '@tel/tcp-wire';
import { TUNNEL_PARK_PREFIX, parsePark } from '@tel/contracts';
import { headerSafe } from './address.js';
import type { Logger } from '@tel/logging';

export interface TcpStreamServerOptions {
  port: number;
  host?: string;
  /** Give up dialling the destination after this long (`ERR dial … timed out …`). */
  dialTimeoutMs: number;
  /** How long a client has to send its request line. Default 10 s. */
  headerTimeoutMs?: number;
  log: Logger;
  /**
   * A user daemon parks a connection for intercepted connections (`TEL-PARK/1 <sessionId>`, the
   * reverse verb): it is handed over, unread past its line. Absent: such lines are refused.
   */
  onPark?: (conn: net.Socket, park: { sessionId: string; generation: number }) => void;
}

export interface TcpStreamStats {
  active: number;
  total: number;
}

export interface TcpStreamServer {
  port: number;
  stats(): TcpStreamStats;
  close(): Promise<void>;
}

const OK_LINE = Buffer.from('OK\n');
/**
 * How long `OK` waits for the destination's first bytes to leave with them: one port-forward frame
 * instead of two through API server, kubelet and runtime. At 2 ms it left alone for most loaded
 * HTTP requests (new-connection rate 989 → 1103 req/s at 25 ms, bench/connect); the client never
 * waits for it to send (early data), only an upload over 1 MiB before any answer pauses for it.
 */
const OK_MAX_DELAY_MS = 25;
/** How long a reused connection may wait for its next request. */
const IDLE_TIMEOUT_MS = 10 * 60_000;

export async function startTcpStreamServer(opts: TcpStreamServerOptions): Promise<TcpStreamServer> {
  const log = opts.log.child('tcp-stream');
  const headerTimeoutMs = opts.headerTimeoutMs ?? 10_000;
  const stats: TcpStreamStats = { active: 0, total: 0 };
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  // allowHalfOpen: spliceFramed turns each side's FIN into a frame, never into a close.
  // pauseOnConnect: nothing is read before readLine, so early frames stay in the socket.
  // highWaterMark: spliceFramed batches a turn's frames into one write; at Node's 16 KiB default
  // that batch would trip backpressure and pause the destination after every read.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, highWaterMark: 1 << 20 }, (conn) => {
    track(conn);
    // Pooled reads for uploads too (read-pool.ts): a fresh buffer per read of this socket had the
    // manager spend a fifth of its CPU on an upload in mark-compacts. Not read yet: pauseOnConnect.
    poolReads(conn);
    conn.on('error', (err) => log.debug('client connection error', { error: err.message }));
    serve(conn, Buffer.alloc(0), headerTimeoutMs);
  });

  /**
   * One request on `conn` (its first, or the next one on a reused connection: `initial` holds
   * bytes already read). A completed flow hands the connection back here; anything else ends it.
   */
  function serve(conn: net.Socket, initial: Buffer, timeoutMs: number): void {
    let finished = false;
    let spliced = false;
    let counted = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (counted) stats.active--;
      conn.off('close', onConnClose);
    };
    const onConnClose = () => {
      if (!spliced) finish();
    };
    conn.once('close', onConnClose);
    /** Answers `ERR <reason>` and closes: what follows the request line is dropped unread. */
    const refuse = (reason: string) => {
      if (conn.destroyed) return;
      conn.resume(); // discard early frames (unread bytes would turn our close into a reset)
      conn.end(`ERR ${headerSafe(reason)}\n`);
      setTimeout(() => conn.destroy(), headerTimeoutMs).unref();
    };

    readLine(conn, MAX_REQUEST_LINE, timeoutMs, initial).then(
      ({ line, rest }) => {
        stats.active++;
        stats.total++;
        counted = true;
        if (line.startsWith(`${TUNNEL_PARK_PREFIX} `) && opts.onPark) {
          const park = parsePark(line.slice(TUNNEL_PARK_PREFIX.length + 1).replace(/\n$/, ''));
          finish();
          if (typeof park === 'string') return refuse(park);
          if (rest.length) return refuse('nothing may follow a park line');
          conn.off('close', onConnClose);
          return opts.onPark(conn, park);
        }
        const req = parseRequest(line);
        if ('error' in req) {
          log.debug('bad request line', { error: req.error });
          return refuse(req.error);
        }
        const where = req.family === 6 ? `[${req.host}]:${req.port}` : `${req.host}:${req.port}`;
        // Pooled reads: a bulk download would otherwise allocate 64 KiB per read (read-pool.ts).
        const dest = connectPooled({ host: req.host, port: req.port, family: req.family, allowHalfOpen: true, highWaterMark: 256 << 10 } as net.NetConnectOpts);
        track(dest);
        let connected = false;
        const dialTimer = setTimeout(
          () => dest.destroy(new Error(`dial ${req.host}:${req.port} timed out after ${opts.dialTimeoutMs} ms`)),
          opts.dialTimeoutMs,
        );
        dest.once('error', (err) => {
          if (connected) return; // spliceFramed reports it
          clearTimeout(dialTimer);
          log.debug('dial failed', { destination: where, error: err.message });
          refuse(err.message);
        });
        // The client gave up while we were dialling.
        const onGiveUp = () => {
          if (!connected) {
            clearTimeout(dialTimer);
            dest.destroy();
          }
        };
        conn.once('close', onGiveUp);
        dest.once('connect', () => {
          clearTimeout(dialTimer);
          connected = true;
          conn.off('close', onGiveUp);
          if (conn.destroyed) return void dest.destroy();
          dest.setNoDelay(true);
          spliced = true;
          spliceFramed(dest, conn, {
            initialTunnelBytes: rest,
            // OK leaves with the destination's first bytes (one port-forward frame, not two) when
            // they come soon; the client doesn't need it to send, only to start reading.
            preamble: { data: OK_LINE, maxDelayMs: OK_MAX_DELAY_MS },
            resetPlainOnAbort: true,
            releaseChunk,
            releaseTunnelChunk: releaseChunk,
            onDone: (r) => {
              if (r.aborted) log.debug('tcp stream aborted', { destination: where, reason: r.reason, bytesIn: r.bytesIn, bytesOut: r.bytesOut });
              finish();
            },
            // Both directions ended cleanly: the client may send its next request on this
            // connection (saves the runtime a new port-forward stream per workstation connection).
            onReusable: (tunnel, leftover) => {
              finish();
              serve(tunnel as net.Socket, leftover, IDLE_TIMEOUT_MS);
            },
          });
        });
      },
      (err: Error) => {
        log.debug('no request line', { error: err.message });
        finish();
        if (/longer than/.test(err.message) || (timeoutMs === headerTimeoutMs && /within/.test(err.message))) refuse(`request line: ${err.message}`);
        else conn.destroy();
      },
    );
  }
  server.on('error', (err) => log.error('tcp stream server error', { error: err.message }));

  const port = await listen(server, opts.port, opts.host ?? '127.0.0.1');
  return {
    port,
    stats: () => ({ ...stats }),
    close: () => closeServer(server, sockets),
  };
}
