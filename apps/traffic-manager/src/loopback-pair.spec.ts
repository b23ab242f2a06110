// The loopback pair and its relay, on real sockets: bytes and EOF both ways, backpressure with a
// slow reader, and nothing left open afterwards.
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { Duplex } from 'node:stream';
import { loopbackPair, nativeSocketFor, relay } from './loopback-pair.js';

const openFds = () => readdirSync('/proc/self/fd').length;
const handleName = (s: net.Socket) => (s as unknown as { _handle?: object })._handle?.constructor.name;

/** Resolves once `s` is closed. */
const closed = (s: net.Socket) => (s.destroyed ? Promise.resolve() : once(s, 'close').then(() => undefined));
/** Resolves once `s` got its peer's EOF (or reset), flowing it meanwhile. */
function sawEnd(s: net.Socket): Promise<void> {
  if (s.readableEnded || s.destroyed) return Promise.resolve();
  s.resume();
  return new Promise((r) => (s.once('end', () => r()), s.once('close', () => r())));
}

async function readAll(s: net.Socket): Promise<Buffer> {
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  await once(s, 'end');
  return Buffer.concat(got);
}

/** A client connection to a one-shot server, and the server's side of it. */
async function tcpConnection(): Promise<{ client: net.Socket; server: net.Socket; close: () => void }> {
  const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = once(srv, 'connection');
  const client = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [server] = (await accepted) as [net.Socket];
  await once(client, 'connect').catch(() => undefined);
  return { client, server, close: () => srv.close() };
}

describe('loopbackPair', () => {
  it('gives two connected native sockets that carry bytes and EOF both ways', async () => {
    const [a, b] = await loopbackPair();
    expect([handleName(a), handleName(b)]).toEqual(['TCP', 'TCP']);
    const toB = readAll(b);
    const toA = readAll(a);
    a.end('from a');
    expect((await toB).toString()).toBe('from a');
    b.end('from b'); // half-open: b still writes after a's FIN
    expect((await toA).toString()).toBe('from b');
    await Promise.all([closed(a), closed(b)]);
  });

  it('matches many pairs made at once, each with its own partner', async () => {
    const pairs = await Promise.all(Array.from({ length: 50 }, () => loopbackPair()));
    const answers = pairs.map(([a, b], i) => {
      b.on('data', (d: Buffer) => b.end(`echo ${d.toString()}`));
      a.write(String(i));
      return readAll(a);
    });
    expect((await Promise.all(answers)).map(String)).toEqual(pairs.map((_, i) => `echo ${i}`));
    for (const [a, b] of pairs) (a.destroy(), b.destroy());
  });
});

describe('relay', () => {
  it('relays 16 MiB each way to a slow reader with backpressure, then closes everything', async () => {
    await loopbackPair().then(([a, b]) => (a.destroy(), b.destroy())); // the listener is up
    const fds = openFds();
    const conn = await tcpConnection();
    const [outerEnd, innerEnd] = await loopbackPair();
    relay(conn.server, outerEnd);
    const big = Buffer.alloc(16 << 20, 7);
    // Slow readers on both sides: the relay may only buffer about a socket's worth of it.
    let peak = 0;
    const slow = (s: net.Socket, into: Buffer[]) =>
      s.on('data', (d: Buffer) => {
        into.push(d);
        peak = Math.max(peak, conn.server.writableLength, outerEnd.writableLength);
        s.pause();
        setTimeout(() => s.resume(), 1);
      });
    const atInner: Buffer[] = [];
    const atClient: Buffer[] = [];
    slow(innerEnd, atInner);
    slow(conn.client, atClient);
    const bytes = (into: Buffer[]) => into.reduce((n, b) => n + b.length, 0);
    conn.client.end(big);
    innerEnd.write(big);
    await once(innerEnd, 'end');
    while (bytes(atClient) < big.length) await new Promise((r) => setTimeout(r, 5));
    innerEnd.end();
    await once(conn.client, 'end');
    expect(Buffer.concat(atInner).equals(big)).toBe(true);
    expect(Buffer.concat(atClient).equals(big)).toBe(true);
    expect(peak).toBeLessThan(4 << 20);
    await Promise.all([conn.client, conn.server, outerEnd, innerEnd].map(closed));
    conn.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBeLessThanOrEqual(fds);
  });

  it('refuses at the first chunk the check rejects: the outer side gets the refusal and both close', async () => {
    const conn = await tcpConnection();
    const [outerEnd, innerEnd] = await loopbackPair();
    const refused: string[] = [];
    relay(conn.server, outerEnd, { check: (c) => (c.includes('bad') ? 'a bad chunk' : undefined), onRefused: (w) => refused.push(w), refusal: Buffer.from('bye') });
    const atInner: Buffer[] = [];
    innerEnd.on('data', (d: Buffer) => atInner.push(d));
    innerEnd.on('error', () => undefined);
    const toClient = readAll(conn.client);
    conn.client.write('good');
    await once(innerEnd, 'data');
    conn.client.write('bad');
    expect((await toClient).toString()).toBe('bye');
    expect(refused).toEqual(['a bad chunk']);
    expect(Buffer.concat(atInner).toString()).toBe('good');
    // innerEnd's owner (node:http2 in the guard) closes it on its EOF.
    await Promise.all([closed(conn.server), closed(outerEnd), sawEnd(innerEnd)]);
    conn.client.destroy();
    innerEnd.destroy();
    conn.close();
  });

  it("passes the outer side's FIN in, and closes the outer side after the inner one answers and ends", async () => {
    const conn = await tcpConnection();
    const [outerEnd, innerEnd] = await loopbackPair();
    relay(conn.server, outerEnd);
    const answer = readAll(conn.client);
    conn.client.end('question');
    expect((await readAll(innerEnd)).toString()).toBe('question');
    innerEnd.end('answer'); // as node:http2 does once it is done
    expect((await answer).toString()).toBe('answer');
    await Promise.all([conn.client, conn.server, outerEnd, innerEnd].map(closed));
    conn.close();
  });

  it('closes the outer side when the inner one is destroyed, and destroys the inner side when the outer one is cut', async () => {
    for (const cut of ['inner', 'outer'] as const) {
      const conn = await tcpConnection();
      const [outerEnd, innerEnd] = await loopbackPair();
      innerEnd.on('error', () => undefined);
      conn.client.on('error', () => undefined);
      relay(conn.server, outerEnd);
      if (cut === 'inner') {
        innerEnd.destroy();
        await sawEnd(conn.client);
      } else {
        conn.client.resetAndDestroy();
        await sawEnd(innerEnd);
      }
      await Promise.all([closed(conn.server), closed(outerEnd)]);
      conn.client.destroy();
      innerEnd.destroy();
      conn.close();
    }
  });
});

describe('nativeSocketFor', () => {
  it('gives node:http2 a native socket over a JS stream (a tunnel), and closes it with the stream', async () => {
    // The "tunnel": a JS Duplex whose bytes go to a real h2 server's socket and back.
    const h2 = http2.createServer();
    h2.on('stream', (st) => {
      st.respond({ ':status': 200 });
      st.end('over the tunnel');
    });
    h2.on('sessionError', () => undefined);
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const tcp = net.connect((h2.address() as net.AddressInfo).port, '127.0.0.1');
    await once(tcp, 'connect');
    const tunnel = new Duplex({
      read: () => tcp.resume(),
      write: (c: Buffer, _e, done) => (tcp.write(c) ? done() : tcp.once('drain', () => done())),
      final: (done) => (tcp.end(), done()),
    });
    tcp.on('data', (d: Buffer) => tunnel.push(d) || tcp.pause());
    tcp.on('end', () => tunnel.push(null));
    tcp.on('close', () => tunnel.destroy());

    const sock = await nativeSocketFor(tunnel);
    expect(handleName(sock)).toBe('TCP');
    const session = http2.connect('http://x', { createConnection: () => sock });
    const req = session.request({ ':path': '/' });
    req.setEncoding('utf8');
    let body = '';
    req.on('data', (d: string) => (body += d));
    await once(req, 'end');
    expect(body).toBe('over the tunnel');
    tunnel.destroy();
    await closed(sock);
    session.destroy();
    tcp.destroy();
    h2.close();
    // A socket with a native handle is used as it is.
    const [a, b] = await loopbackPair();
    expect(await nativeSocketFor(a)).toBe(a);
    a.destroy();
    b.destroy();
  });
});
