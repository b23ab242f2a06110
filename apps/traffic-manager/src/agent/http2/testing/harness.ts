// Loopback fixtures for the HTTP/2 router's tests: real node:http2 cleartext servers standing in
// for the app and an intercept, the agent's routeHttp listening in front of them, gRPC-shaped
// framing, and h2 clients.
import http2 from 'node:http2';
import net from 'node:net';
import { createLogger } from '@tel/logging';
import { matches, parseFilter } from '@tel/agent-config';
import { APP_TARGET } from '../../http1/exchange.js';
import { routeHttp, type HttpRouteTuning } from '../../http-route.js';

export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

export interface H2Upstream {
  name: string;
  port: number;
  /** TCP connections accepted. */
  connections: number;
  streams: number;
  server: http2.Http2Server;
  /** Per-path handlers; anything else is echoed as `<name> <method> <path> <body>`. */
  handlers: Map<string, StreamHandler>;
  sockets: Set<net.Socket>;
}

function echo(name: string): StreamHandler {
  return (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-served-by': name });
      stream.end(`${name} ${String(headers[':method'])} ${String(headers[':path'])} ${Buffer.concat(chunks).toString('latin1')}`);
    });
    stream.on('error', () => undefined);
  };
}

export async function h2Upstream(name: string): Promise<H2Upstream> {
  const server = http2.createServer();
  const up: H2Upstream = { name, port: 0, connections: 0, streams: 0, server, handlers: new Map(), sockets: new Set() };
  server.on('connection', (s: net.Socket) => {
    up.connections++;
    up.sockets.add(s);
    s.on('close', () => up.sockets.delete(s));
  });
  server.on('sessionError', () => undefined);
  server.on('session', (s) => s.on('error', () => undefined));
  server.on('stream', (stream, headers) => {
    up.streams++;
    stream.on('error', () => undefined);
    const h = up.handlers.get(String(headers[':path']));
    (h ?? echo(name))(stream, headers);
  });
  up.port = await listen(server);
  return up;
}

export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

export function closeServer(server: net.Server, sockets?: Set<net.Socket>): Promise<void> {
  for (const s of sockets ?? []) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface Router {
  port: number;
  server: net.Server;
  sockets: Set<net.Socket>;
  /** Targets `connect` was asked for, in order. */
  dialled: string[];
}

/**
 * routeHttp in front of `app()` and `ws()`: a stream/request with x-dev: alice, or under /alice/
 * or /svc.Alice/, goes to the intercept 'ws'. The getters are read on every connect, so a test
 * can take a target down.
 */
export async function startRouter(app: () => number, ws: () => number, tuning?: HttpRouteTuning): Promise<Router> {
  const header = parseFilter({ headers: ['x-dev=alice'] });
  const prefix = parseFilter({ pathRegex: '/(alice/|svc\\.Alice/).*' });
  if ('error' in header || 'error' in prefix) throw new Error('bad test filter');
  // TEL_TEST_LOG=1 shows the routers' debug lines.
  const log = process.env.TEL_TEST_LOG ? createLogger('router', { level: 'debug', stream: process.stderr }) : createLogger(undefined);
  const router: Router = { port: 0, server: net.createServer(), sockets: new Set(), dialled: [] };
  const connect = (target: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      router.dialled.push(target);
      const s = net.connect({ host: '127.0.0.1', port: target === APP_TARGET ? app() : ws(), allowHalfOpen: true });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  router.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    router.sockets.add(client);
    client.on('close', () => router.sockets.delete(client));
    client.on('error', () => undefined);
    routeHttp(
      client,
      { choose: (req) => (matches(header.filter, req) || matches(prefix.filter, req) ? 'ws' : APP_TARGET), connect, log },
      tuning,
    );
  });
  router.port = await listen(router.server);
  return router;
}

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers?: http2.IncomingHttpHeaders;
  rstCode?: number;
}

/** One request on `session`, read to its end (or its reset). */
export function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Response> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: body === undefined });
    const res: H2Response = { status: 0, headers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      res.status = Number(h[':status']);
      res.headers = h;
    });
    req.on('trailers', (t) => (res.trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => {
      res.body = Buffer.concat(chunks);
      res.rstCode = req.rstCode;
      resolve(res);
    });
    if (body !== undefined) req.end(body);
  });
}

export function connectH2(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  return s;
}

// ---- gRPC's length-prefixed messages (a flag byte, a 4-byte big-endian length, the message) ----

export function grpcFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message) : message;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits whole messages off `buf`; returns them and what is left. */
export function grpcMessages(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let at = 0;
  while (buf.length - at >= 5) {
    const len = buf.readUInt32BE(at + 1);
    if (buf.length - at - 5 < len) break;
    messages.push(buf.subarray(at + 5, at + 5 + len).toString());
    at += 5 + len;
  }
  return { messages, rest: buf.subarray(at) };
}

export const GRPC_HEADERS = { 'content-type': 'application/grpc', te: 'trailers' };
