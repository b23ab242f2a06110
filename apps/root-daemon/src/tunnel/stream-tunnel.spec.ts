// The root daemon's side of the TCP stream tunnel against the real manager server
// (traffic-manager's startTcpStreamServer) on loopback, with a unix socket standing in for the
// user daemon's port-forward socket (a byte pipe, as the SPDY stream is). Through the real
// cluster: userd/e2e/connect.e2e.spec.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startTcpStreamServer, type TcpStreamServer } from '../../../traffic-manager/src/manager/tcp-stream.js';
import { TcpProxy } from '../proxy/tcp.js';
import { StreamTunnel } from './stream-tunnel.js';

const log = createLogger(undefined);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface Rig {
  proxyPort: number;
  manager: TcpStreamServer;
  /** Connections the "user daemon" socket accepted (= port-forward streams it would open). */
  tunnelConns: net.Socket[];
  tunnel: StreamTunnel;
}

/** dst → the proxy's "original destination" is always `dest`. */
async function rig(dest: { ip: string; port: number }, opts: { verifyServer?: (fd: number) => void } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'tel-st-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const manager = await startTcpStreamServer({ port: 0, host: '127.0.0.1', dialTimeoutMs: 2000, log });
  cleanups.push(() => manager.close());
  const tunnelConns: net.Socket[] = [];
  const userd = net.createServer({ allowHalfOpen: true }, (c) => {
    tunnelConns.push(c);
    const up = net.connect({ port: manager.port, host: '127.0.0.1', allowHalfOpen: true });
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  const socketPath = join(dir, 'manager-tcp.socket');
  await new Promise<void>((r) => userd.listen(socketPath, r));
  cleanups.push(() => {
    for (const c of tunnelConns) c.destroy();
    return new Promise((r) => userd.close(() => r(undefined)));
  });
  const tunnel = new StreamTunnel({ socketPath, log, ...(opts.verifyServer ? { verifyServer: opts.verifyServer } : {}) });
  const proxy = new TcpProxy(tunnel, log, () => dest);
  const proxyPort = await proxy.listen();
  cleanups.push(() => proxy.close());
  return { proxyPort, manager, tunnelConns, tunnel };
}

async function server(handler: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => srv.close(() => r(undefined))));
  return (srv.address() as net.AddressInfo).port;
}

/** Connect through the proxy, send `payload` then FIN, collect everything until the server's FIN. */
function exchange(port: number, payload: Buffer | string): Promise<{ got: Buffer } | { code: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('connect', () => s.end(payload));
    s.on('data', (c: Buffer) => got.push(c));
    s.on('end', () => {
      s.destroy();
      resolve({ got: Buffer.concat(got) });
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code ?? 'ERR' }));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('StreamTunnel through the real manager server', () => {
  it('carries 8 MiB both ways intact, answering after the client half-closes', async () => {
    // The destination reads everything, then answers its digest and the data reversed in blocks.
    const port = await server((s) => {
      const parts: Buffer[] = [];
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('end', () => {
        const all = Buffer.concat(parts);
        s.end(Buffer.concat([Buffer.from(sha(all) + '\n'), all]));
      });
    });
    const r = await rig({ ip: '127.0.0.1', port });
    const payload = randomBytes(8 << 20);
    const res = await exchange(r.proxyPort, payload);
    expect('got' in res).toBe(true);
    const got = (res as { got: Buffer }).got;
    expect(got.subarray(0, 64).toString()).toBe(sha(payload));
    expect(sha(got.subarray(65))).toBe(sha(payload));
  });

  it('reuses finished tunnel connections: 30 sequential connections ride far fewer port-forward streams', async () => {
    const port = await server((s) => {
      s.on('data', () => undefined);
      s.on('end', () => s.end('pong'));
    });
    const r = await rig({ ip: '127.0.0.1', port });
    for (let i = 0; i < 30; i++) {
      const res = await exchange(r.proxyPort, `ping ${i}`);
      expect(res).toEqual({ got: Buffer.from('pong') });
    }
    expect(r.manager.stats().total).toBe(30);
    expect(r.tunnelConns.length).toBeLessThanOrEqual(3);
    expect(r.tunnel.ok).toBe(30);
  });

  it('a server that speaks first gets its banner through, and so does the answer', async () => {
    const port = await server((s) => {
      s.write('220 hello\r\n');
      s.on('data', (c: Buffer) => {
        if (c.toString().includes('QUIT')) s.end('221 bye\r\n');
      });
    });
    const r = await rig({ ip: '127.0.0.1', port });
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(r.proxyPort, '127.0.0.1');
      let text = '';
      s.on('data', (c: Buffer) => {
        text += c.toString();
        if (text === '220 hello\r\n') s.write('QUIT\r\n');
      });
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(got).toBe('220 hello\r\n221 bye\r\n');
  });

  it('a refused destination resets the client, and the next connection still works', async () => {
    const closed = await server(() => undefined);
    const r = await rig({ ip: '127.0.0.1', port: 1 });
    expect(await exchange(r.proxyPort, 'x')).toEqual({ code: 'ECONNRESET' });
    expect(r.tunnel.lastError).toMatch(/ECONNREFUSED/);
    void closed;
  });

  it('an idle tunnel connection that went away meanwhile is retried on a new one, replaying the first bytes', async () => {
    const port = await server((s) => {
      let req = '';
      s.on('data', (c: Buffer) => (req += c));
      s.on('end', () => s.end(`echo:${req}`));
    });
    const r = await rig({ ip: '127.0.0.1', port });
    expect(await exchange(r.proxyPort, 'one')).toEqual({ got: Buffer.from('echo:one') });
    // The pooled connection is cut on the far side while idle (as when the manager restarts);
    // without waiting for its close to be noticed, the next connection takes it.
    for (const c of r.tunnelConns) c.destroy();
    expect(await exchange(r.proxyPort, 'two')).toEqual({ got: Buffer.from('echo:two') });
  });

  it('refuses a tunnel socket served by the wrong user: the client is reset', async () => {
    const port = await server((s) => s.end('never'));
    const r = await rig({ ip: '127.0.0.1', port }, { verifyServer: () => { throw new Error('served by uid 1234'); } });
    expect(await exchange(r.proxyPort, 'x')).toEqual({ code: 'ECONNRESET' });
    expect(r.tunnel.lastError).toBe('served by uid 1234');
  });
});
