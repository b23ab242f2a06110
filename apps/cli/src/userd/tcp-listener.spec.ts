// The user daemon's TCP listener against the real manager server (traffic-manager's
// startTcpStreamServer) on loopback; `dial` stands in for a port-forward stream (a byte pipe, as
// the SPDY stream is). The REDIRECT rule and SO_ORIGINAL_DST are the cluster e2e's
// (userd/e2e/connect.e2e.spec.ts); here the destination comes from a stub.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startTcpStreamServer } from '../../../traffic-manager/src/manager/tcp-stream.js';
import { startTcpListener, type DestinationOf } from './tcp-listener.js';

const log = createLogger(undefined);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Answers "echo <everything read>" once the client half-closes. */
async function echoServer(): Promise<number> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => s.end(`echo ${got}`));
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of socks) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return (srv.address() as net.AddressInfo).port;
}

async function rig(destinationOf: DestinationOf) {
  const manager = await startTcpStreamServer({ port: 0, host: '127.0.0.1', dialTimeoutMs: 2000, log });
  cleanups.push(() => manager.close());
  let dials = 0;
  const listener = await startTcpListener({
    dial: () =>
      new Promise((resolve, reject) => {
        dials++;
        const s = net.connect({ port: manager.port, host: '127.0.0.1', allowHalfOpen: true });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
    log,
    destinationOf,
  });
  cleanups.push(() => listener.close());
  return { listener, dials: () => dials };
}

/** One connection to the listener: send `text`, half-close, collect the reply until close. */
const talk = (port: number, text: string) =>
  new Promise<{ reply: string; error?: string }>((resolve) => {
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let reply = '';
    c.on('connect', () => c.end(text));
    c.on('data', (d) => (reply += d));
    c.on('end', () => c.end());
    c.on('close', () => resolve({ reply }));
    c.on('error', (e) => resolve({ reply, error: (e as NodeJS.ErrnoException).code ?? String(e) }));
  });

describe('the user daemon TCP listener', () => {
  it('carries each accepted connection to its original destination, half-close included, on reused tunnel streams', async () => {
    const echoPort = await echoServer();
    const { listener, dials } = await rig(() => ({ ip: '127.0.0.1', port: echoPort }));
    for (let i = 0; i < 5; i++) expect(await talk(listener.port, `hello ${i}`)).toEqual({ reply: `echo hello ${i}` });
    expect(listener.stats()).toMatchObject({ ok: 5, failed: 0, accepted: 5 });
    // Sequential connections ride one pooled stream once it is finished (TcpCarrier reuse).
    expect(dials()).toBeLessThan(5);
  });

  it('server closes first (HTTP style): every destination gets the client FIN that follows, on one reused stream', async () => {
    let ends = 0;
    const srv = net.createServer({ allowHalfOpen: true }, (s) => {
      s.once('data', (d) => s.end(`re ${d}`));
      s.on('end', () => ends++);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const { listener, dials } = await rig(() => ({ ip: '127.0.0.1', port: (srv.address() as net.AddressInfo).port }));
    const ask = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const c = net.connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true });
        let reply = '';
        c.on('connect', () => c.write(text));
        c.on('data', (d) => (reply += d));
        c.on('end', () => c.end()); // the client closes only after the server did
        c.on('close', () => resolve(reply));
        c.on('error', reject);
      });
    for (let i = 0; i < 4; i++) expect(await ask(`q${i}`)).toBe(`re q${i}`);
    for (let i = 0; i < 100 && ends < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ends).toBe(4);
    expect(dials()).toBeLessThan(4);
    expect(listener.stats()).toMatchObject({ ok: 4, failed: 0 });
  });

  it('resets a connection whose destination refuses, and counts it', async () => {
    const closed = await echoServer(); // a port that was listening a moment ago
    await cleanups.pop()!();
    const { listener } = await rig(() => ({ ip: '127.0.0.1', port: closed }));
    const r = await talk(listener.port, 'anyone?');
    expect(r.reply).toBe('');
    expect(r.error).toBe('ECONNRESET');
    expect(listener.stats()).toMatchObject({ ok: 0, failed: 1, accepted: 1 });
    expect(listener.stats().lastError).toMatch(/ECONNREFUSED/);
  });

  it('drops connections that were not redirected (no original destination, or the listener itself)', async () => {
    let self = 0;
    const { listener } = await rig(() => {
      throw new Error('getsockopt SO_ORIGINAL_DST failed (errno 2)');
    });
    const r = await talk(listener.port, 'x');
    expect(r.reply).toBe('');
    const { listener: l2 } = await rig(() => ({ ip: '127.0.0.1', port: (self = l2.port) }));
    expect((await talk(l2.port, 'x')).reply).toBe('');
    expect(self).toBe(l2.port);
    expect(listener.stats().accepted + l2.stats().accepted).toBe(0);
  });
});
