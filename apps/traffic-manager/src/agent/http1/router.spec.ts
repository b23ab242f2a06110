import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, httpUpstream, RawClient, rawUpstream, startRouter, type Router, type Upstream } from './testing/harness.js';

let app: Upstream;
let ws: Upstream;
let router: Router;
const clients: RawClient[] = [];

function client(): RawClient {
  const c = new RawClient(router.port);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  app = await httpUpstream('app');
  ws = await httpUpstream('ws');
  router = await startRouter(
    () => app,
    () => ws,
  );
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all([closeServer(router.server), closeServer(app.server), closeServer(ws.server)]);
});

describe('routeHttp1', () => {
  it('routes each request of a keep-alive connection by its own headers and path', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ by: string; body: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: router.port, path, headers, agent }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ by: String(res.headers['x-served-by']), body }));
          })
          .on('error', reject);
      });
    const plan: [string, Record<string, string>, string][] = [
      ['/1', {}, 'app'],
      ['/2', { 'X-Dev': 'alice' }, 'ws'],
      ['/3', { 'x-dev': 'bob' }, 'app'],
      ['/alice/4', {}, 'ws'],
      ['/5', { 'x-dev': 'alice' }, 'ws'],
      ['/6', {}, 'app'],
    ];
    for (const [path, headers, want] of plan) {
      const r = await get(path, headers);
      expect(r.by, path).toBe(want);
      expect(r.body).toBe(`${want} GET ${path} `);
    }
    agent.destroy();
    expect(router.accepted).toBe(1);
    // One upstream connection per target, reused.
    expect([app.connections, ws.connections]).toEqual([1, 1]);
  });

  it('carries chunked request and response bodies byte-exact, then the next request', async () => {
    const request =
      'POST /up HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;ext="a b"\r\nhello\r\n1A\r\n' + 'z'.repeat(26) + '\r\n0\r\nX-Trailer: t\r\n\r\n';
    const response =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Served-By: raw\r\n\r\n' +
      '5;e=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n';
    let received = '';
    ws = await rawUpstream('raw', (s) =>
      s.on('data', (d: Buffer) => {
        received += d.toString('latin1');
        if (received.length >= request.length) s.write(response);
      }),
    );
    const c = client();
    // Split in awkward places: inside the head, a chunk-size line and a chunk.
    let sent = 0;
    for (const cut of [20, 75, 83, 100, request.length]) {
      c.send(request.slice(sent, cut));
      sent = cut;
      await new Promise((r) => setTimeout(r, 10));
    }
    const r = await c.readResponse('POST');
    expect(r.raw.toString('latin1')).toBe(response);
    expect(received).toBe(request);
    c.send('GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n');
    const r2 = await c.readResponse();
    expect(r2.head).toMatch(/x-served-by: app/i);
    expect(r2.body.toString('latin1')).toBe('1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n');
  });

  it('passes Expect: 100-continue through to the chosen target', async () => {
    const c = client();
    c.send('POST /up HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    const interim = await c.readResponse('POST');
    expect(interim.head).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    c.send('hello');
    const r = await c.readResponse('POST');
    expect(r.body.toString('latin1')).toBe('ws POST /up hello');
    expect(app.connections).toBe(0);
  });

  it('answers pipelined requests in order, each from its own target', async () => {
    const c = client();
    c.send(
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /p2 HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n' +
        'POST /p3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
        'HEAD /p4 HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n' +
        'GET /p5 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const bodies = [];
    for (const m of ['GET', 'GET', 'POST', 'HEAD', 'GET']) bodies.push((await c.readResponse(m)).body.toString('latin1'));
    expect(bodies).toEqual(['app GET /slow ', 'ws GET /p2 ', 'app POST /p3 abc', '', 'app GET /p5 ']);
  });

  it('makes an upgraded connection a pipe to where its request matched, for good', async () => {
    const c = client();
    c.send('GET /before HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('app GET /before ');
    c.send('GET /chat HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const switched = await c.readBytes(Buffer.byteLength('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    expect(switched.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    c.send('hello');
    expect((await c.readBytes(8)).toString('latin1')).toBe('ws:hello');
    // No longer HTTP to the router: a request-looking frame is just bytes to ws.
    const frame = 'GET /x HTTP/1.1\r\n\r\n';
    c.send(frame);
    expect((await c.readBytes(3 + frame.length)).toString('latin1')).toBe(`ws:${frame}`);
  });

  it('sends bytes it cannot parse, and all after them, to the app', async () => {
    const c = client();
    c.send('GET /ok HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ws GET /ok ');
    c.send('GET / HTTP/9.9\r\nx-dev: alice\r\n\r\n');
    const r = await c.readResponse();
    expect(r.head).toMatch(/^HTTP\/1\.1 (400|505) /);
    expect(r.head).not.toMatch(/x-served-by: ws/i);
    expect(app.connections).toBe(1);
    expect(ws.connections).toBe(1);
  });

  it('refuses ambiguous framing to the filter: Content-Length with Transfer-Encoding goes to the app', async () => {
    const c = client();
    c.send('POST / HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    await c.readResponse('POST');
    expect(ws.connections).toBe(0);
    expect(app.connections).toBe(1);
  });

  it('falls back to the app when the intercept target cannot be reached', async () => {
    await closeServer(ws.server);
    const c = client();
    c.send('GET /x HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('app GET /x ');
  });

  it('drops a target that answers more than it was asked, and reconnects for the next request', async () => {
    ws = await rawUpstream('raw', (s) =>
      s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra')),
    );
    const c = client();
    c.send('GET /1 HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ok');
    c.send('GET /2 HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ok');
    expect(ws.connections).toBe(2);
  });

  it('carries megabytes both ways byte-exact under backpressure', async () => {
    const size = 8 * 1024 * 1024;
    const upload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) upload[i] = (i * 31 + (i >> 11)) & 0xff;
    let got = Buffer.alloc(0);
    const reply = Buffer.from(upload).reverse();
    ws = await rawUpstream('raw', (s) =>
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const head = got.indexOf('\r\n\r\n');
        if (head >= 0 && got.length - head - 4 === size) {
          s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
          s.write(reply);
        }
      }),
    );
    const c = client();
    const head = `PUT /big HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nContent-Length: ${size}\r\n\r\n`;
    c.send(Buffer.concat([Buffer.from(head, 'latin1'), upload]));
    const r = await c.readResponse('PUT', 10_000);
    expect(got.subarray(head.length).equals(upload)).toBe(true);
    expect(r.body.equals(reply)).toBe(true);
  }, 20_000);

  it('answers a request whose client half-closed right after sending it, then ends', async () => {
    const c = client();
    c.sock.end('GET /slow HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ws GET /slow ');
    await c.readBytes(1);
    expect(c.ended).toBe(true);
  });

  it('relays a close-delimited response and ends the client with it', async () => {
    ws = await rawUpstream('raw', (s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil the close')));
    const c = client();
    c.send('GET /1 HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    const r = await c.readResponse();
    expect(r.body.toString('latin1')).toBe('until the close');
    expect(c.ended).toBe(true);
  });

  it('sends a request again on a fresh connection when a reused one closes unanswered', async () => {
    let conns = 0;
    ws = await rawUpstream('raw', (s) => {
      const nth = ++conns;
      let requests = 0;
      s.on('data', () => {
        // The second request on the first connection meets a server that just timed it out.
        if (nth === 1 && ++requests === 2) s.destroy();
        else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    const c = client();
    for (const path of ['/1', '/2', '/3']) {
      c.send(`GET ${path} HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n`);
      expect((await c.readResponse()).body.toString('latin1')).toBe('ok');
    }
    expect(ws.connections).toBe(2);
  });

  it('gives the app a request whose intercept accepted and closed without answering', async () => {
    ws = await rawUpstream('raw', (s) => s.on('data', () => s.destroy()));
    const c = client();
    c.send('POST /x HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\nContent-Length: 3\r\n\r\nabc');
    expect((await c.readResponse('POST')).body.toString('latin1')).toBe('app POST /x abc');
    c.send('GET /y HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('app GET /y ');
    expect(app.connections).toBe(1);
  });

  it('ends the client after a response that says Connection: close, and not before', async () => {
    const c = client();
    c.send('GET /a HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ws GET /a ');
    expect(c.ended).toBe(false);
    const r = await c.readResponse();
    expect(r.head).toMatch(/connection: close/i);
    expect(r.body.toString('latin1')).toBe('app GET /b ');
    await c.readBytes(1);
    expect(c.ended).toBe(true);
  });

  it('survives 2000 mutated requests and keeps routing right', async () => {
    const bases = [
      'GET /a HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n',
      'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\n\r\n',
      'POST /u HTTP/1.1\r\nx-dev: alice\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'GET /w HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhi',
      'POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok',
    ];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const inserts = ['\r\n', ':', ' ', 'chunked', '0', '\n', '\r', 'Content-Length: 9\r\n', 'Transfer-Encoding: chunked\r\n', '\x00', 'ffffffffffff'];
    const mutate = (s: string) => {
      let b = Buffer.from(s, 'latin1');
      for (let k = 1 + rand(4); k > 0; k--) {
        const at = rand(b.length + 1);
        switch (rand(4)) {
          case 0:
            if (b.length) b[Math.min(at, b.length - 1)] = rand(256);
            break;
          case 1:
            b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rand(8))]);
            break;
          case 2:
            b = Buffer.concat([b.subarray(0, at), Buffer.from(inserts[rand(inserts.length)] ?? '', 'latin1'), b.subarray(at)]);
            break;
          default:
            b = b.subarray(0, at);
        }
      }
      return b;
    };
    let timeouts = 0;
    const one = (payload: Buffer) =>
      new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: router.port, allowHalfOpen: true });
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        const t = setTimeout(() => {
          timeouts++;
          if (process.env.FUZZ_DEBUG) process.stderr.write(`hung: ${JSON.stringify(payload.toString('latin1'))}\n`);
          s.destroy();
        }, 3000);
        s.on('close', () => {
          clearTimeout(t);
          resolve();
        });
        s.end(payload);
      });
    const all: Buffer[] = [];
    for (let i = 0; i < 2000; i++) all.push(mutate(bases[i % bases.length] ?? ''));
    for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map(one));
    expect(router.accepted).toBe(2000);
    // The router ended every connection it was handed (nothing hung waiting for bytes that never come).
    expect(timeouts).toBe(0);
    const c = client();
    c.send('GET /after HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\nGET /after2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString('latin1')).toBe('ws GET /after ');
    expect((await c.readResponse()).body.toString('latin1')).toBe('app GET /after2 ');
  }, 60_000);
});
