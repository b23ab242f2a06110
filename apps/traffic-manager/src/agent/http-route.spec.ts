import { afterEach, describe, expect, it } from 'vitest';
import { closeServer as closeH1, httpUpstream, RawClient, rawUpstream, type Upstream } from './http1/testing/harness.js';
import { H2_PREFACE } from './http2/index.js';
import { closeServer, connectH2, h2Upstream, request, startRouter, type H2Upstream, type Router } from './http2/testing/harness.js';
import { sniff } from './http-route.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function track<T extends Upstream | H2Upstream | Router>(x: T): T {
  if ('handlers' in x) cleanup.push(() => closeServer(x.server, x.sockets));
  else if ('dialled' in x) cleanup.push(() => closeServer(x.server, x.sockets));
  else cleanup.push(() => closeH1(x.server));
  return x;
}

function rawClient(port: number): RawClient {
  const c = new RawClient(port);
  cleanup.push(() => c.close());
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A TLS 1.2 ClientHello record's first bytes (handshake, version, length, ClientHello, ...).
const CLIENT_HELLO = Buffer.from('16030100a5010000a10303' + '00'.repeat(32) + '000002c02f0100', 'hex');

describe('sniff', () => {
  it.each([
    ['', 'wait'],
    ['P', 'wait'],
    ['PRI * HTTP/2.0\r\n', 'wait'],
    [H2_PREFACE.toString('latin1'), 'h2'],
    [H2_PREFACE.toString('latin1') + '\x00\x00\x00\x04', 'h2'],
    ['PRI * HTTP/1.1\r\n', 'http1'],
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['POST', 'wait'],
    ['POST ', 'http1'],
    ['\r\n\r\nGET ', 'http1'],
    ['\r', 'wait'],
    ['M-SEARCH * HTTP/1.1', 'http1'],
    [' GET', 'raw'],
    ['GET\r\n', 'raw'],
    ['PING\r\n', 'raw'],
    ['\x00\x00\x00\x08\x04\xd2\x16\x2f', 'raw'],
    [CLIENT_HELLO.toString('latin1'), 'raw'],
    ['A'.repeat(31), 'wait'],
    ['A'.repeat(40), 'http1'],
  ])('%j → %s', (first, want) => {
    expect(sniff(Buffer.from(first, 'latin1'))).toBe(want);
  });
});

describe('routeHttp', () => {
  it('routes an h2c (prior knowledge) connection per stream', async () => {
    const app = track(await h2Upstream('app'));
    const ws = track(await h2Upstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port));
    const c = connectH2(router.port);
    cleanup.push(() => c.destroy());
    expect((await request(c, { ':path': '/a' })).body.toString()).toBe('app GET /a ');
    expect((await request(c, { ':path': '/b', 'x-dev': 'alice' })).body.toString()).toBe('ws GET /b ');
  });

  it('routes HTTP/1.1 requests, the first arriving a byte at a time', async () => {
    const app = track(await httpUpstream('app'));
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port));
    const c = rawClient(router.port);
    const req = 'GET /one HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n';
    for (const ch of req.slice(0, 6)) {
      c.send(ch);
      await sleep(5);
    }
    c.send(req.slice(6));
    expect((await c.readResponse()).body.toString()).toBe('ws GET /one ');
    c.send('GET /two HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('app GET /two ');
  });

  it('pipes TLS (or any bytes that are not HTTP) raw to the app', async () => {
    let got = Buffer.alloc(0);
    const app = track(
      await rawUpstream('app', (s) =>
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          s.write(`seen ${got.length}`);
        }),
      ),
    );
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port));
    const c = rawClient(router.port);
    c.send(CLIENT_HELLO);
    expect((await c.readBytes(`seen ${CLIENT_HELLO.length}`.length)).toString()).toBe(`seen ${CLIENT_HELLO.length}`);
    expect(got.equals(CLIENT_HELLO)).toBe(true);
    expect(ws.connections).toBe(0);
  });

  it('still routes a client that is silent at first, over the app connection dialled meanwhile', async () => {
    const app = track(await httpUpstream('app'));
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port, { silenceMs: 50 }));
    const c = rawClient(router.port);
    await sleep(200);
    expect(router.dialled).toEqual(['app']); // dialled to see whether the app speaks first
    c.send('GET /late HTTP/1.1\r\nHost: x\r\nx-dev: alice\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('ws GET /late ');
    c.send('GET /app HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readResponse()).body.toString()).toBe('app GET /app ');
    expect(router.dialled).toEqual(['app', 'ws']);
    expect(app.connections).toBe(1);
  });

  it('splices a server-speaks-first protocol to the app', async () => {
    let said = '';
    const app = track(
      await rawUpstream('app', (s) => {
        s.write('220 app ready\r\n');
        s.on('data', (d: Buffer) => {
          said += d.toString();
          s.write(`250 ${d.toString()}`);
        });
      }),
    );
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port, { silenceMs: 50 }));
    const c = rawClient(router.port);
    expect((await c.readBytes(15)).toString()).toBe('220 app ready\r\n');
    c.send('EHLO x\r\n');
    expect((await c.readBytes(12)).toString()).toBe('250 EHLO x\r\n');
    expect(said).toBe('EHLO x\r\n');
  });

  it('hands a client that ends inside the preface to the app as it is, FIN included', async () => {
    let got = '';
    let ended: () => void = () => undefined;
    const appEnded = new Promise<void>((r) => (ended = r));
    const app = track(
      await rawUpstream('app', (s) => {
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('end', () => {
          ended();
          s.end('bye');
        });
      }),
    );
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port));
    const c = rawClient(router.port);
    c.sock.end('PRI * HT');
    await appEnded;
    expect(got).toBe('PRI * HT');
    expect((await c.readBytes(3)).toString()).toBe('bye');
  });

  // Found by the fuzz: the app answers 417 before the body, the client sends its FIN mid-body; the
  // router must not wait for the rest of a body that can't come.
  it('closes a connection whose request was answered before its body and then cut short by the client', async () => {
    const app = track(await httpUpstream('app'));
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port));
    const c = rawClient(router.port);
    c.send('POST /x HTTP/1.1\r\nExpect: 100-co\xf4tinue\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n19\r\nbbbb');
    expect((await c.readResponse('POST')).head).toMatch(/^HTTP\/1\.1 417 /);
    c.sock.end();
    const until = Date.now() + 2000;
    while (router.sockets.size > 0 && Date.now() < until) await sleep(10);
    expect(router.sockets.size).toBe(0);
  });

  it('closes the app connection it dialled for a client that leaves without a word', async () => {
    const app = track(await httpUpstream('app'));
    const ws = track(await httpUpstream('ws'));
    const router = track(await startRouter(() => app.port, () => ws.port, { silenceMs: 20 }));
    const c = rawClient(router.port);
    await sleep(100);
    c.close();
    const open = () => new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)));
    const until = Date.now() + 2000;
    while ((await open()) > 0 && Date.now() < until) await sleep(10);
    expect(await open()).toBe(0);
    expect(app.connections).toBe(1);
    expect(router.sockets.size).toBe(0);
  });
});
