// Per-stream routing of one HTTP/2 cleartext client connection (prior knowledge, gRPC included) in
// the traffic agent: node:http2 ends the client's HTTP/2 here, and each stream goes, by its own
// headers, to the app or an intercept over one upstream HTTP/2 session per target (upstreams.ts).
import http2 from 'node:http2';
import type net from 'node:net';
import type { Http1RouteOptions } from '../http1/router.js';
import { proxyStream, type StreamContext } from './stream.js';
import { UpstreamSessions } from './upstreams.js';

/** The HTTP/2 router takes the same options as the HTTP/1.1 one: where a request goes is decided alike. */
export type Http2RouteOptions = Http1RouteOptions;

/** The 24 bytes an HTTP/2 client with prior knowledge opens with. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Takes over `client` (allowHalfOpen, paused or flowing, bytes not yet read still in it or
 * unshifted back) whose first bytes are the HTTP/2 preface, and routes each of its streams.
 */
export function routeHttp2(client: net.Socket, opts: Http2RouteOptions): void {
  const log = opts.log;
  const sessions = new UpstreamSessions(opts.connect, log);
  const ctx: StreamContext = { choose: (req) => opts.choose(req), sessions, log };
  // A server object per connection only terminates this socket (it never listens); it is what
  // node:http2 builds a server session from.
  const server = http2.createServer({ settings: { enablePush: false } });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw?: string[]) =>
    proxyStream(ctx, stream, headers, raw),
  );
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('error', (err) => log.debug('http2: client session failed', { error: err.message }));
    // The client goes away gracefully: streams under way finish, then the upstreams close too.
    session.on('goaway', (...a) => { log.debug('DBG goaway', {a}); sessions.close(); });
    session.on('close', () => {
      log.debug('DBG client session close', { ended: client.readableEnded, destroyed: client.destroyed });
      sessions.destroy();
      if (!client.destroyed) client.destroy();
    });
    // A FIN (the socket is half-open) ends the session as it would end a server's own connection.
    client.on('end', () => {
      log.debug('DBG client end');
      if (!session.closed) session.close();
    });
  });
  server.on('sessionError', () => undefined);
  client.on('error', () => undefined);
  client.setNoDelay(true);
  server.emit('connection', client);
}
