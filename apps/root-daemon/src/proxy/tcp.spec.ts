// The TCP proxy with a stubbed destination lookup (no root, no REDIRECT), carrying connections on
// the real stream tunnel to the real manager server (a unix socket relay stands in for the user
// daemon's port-forward socket): half-close both ways, reset on a refused dial, the active count.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startTcpStreamServer } from '../../../traffic-manager/src/manager/tcp-stream.js';
import { StreamTunnel } from '../tunnel/stream-tunnel.js';
import { TcpProxy, type DestinationOf } from './tcp.js';

const log = createLogger(undefined);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** "The cluster": answers `cluster:<request>` once the client half-closes. */
async function clusterServer(): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    let m = '';
    s.on('data', (c) => (m += c));
    s.on('end', () => s.end(`cluster:${m}`));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => srv.close(() => r(undefined))));
  return (srv.address() as net.AddressInfo).port;
}

/** A proxy whose connections ride a stream tunnel to the real manager; `dialed` counts tunnel connections. */
async function proxyTo(destinationOf: DestinationOf): Promise<{ proxy: TcpProxy; port: number; dialed: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tel-tcpproxy-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const manager = await startTcpStreamServer({ port: 0, host: '127.0.0.1', dialTimeoutMs: 2000, log });
  cleanups.push(() => manager.close());
  let dialed = 0;
  const relay = net.createServer({ allowHalfOpen: true }, (c) => {
    dialed++;
    const up = net.connect({ port: manager.port, host: '127.0.0.1', allowHalfOpen: true });
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  const socketPath = join(dir, 'manager-tcp.socket');
  await new Promise<void>((r) => relay.listen(socketPath, r));
  cleanups.push(() => new Promise((r) => relay.close(() => r(undefined))));
  const proxy = new TcpProxy(new StreamTunnel({ socketPath, log }), log, destinationOf);
  cleanups.push(() => proxy.close());
  return { proxy, port: await proxy.listen(), dialed: () => dialed };
}

function exchange(port: number, msg: string): Promise<{ got: string } | { code: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    s.on('connect', () => s.end(msg));
    s.on('data', (c) => (got += c));
    s.on('end', () => resolve({ got }));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code ?? 'ERR' }));
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('TcpProxy', () => {
  it('carries a half-closed exchange to the original destination', async () => {
    const dest = await clusterServer();
    const { port } = await proxyTo(() => ({ ip: '127.0.0.1', port: dest }));
    expect(await exchange(port, 'hello')).toEqual({ got: 'cluster:hello' });
  });

  it('resets the client when the manager cannot dial', async () => {
    const dest = await closedPort();
    const { port } = await proxyTo(() => ({ ip: '127.0.0.1', port: dest }));
    expect(await exchange(port, 'x')).toEqual({ code: 'ECONNRESET' });
  });

  it('drops connections that were not redirected (no original destination), without using the tunnel', async () => {
    const { port, dialed } = await proxyTo(() => {
      throw new Error('ENOENT');
    });
    const r = await exchange(port, 'x');
    expect(r).not.toHaveProperty('got', expect.stringContaining('cluster'));
    expect(dialed()).toBe(0);
  });

  it('counts active connections and forgets closed ones; counts carried ones', async () => {
    const dest = await clusterServer();
    const { proxy, port } = await proxyTo(() => ({ ip: '127.0.0.1', port: dest }));
    expect(await Promise.all([1, 2, 3].map((i) => exchange(port, String(i))))).toEqual([1, 2, 3].map((i) => ({ got: `cluster:${i}` })));
    await expect.poll(() => proxy.active).toBe(0);
    expect(proxy.streamTunnelStats()).toMatchObject({ via: 'stream', ok: 3, failed: 0 });
  });
});
