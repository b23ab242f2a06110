// gRPC over the HTTP/2 router, as node:http2 speaks it (content-type application/grpc, 5-byte
// length-prefixed messages, grpc-status in trailers): unary, server streaming, bidi, trailers-only.
import http2 from 'node:http2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, connectH2, GRPC_HEADERS, grpcFrame, grpcMessages, h2Upstream, startRouter, type H2Upstream, type Router } from './testing/harness.js';

let app: H2Upstream;
let ws: H2Upstream;
let router: Router;
let session: http2.ClientHttp2Session;

/** A gRPC service on `up`: Unary echoes, ServerStream sends n messages, Bidi answers each message, Missing fails trailers-only. */
function serve(up: H2Upstream, service: string): void {
  const reply = (stream: http2.ServerHttp2Stream, onMessage: (m: string) => void, onEnd: () => void) => {
    let buf: Buffer = Buffer.alloc(0);
    stream.on('data', (d: Buffer) => {
      const r = grpcMessages(Buffer.concat([buf, d]));
      buf = r.rest;
      r.messages.forEach(onMessage);
    });
    stream.on('end', onEnd);
  };
  const trailers = (stream: http2.ServerHttp2Stream, status: string, message: string) =>
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': status, 'grpc-message': message }));
  up.handlers.set(`/${service}/Unary`, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    trailers(stream, '0', `${up.name} ok`);
    reply(stream, (m) => stream.write(grpcFrame(`${up.name}:${m}`)), () => stream.end());
  });
  up.handlers.set(`/${service}/ServerStream`, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    trailers(stream, '0', 'done');
    reply(
      stream,
      (m) => {
        const n = Number(m);
        let i = 0;
        const tick = () => {
          if (i === n) return void stream.end();
          stream.write(grpcFrame(`${up.name}#${i++}`));
          setTimeout(tick, 2);
        };
        tick();
      },
      () => undefined,
    );
  });
  up.handlers.set(`/${service}/Bidi`, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    trailers(stream, '0', 'bidi done');
    reply(stream, (m) => stream.write(grpcFrame(`${up.name}<${m}>`)), () => stream.end());
  });
  up.handlers.set(`/${service}/Missing`, (stream) => {
    // Trailers-only: one HEADERS frame with END_STREAM carrying the status.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such thing' }, { endStream: true });
  });
}

interface Call {
  stream: http2.ClientHttp2Stream;
  messages: string[];
  headers: Promise<{ headers: http2.IncomingHttpHeaders; flags: number }>;
  done: Promise<{ trailers?: http2.IncomingHttpHeaders; rstCode?: number }>;
  /** Resolves when `n` messages arrived. */
  received(n: number): Promise<void>;
}

function call(path: string, metadata: Record<string, string> = {}): Call {
  const stream = session.request({ ':method': 'POST', ':path': path, ...GRPC_HEADERS, ...metadata });
  stream.on('error', () => undefined);
  const messages: string[] = [];
  const waiters: [number, () => void][] = [];
  let buf: Buffer = Buffer.alloc(0);
  let trailers: http2.IncomingHttpHeaders | undefined;
  stream.on('data', (d: Buffer) => {
    const r = grpcMessages(Buffer.concat([buf, d]));
    buf = r.rest;
    messages.push(...r.messages);
    for (const [n, w] of waiters) if (messages.length >= n) w();
  });
  stream.on('trailers', (t) => (trailers = t));
  return {
    stream,
    messages,
    headers: new Promise((resolve) => stream.on('response', (headers, flags) => resolve({ headers, flags }))),
    done: new Promise((resolve) => stream.on('close', () => resolve({ trailers, rstCode: stream.rstCode }))),
    received: (n) => new Promise((resolve) => (messages.length >= n ? resolve() : waiters.push([n, resolve]))),
  };
}

beforeEach(async () => {
  app = await h2Upstream('app');
  ws = await h2Upstream('ws');
  for (const up of [app, ws]) {
    serve(up, 'svc.Greeter');
    serve(up, 'svc.Alice');
  }
  router = await startRouter(
    () => app.port,
    () => ws.port,
  );
  session = connectH2(router.port);
});

afterEach(async () => {
  session.destroy();
  await Promise.all([closeServer(router.server, router.sockets), closeServer(app.server, app.sockets), closeServer(ws.server, ws.sockets)]);
});

describe('gRPC through routeHttp2', () => {
  it('routes unary calls by metadata and by method path, trailers and all', async () => {
    const plan: [string, Record<string, string>, string][] = [
      ['/svc.Greeter/Unary', {}, 'app'],
      ['/svc.Greeter/Unary', { 'x-dev': 'alice' }, 'ws'],
      ['/svc.Alice/Unary', {}, 'ws'],
      ['/svc.Greeter/Unary', { 'x-dev': 'carol' }, 'app'],
    ];
    for (const [path, md, want] of plan) {
      const c = call(path, md);
      c.stream.end(grpcFrame('hi'));
      const { trailers } = await c.done;
      expect(c.messages).toEqual([`${want}:hi`]);
      expect(trailers?.['grpc-status']).toBe('0');
      expect(trailers?.['grpc-message']).toBe(`${want} ok`);
    }
  });

  it('streams server messages as they come, then the status', async () => {
    const c = call('/svc.Greeter/ServerStream', { 'x-dev': 'alice' });
    c.stream.end(grpcFrame('50'));
    // The first messages arrive while the target is still sending (nothing waits for the end).
    await c.received(3);
    expect(c.messages.length).toBeLessThan(50);
    const { trailers } = await c.done;
    expect(c.messages).toEqual(Array.from({ length: 50 }, (_, i) => `ws#${i}`));
    expect(trailers?.['grpc-message']).toBe('done');
  });

  it('carries a bidi call message by message, next to a unary call to the other target', async () => {
    const bidi = call('/svc.Alice/Bidi');
    const unary = call('/svc.Greeter/Unary');
    unary.stream.end(grpcFrame('u'));
    for (let i = 0; i < 20; i++) {
      bidi.stream.write(grpcFrame(`m${i}`));
      await bidi.received(i + 1); // each answer comes back before the next message goes
    }
    bidi.stream.end();
    const [b, u] = await Promise.all([bidi.done, unary.done]);
    expect(bidi.messages).toEqual(Array.from({ length: 20 }, (_, i) => `ws<m${i}>`));
    expect(b.trailers?.['grpc-message']).toBe('bidi done');
    expect(unary.messages).toEqual(['app:u']);
    expect(u.trailers?.['grpc-status']).toBe('0');
  });

  it('keeps a trailers-only error one HEADERS frame with END_STREAM', async () => {
    const c = call('/svc.Alice/Missing');
    c.stream.end(grpcFrame('x'));
    const { headers, flags } = await c.headers;
    expect(flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBeTruthy();
    expect(headers['grpc-status']).toBe('5');
    expect(headers['grpc-message']).toBe('no such thing');
    expect((await c.done).rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });

  it('cancels the target\'s call when the client cancels a server stream', async () => {
    let cancelled: (code: number) => void = () => undefined;
    const seen = new Promise<number>((r) => (cancelled = r));
    ws.handlers.set('/svc.Alice/Forever', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      const t = setInterval(() => stream.write(grpcFrame('tick')), 5);
      stream.on('close', () => {
        clearInterval(t);
        cancelled(stream.rstCode);
      });
    });
    const c = call('/svc.Alice/Forever');
    c.stream.end(grpcFrame('go'));
    await c.received(3);
    c.stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await seen).toBe(http2.constants.NGHTTP2_CANCEL);
  });
});
