// Per-stream routing of one HTTP/2 cleartext client connection (prior knowledge, gRPC included) in
// the traffic agent: node:http2 ends the client's HTTP/2 here, and each stream goes, by its own
// headers, to the app or an intercept over one upstream HTTP/2 session per target (upstreams.ts).
import http2 from 'node:http2';
import type net from 'node:net';
import type { Http1RouteOptions } from '../http1/router.js';
import { proxyStream, type StreamContext, type StreamProxy } from './stream.js';
import { UpstreamSessions } from './upstreams.js';
import { guardH2 } from '../../h2-frame-guard.js';

/** The HTTP/2 router takes the same options as the HTTP/1.1 one: where a request goes is decided alike. */
export type Http2RouteOptions = Http1RouteOptions;

/** The 24 bytes an HTTP/2 client with prior knowledge opens with. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * A client connection idle this long is sent a PING; one that does not answer within
 * H2_PING_WAIT_MS is closed. node:http2 stops reading a connection once it has sent a GOAWAY
 * for a protocol error, so the client's close would never be seen: the unanswered PING is how
 * such a connection (or a peer that vanished) is let go.
 */
export const H2_IDLE_PROBE_MS = 20_000;
export const H2_PING_WAIT_MS = 10_000;

export interface Http2Tuning {
  idleProbeMs?: number;
  pingWaitMs?: number;
}

/**
 * Takes over `client` (allowHalfOpen, paused or flowing, bytes not yet read still in it or
 * unshifted back) whose first bytes are the HTTP/2 preface, and routes each of its streams.
 */
export function routeHttp2(client: net.Socket, opts: Http2RouteOptions, tuning: Http2Tuning = {}): void {
  const log = opts.log;
  const sessions = new UpstreamSessions(opts.connect, log);
  const ctx: StreamContext = { choose: (req) => opts.choose(req), sessions, log };
  // A server object per connection only terminates this socket (it never listens); it is what
  // node:http2 builds a server session from.
  const server = http2.createServer({ settings: { enablePush: false } });
  const streams = new Set<StreamProxy>();
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw?: string[]) => {
    const p = proxyStream(ctx, stream, headers, raw);
    streams.add(p);
    stream.once('close', () => streams.delete(p));
  });
  let session: http2.ServerHttp2Session | undefined;
  server.on('session', (s: http2.ServerHttp2Session) => {
    session = s;
    s.on('error', (err) => log.debug('http2: client session failed', { error: err.message }));
    probeWhenIdle(s, tuning.idleProbeMs ?? H2_IDLE_PROBE_MS, tuning.pingWaitMs ?? H2_PING_WAIT_MS);
    // The client goes away gracefully: streams under way finish, then the upstreams close too.
    s.on('goaway', () => sessions.close());
    // The client connection closes once what the session wrote reached it (the guard's relay).
    s.on('close', () => sessions.destroy());
  });
  server.on('sessionError', () => undefined);
  client.on('error', () => undefined);
  client.on('close', () => sessions.destroy());
  client.setNoDelay(true);
  // Frame sizes are checked before node:http2 reads them (h2-frame-guard.ts: a bad one can abort
  // the process); node:http2 gets a native socket that carries the checked bytes.
  guardH2(client, {
    onBad: (why) => log.info(`http2: closing a client connection that sent ${why}`),
    serve: (inner) => {
      server.emit('connection', inner);
      // node:http2 reads the socket's handle itself; the socket flows so that its close is seen.
      setImmediate(() => inner.destroyed || inner.resume());
    },
    // A FIN (the socket is half-open): what was asked in full is still answered, then the session
    // closes; a stream whose request was cut short can't finish and is cancelled (else it would
    // hold the connection open for good).
    onClientEnd: () => {
      if (session && !session.closed) session.close();
      for (const p of streams) p.clientGone();
    },
  });
}

function probeWhenIdle(session: http2.ServerHttp2Session, idleMs: number, waitMs: number): void {
  let probing = false;
  session.setTimeout(idleMs, () => {
    if (probing || session.destroyed) return;
    probing = true;
    const deadline = setTimeout(() => session.destroy(), waitMs);
    const answered = (err: Error | null) => {
      clearTimeout(deadline);
      probing = false;
      if (err && !session.destroyed) session.destroy();
    };
    try {
      session.ping(answered);
    } catch {
      answered(new Error('ping refused'));
    }
  });
}
