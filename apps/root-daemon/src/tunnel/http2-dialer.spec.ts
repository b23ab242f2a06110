// The HTTP/2 tunnel client (UDP flows, health) against a real tunnel server on a real unix socket (no root needed).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { startTunnelServer, type TunnelServer } from '../testing/tunnel-server.js';
import { DialError } from './dialer.js';
import { Http2Dialer } from './http2-dialer.js';

const log = createLogger(undefined);
let dir: string;
let echo: net.Server;
let server: TunnelServer;
let socketPath: string;

const startServer = () =>
  startTunnelServer(socketPath, (_ip, port) => (port === 9 ? null : { host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }), join(dir, 'manager-tcp.socket'));

/** One datagram through a flow and its echo. */
async function roundTrip(d: Http2Dialer, payload: string): Promise<string> {
  const flow = await d.udp('198.19.1.10', 53);
  try {
    return await new Promise<string>((resolve) => {
      flow.onMessage((p) => resolve(p.toString()));
      flow.send(Buffer.from(payload));
    });
  } finally {
    flow.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-dialer-'));
  socketPath = join(dir, 'manager.socket');
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    let m = '';
    s.on('data', (c) => (m += c));
    s.on('end', () => s.end(`echo:${m}`));
  });
  await new Promise<void>((res) => echo.listen(0, '127.0.0.1', res));
  server = await startServer();
});

afterAll(async () => {
  await server.close();
  echo.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Http2Dialer', () => {
  it("turns the manager's refusal of a flow into a DialError carrying x-tel-error", async () => {
    const d = new Http2Dialer({ socketPath, log });
    const err = await d.udp('198.19.1.10', 9).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect((err as DialError).message).toBe('dial 198.19.1.10:9 through the traffic manager: connection refused');
    d.close();
  });

  it('frames UDP datagrams both ways', async () => {
    const d = new Http2Dialer({ socketPath, log });
    const flow = await d.udp('198.19.1.10', 53);
    const got: string[] = [];
    const two = new Promise<void>((res) =>
      flow.onMessage((p) => {
        got.push(p.toString());
        if (got.length === 2) res();
      }),
    );
    flow.send(Buffer.from('a'));
    flow.send(Buffer.from('bc'));
    await two;
    expect(got).toEqual(['echo:a', 'echo:bc']);
    expect(server.udpDestinations).toContain('198.19.1.10:53');
    flow.close();
    d.close();
  });

  it('sends nothing to a socket whose server fails verification, and says why', async () => {
    const before = server.udpDestinations.length;
    const d = new Http2Dialer({
      socketPath,
      log,
      verifyServer: () => {
        throw new Error('served by uid 0, not 4242');
      },
    });
    expect(await d.checkHealth()).toBe(false);
    expect(d.lastError).toBe(`cannot reach the traffic manager through ${socketPath}: served by uid 0, not 4242`);
    await expect(d.udp('198.19.1.10', 53)).rejects.toThrow(/served by uid 0, not 4242/);
    expect(server.udpDestinations.length).toBe(before);
    d.close();
  });

  it('pings many times without piling up listeners on the session', async () => {
    const d = new Http2Dialer({ socketPath, log, pingIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) expect(await d.checkHealth()).toBe(true);
    const session = (d as unknown as { session: import('node:http2').ClientHttp2Session }).session;
    expect(session.listenerCount('close')).toBeLessThan(5);
    d.close();
  });

  it('reports health by ping and reconnects after the manager side went away', async () => {
    const d = new Http2Dialer({ socketPath, log, pingIntervalMs: 60_000 });
    expect(await d.checkHealth()).toBe(true);
    await server.close();
    expect(await d.checkHealth()).toBe(false);
    expect(d.healthy).toBe(false);
    await expect(d.udp('198.19.1.10', 53)).rejects.toBeInstanceOf(DialError);
    server = await startServer();
    expect(await d.checkHealth()).toBe(true);
    expect(await roundTrip(d, 'again')).toBe('echo:again');
    d.close();
  });
});
