import crypto from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../testing/free-port.js';
import { FRAME, PREFACE, frame, requestFrames, settings } from '../testing/h2-frames.js';
import { closeServer, connectH2, h2Upstream, request, startRouter, type H2Upstream, type Router } from './testing/harness.js';

let app: H2Upstream;
let ws: H2Upstream;
let wsPort: number;
let router: Router;
const sessions: http2.ClientHttp2Session[] = [];

function client(): http2.ClientHttp2Session {
  const s = connectH2(router.port);
  sessions.push(s);
  return s;
}

beforeEach(async () => {
  app = await h2Upstream('app');
  ws = await h2Upstream('ws');
  wsPort = ws.port;
  router = await startRouter(
    () => app.port,
    () => wsPort,
  );
});

afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await Promise.all([closeServer(router.server, router.sockets), closeServer(app.server, app.sockets), closeServer(ws.server, ws.sockets)]);
});

const { NGHTTP2_CANCEL } = http2.constants;

describe('routeHttp2', () => {
  it('routes each stream of one connection by its own headers and path, one upstream session per target', async () => {
    const c = client();
    const plan: [string, Record<string, string>, string][] = [
      ['/1', {}, 'app'],
      ['/2', { 'x-dev': 'alice' }, 'ws'],
      ['/3', { 'x-dev': 'bob' }, 'app'],
      ['/alice/4?q=1', {}, 'ws'],
      ['/5', { 'x-dev': 'alice' }, 'ws'],
      ['/6', {}, 'app'],
    ];
    for (const [path, headers, want] of plan) {
      const r = await request(c, { ':path': path, ...headers });
      expect(r.headers['x-served-by'], path).toBe(want);
      expect(r.body.toString()).toBe(`${want} GET ${path} `);
    }
    expect([app.connections, ws.connections]).toEqual([1, 1]);
    expect(router.sockets.size).toBe(1);
  });

  it('keeps many concurrent streams apart while their bodies interleave', async () => {
    const c = client();
    const n = 60;
    const reqs = Array.from({ length: n }, (_, i) => {
      const to = i % 3 === 0 ? 'ws' : 'app';
      const req = c.request({ ':method': 'POST', ':path': `/s${i}`, ...(to === 'ws' ? { 'x-dev': 'alice' } : {}) });
      req.on('error', () => undefined);
      const body: Buffer[] = [];
      req.on('data', (d: Buffer) => body.push(d));
      const done = new Promise<string>((resolve) => req.on('close', () => resolve(Buffer.concat(body).toString())));
      return { req, to, i, done };
    });
    // Each body goes in three pieces, round-robin over all streams.
    for (const piece of ['a', 'b', 'c']) {
      for (const r of reqs) r.req.write(`${piece}${r.i}.`);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const r of reqs) r.req.end();
    const bodies = await Promise.all(reqs.map((r) => r.done));
    bodies.forEach((b, i) => expect(b).toBe(`${reqs[i]?.to} POST /s${i} a${i}.b${i}.c${i}.`));
    expect([app.streams, ws.streams]).toEqual([40, 20]);
    expect([app.connections, ws.connections]).toEqual([1, 1]);
  });

  it('passes headers field by field, the target\'s own Date, and 1xx answers', async () => {
    ws.handlers.set('/alice/h', (stream, headers) => {
      stream.respond({ ':status': 201, 'set-cookie': ['a=1', 'b=2'], 'x-multi': ['1', '2'], date: 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-saw': JSON.stringify(headers['x-in']) });
      stream.end();
    });
    const r = await request(client(), { ':path': '/alice/h', 'x-in': ['p', 'q'] });
    expect(r.status).toBe(201);
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-multi']).toBe('1, 2');
    expect(r.headers.date).toBe('Mon, 01 Jan 2024 00:00:00 GMT');
    expect(r.headers['x-saw']).toBe('"p, q"');

    ws.handlers.set('/alice/up', (stream) => {
      // The target's own interim answer (node's stream API sends none by itself).
      stream.additionalHeaders({ ':status': 100 });
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(`continued ${Buffer.concat(chunks).toString()}`);
      });
    });
    const c = client();
    const req = c.request({ ':method': 'POST', ':path': '/alice/up', expect: '100-continue' });
    const gotContinue = new Promise<void>((resolve) => req.once('continue', () => resolve()));
    await gotContinue;
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.end('after continue');
    await new Promise((resolve) => req.on('end', resolve));
    expect(Buffer.concat(body).toString()).toBe('continued after continue');
  });

  it('carries 32 MiB each way byte-exact under flow control', async () => {
    const size = 32 * 1024 * 1024;
    ws.handlers.set('/alice/big', (stream) => {
      // Echoes what comes in, as it comes (backpressure both ways).
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    });
    const payload = crypto.randomBytes(size);
    const c = client();
    const req = c.request({ ':method': 'POST', ':path': '/alice/big' });
    const hash = crypto.createHash('sha256');
    let got = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      got += d.length;
    });
    const done = new Promise((resolve) => req.on('end', resolve));
    // Written in 1 MiB pieces honouring backpressure.
    for (let at = 0; at < size; at += 1 << 20) {
      if (!req.write(payload.subarray(at, at + (1 << 20)))) await new Promise((r) => req.once('drain', r));
    }
    req.end();
    await done;
    expect(got).toBe(size);
    expect(hash.digest('hex')).toBe(crypto.createHash('sha256').update(payload).digest('hex'));
  }, 60_000);

  it('reads a target only as fast as the client does (no buffering past flow control)', async () => {
    let written = 0;
    let blocked: () => void = () => undefined;
    const stalled = new Promise<void>((r) => (blocked = r));
    const chunk = Buffer.alloc(64 * 1024, 7);
    ws.handlers.set('/alice/flood', (stream) => {
      stream.respond({ ':status': 200 });
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!stream.write(chunk)) {
            const t = setTimeout(blocked, 300); // still blocked 300 ms later: the agent stopped reading
            stream.once('drain', () => {
              clearTimeout(t);
              pump();
            });
            return;
          }
        }
        stream.end();
      };
      pump();
    });
    const c = client();
    const req = c.request({ ':path': '/alice/flood' }, { endStream: true });
    req.on('error', () => undefined);
    req.pause(); // the client reads nothing
    await stalled;
    // The client's and the target's windows plus socket buffers, not the 64 MiB the target would send.
    expect(written).toBeLessThan(8 * 1024 * 1024);
    req.close(NGHTTP2_CANCEL);
  });

  it('sends a stream whose target is down to the app, body and all', async () => {
    wsPort = await freePort();
    const r = await request(client(), { ':method': 'POST', ':path': '/x', 'x-dev': 'alice' }, 'payload');
    expect(r.body.toString()).toBe('app POST /x payload');
    expect(router.dialled).toEqual(['ws', 'app']);
  });

  it('sends a stream to the app when the target accepts but its session fails before answering', async () => {
    const broken = net.createServer((s) => s.destroy());
    const port = await new Promise<number>((resolve) => broken.listen(0, '127.0.0.1', () => resolve((broken.address() as net.AddressInfo).port)));
    wsPort = port;
    try {
      const r = await request(client(), { ':method': 'POST', ':path': '/y', 'x-dev': 'alice' }, 'kept body');
      expect(r.body.toString()).toBe('app POST /y kept body');
    } finally {
      broken.close();
    }
  });

  it('passes a client reset on to the target stream, and a target reset back to the client', async () => {
    let upstreamClosed: (code: number) => void = () => undefined;
    const codeSeen = new Promise<number>((r) => (upstreamClosed = r));
    ws.handlers.set('/alice/hang', (stream) => {
      stream.respond({ ':status': 200 });
      stream.write('started');
      stream.on('close', () => upstreamClosed(stream.rstCode));
    });
    const c = client();
    const req = c.request({ ':path': '/alice/hang' }, { endStream: true });
    req.on('error', () => undefined);
    await new Promise((r) => req.once('data', r));
    req.close(NGHTTP2_CANCEL);
    expect(await codeSeen).toBe(NGHTTP2_CANCEL);

    ws.handlers.set('/alice/reset', (stream) => {
      stream.respond({ ':status': 200 });
      stream.write('partial');
      setTimeout(() => stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), 20);
    });
    // The request stays open: node's own server turns a reset of a stream the client finished into a clean end.
    const req2 = c.request({ ':method': 'POST', ':path': '/alice/reset' });
    req2.on('error', () => undefined);
    req2.write('still sending');
    const chunks: Buffer[] = [];
    req2.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((r) => req2.on('close', r));
    const r = { body: Buffer.concat(chunks), rstCode: req2.rstCode };
    expect(r.body.toString()).toBe('partial');
    expect(r.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it('opens a new upstream session after the target says GOAWAY', async () => {
    ws.handlers.set('/alice/bye', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('bye');
      stream.session?.goaway();
    });
    const c = client();
    expect((await request(c, { ':path': '/alice/bye' })).body.toString()).toBe('bye');
    await new Promise((r) => setTimeout(r, 50));
    expect((await request(c, { ':path': '/alice/after' })).body.toString()).toBe('ws GET /alice/after ');
    expect(ws.connections).toBe(2);
  });

  it('opens a new app session when the app closed the last one; a stream racing an intercept\'s GOAWAY is answered', async () => {
    app.handlers.set('/close', (stream) => {
      const session = stream.session; // a closed stream no longer knows its session
      stream.respond({ ':status': 200 });
      stream.end('closing', () => setTimeout(() => session?.destroy(), 10));
    });
    const c = client();
    expect((await request(c, { ':path': '/close' })).body.toString()).toBe('closing');
    await waitFor(() => app.sockets.size === 0);
    expect((await request(c, { ':path': '/next' })).body.toString()).toBe('app GET /next ');
    expect(app.connections).toBe(2);

    // The intercept says GOAWAY (last stream 1) while stream 1 is under way: a stream opened then is
    // either refused by it (REFUSED_STREAM: the app answers) or sent on a new session; never lost.
    ws.handlers.set('/alice/first', (stream) => {
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('first');
      }, 50);
    });
    const first = request(c, { ':path': '/alice/first' });
    await waitFor(() => ws.streams === 1);
    const second = await request(c, { ':method': 'POST', ':path': '/alice/second' }, 'again');
    expect((await first).body.toString()).toBe('first');
    expect(['app POST /alice/second again', 'ws POST /alice/second again']).toContain(second.body.toString());
  });

  it('closes the upstream sessions when the client goes', async () => {
    const c = client();
    await request(c, { ':path': '/a' });
    await request(c, { ':path': '/alice/b' });
    expect(app.sockets.size + ws.sockets.size).toBe(2);
    c.close();
    await waitFor(() => app.sockets.size + ws.sockets.size === 0 && router.sockets.size === 0);
  });
});

describe('routeHttp2 connection upkeep', () => {
  it('lets go of a client after a protocol error once it stops answering PINGs, and keeps an idle one that answers', async () => {
    await closeServer(router.server, router.sockets);
    router = await startRouter(
      () => app.port,
      () => wsPort,
      { h2: { idleProbeMs: 50, pingWaitMs: 50 } },
    );
    // A SETTINGS frame of a length no SETTINGS can have: node:http2 answers GOAWAY and stops reading.
    const bad = net.connect(router.port, '127.0.0.1');
    bad.on('error', () => undefined);
    const got: Buffer[] = [];
    bad.on('data', (d: Buffer) => got.push(d));
    bad.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(5))]));
    bad.end();
    const idle = client();
    expect((await request(idle, { ':path': '/before' })).body.toString()).toBe('app GET /before ');
    await waitFor(() => router.sockets.size === 1, 2000);
    expect(Buffer.concat(got).includes(Buffer.from([0, 0, 8, FRAME.GOAWAY]))).toBe(true);
    // The idle client answered its PINGs and is still served.
    await new Promise((r) => setTimeout(r, 300));
    expect((await request(idle, { ':path': '/after' })).body.toString()).toBe('app GET /after ');
    bad.destroy();
  });

  it('cancels a stream whose request the client cut short with its FIN, and closes', async () => {
    let seen: (code: number) => void = () => undefined;
    const upstreamClosed = new Promise<number>((r) => (seen = r));
    ws.handlers.set('/alice/upload', (stream) => stream.on('close', () => seen(stream.rstCode)));
    const raw = net.connect(router.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const fields: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/alice/upload'],
      [':authority', 'x'],
    ];
    // HEADERS without END_STREAM, then the FIN: the body can never come.
    const headers = requestFrames(1, fields, Buffer.from('part'))[0] as Buffer;
    raw.write(Buffer.concat([PREFACE, settings(), headers, frame(FRAME.DATA, 0, 1, Buffer.from('part'))]));
    await waitFor(() => ws.streams === 1);
    raw.end();
    expect(await upstreamClosed).toBe(NGHTTP2_CANCEL);
    await waitFor(() => router.sockets.size === 0);
    raw.destroy();
  });
});


export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
