// The TCP proxy's splicing with a fake destination lookup and an in-memory dialer (no root, no
// REDIRECT): half-close both ways, reset on a refused dial, the active count.
import net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { DialError, type Dialer } from '../tunnel/dialer.js';
import { TcpProxy } from './tcp.js';

const log = createLogger(undefined);

/** A dialer whose "cluster" answers `reply(request)` once the client half-closes. */
function fakeDialer(reply: (req: string) => string, dialed: string[]): Dialer {
  return {
    healthy: true,
    async tcp(ip, port) {
      dialed.push(`${ip}:${port}`);
      if (port === 9) throw new DialError(`${ip}:${port}`, 'connection refused');
      const toCluster = new PassThrough();
      const fromCluster = new PassThrough();
      let req = '';
      toCluster.on('data', (c: Buffer) => (req += c.toString()));
      toCluster.on('end', () => fromCluster.end(reply(req)));
      return Duplex.from({ writable: toCluster, readable: fromCluster });
    },
    udp: () => Promise.reject(new Error('no udp')),
    close: () => undefined,
  };
}

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

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

describe('TcpProxy', () => {
  it('dials the original destination and carries a half-closed exchange', async () => {
    const dialed: string[] = [];
    proxy = new TcpProxy(fakeDialer((r) => `cluster:${r}`, dialed), log, () => ({ ip: '198.19.1.10', port: 80 }));
    const port = await proxy.listen();
    expect(await exchange(port, 'hello')).toEqual({ got: 'cluster:hello' });
    expect(dialed).toEqual(['198.19.1.10:80']);
  });

  it('resets the client when the manager cannot dial', async () => {
    proxy = new TcpProxy(fakeDialer(() => '', []), log, () => ({ ip: '198.19.1.10', port: 9 }));
    const port = await proxy.listen();
    expect(await exchange(port, 'x')).toEqual({ code: 'ECONNRESET' });
  });

  it('drops connections that were not redirected (no original destination)', async () => {
    const dialed: string[] = [];
    proxy = new TcpProxy(fakeDialer(() => '', dialed), log, () => {
      throw new Error('ENOENT');
    });
    const port = await proxy.listen();
    const r = await exchange(port, 'x');
    expect(r).not.toHaveProperty('got', expect.stringContaining('cluster'));
    expect(dialed).toEqual([]);
  });

  it('counts active connections and forgets closed ones', async () => {
    proxy = new TcpProxy(fakeDialer((r) => r, []), log, () => ({ ip: '198.19.1.10', port: 80 }));
    const port = await proxy.listen();
    await Promise.all([1, 2, 3].map((i) => exchange(port, String(i))));
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.active).toBe(0);
  });
});
