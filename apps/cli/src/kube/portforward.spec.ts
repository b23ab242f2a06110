// The port-forward's failure paths against a real HTTP server on loopback standing in for the
// API server: it lists a manager pod, then either never answers the SPDY upgrade or refuses it.
// The data path is tested against the real cluster (spdy.e2e.spec.ts, userd/e2e).
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { formatError } from '@tel/errors';
import { createLogger } from '@tel/logging';
import { timeoutError } from '../userd/timeouts.js';
import { ManagerForwarder, findManagerPod } from './portforward.js';

const pod = (name: string, labels: Record<string, string>, ready = true, created = '2026-01-01T00:00:00Z') => ({
  metadata: { name, labels, creationTimestamp: created },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

async function fakeApiServer(opts: { pods: unknown[]; listStatus?: number; upgrade: 'hang' | 'forbid' }): Promise<KubeConfig> {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/namespaces/ambassador/pods') && !req.url.includes('/portforward')) {
      res.writeHead(opts.listStatus ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(opts.listStatus && opts.listStatus !== 200 ? { kind: 'Status', code: opts.listStatus, message: 'forbidden' } : { kind: 'PodList', apiVersion: 'v1', items: opts.pods }));
      return;
    }
    res.writeHead(404).end();
  });
  server.on('upgrade', (_req, socket) => {
    if (opts.upgrade === 'forbid') {
      const body = JSON.stringify({ kind: 'Status', status: 'Failure', message: 'pods "traffic-manager-1" is forbidden', code: 403 });
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
    // 'hang': keep the socket open and never answer
    cleanups.push(() => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

function forwarder(kc: KubeConfig, connectTimeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tel-pf-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return new ManagerForwarder({
    kc,
    namespace: 'ambassador',
    sockets: [{ path: join(dir, 'manager.socket'), podPort: 8081 }],
    connectTimeoutMs,
    onConnectTimeout: () => timeoutError('trafficManagerConnect', connectTimeoutMs, '/home/u/.config/telepresence/config.yml'),
    log: createLogger(undefined),
  });
}

describe('findManagerPod', () => {
  it('picks the newest ready traffic-manager pod', async () => {
    const kc = await fakeApiServer({
      pods: [
        pod('other', { app: 'x' }),
        pod('traffic-manager-old', { 'app.kubernetes.io/name': 'traffic-manager' }, true, '2026-01-01T00:00:00Z'),
        pod('traffic-manager-new', { 'app.kubernetes.io/name': 'traffic-manager' }, true, '2026-01-02T00:00:00Z'),
        pod('traffic-manager-starting', { 'app.kubernetes.io/name': 'traffic-manager' }, false, '2026-01-03T00:00:00Z'),
      ],
      upgrade: 'hang',
    });
    expect(await findManagerPod(kc, 'ambassador')).toBe('traffic-manager-new');
  });

  it('says when no manager pod is ready, and when listing is forbidden', async () => {
    const none = await fakeApiServer({ pods: [pod('traffic-manager-x', { app: 'traffic-manager' }, false)], upgrade: 'hang' });
    await expect(findManagerPod(none, 'ambassador')).rejects.toMatchObject({ category: 'cluster', message: 'no ready traffic-manager pod in namespace ambassador' });
    const forbidden = await fakeApiServer({ pods: [], listStatus: 403, upgrade: 'hang' });
    await expect(findManagerPod(forbidden, 'ambassador')).rejects.toMatchObject({ category: 'cluster', message: 'not allowed to list pods in namespace ambassador' });
  });
});

describe('ManagerForwarder.start', () => {
  it('times out with a message naming timeouts.trafficManagerConnect', async () => {
    const kc = await fakeApiServer({ pods: [pod('traffic-manager-1', { app: 'traffic-manager' })], upgrade: 'hang' });
    const t0 = Date.now();
    const err = await forwarder(kc, 300).start().catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(formatError(err.toInfo())).toBe(
      'the port-forward connection to the traffic manager timed out after 300ms; raise timeouts.trafficManagerConnect in /home/u/.config/telepresence/config.yml',
    );
  });

  it('reports a refused port-forward as a permission problem', async () => {
    const kc = await fakeApiServer({ pods: [pod('traffic-manager-1', { app: 'traffic-manager' })], upgrade: 'forbid' });
    await expect(forwarder(kc, 5000).start()).rejects.toMatchObject({
      category: 'cluster',
      message: 'not allowed to port-forward to pod traffic-manager-1 in namespace ambassador',
      hint: 'ask your cluster admin for create on pods/portforward in ambassador',
    });
  });
});

/**
 * An API server on loopback that upgrades port-forwards and answers SPDY PINGs on each upgraded
 * connection while `answering(i)` says so; `dark` makes it answer nothing at all. With `chatter` it
 * sends its own PING every 300 ms (bytes arriving, as during a bulk transfer).
 */
async function upgradingApiServer(answering: (connIndex: number) => boolean = () => true, chatter = false) {
  const state = { dark: false, upgraded: [] as net.Socket[], closed: [] as number[] };
  const server = http.createServer((_req, res) => {
    if (state.dark) return void cleanups.push(() => res.destroy());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: [pod('traffic-manager-1', { app: 'traffic-manager' })] }));
  });
  server.on('upgrade', (_req, socket: net.Socket) => {
    cleanups.push(() => socket.destroy());
    if (state.dark) return;
    const index = state.upgraded.push(socket) - 1;
    // The client ends (GOAWAY + FIN) what it gives up.
    socket.once('end', () => state.closed.push(index));
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n');
    if (chatter) {
      const serverPing = Buffer.from([0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 2]);
      const t = setInterval(() => socket.writable && socket.write(serverPing), 300);
      cleanups.push(() => clearInterval(t));
    }
    // SPDY/3.1 frames: 8-byte header, 24-bit length at offset 5; a control PING (type 6) is echoed.
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8 && buf.length >= 8 + buf.readUIntBE(5, 3)) {
        const frame = buf.subarray(0, 8 + buf.readUIntBE(5, 3));
        buf = buf.subarray(frame.length);
        if ((frame[0]! & 0x80) !== 0 && frame.readUInt16BE(2) === 6 && answering(index)) socket.write(frame);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const connections = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
  return { kc, state, connections };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ManagerForwarder re-dial', () => {
  it('bounds a re-dial after a dropped connection by seconds, not by the connect timeout', async () => {
    const { kc, state, connections } = await upgradingApiServer();
    const fw = forwarder(kc, 60_000);
    cleanups.push(() => void fw.close());
    await fw.start();
    expect(state.upgraded).toHaveLength(1);
    state.dark = true;
    state.upgraded[0]!.destroy();
    await sleep(50);
    // A client of the manager socket waits for the re-dial, which gives up within its bound.
    const socketPath = (fw as unknown as { opts: { sockets: { path: string }[] } }).opts.sockets[0]!.path;
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const c = net.connect(socketPath);
      c.on('error', () => undefined);
      c.on('close', () => resolve());
    });
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThan(2_500);
    expect(ms).toBeLessThan(5_000);
    expect(fw.status().lastError).toMatch(/did not open the port-forward within 3000 ms/);
    // The abandoned attempt took its socket with it (none left waiting in the API server).
    await sleep(200);
    expect(await connections()).toBe(0);
    // The API server took the TCP connection but not the request: it may be slow, not gone, so
    // the next attempt gets twice as long.
    const t1 = Date.now();
    await new Promise<void>((resolve) => {
      const c = net.connect(socketPath);
      c.on('error', () => undefined);
      c.on('close', () => resolve());
    });
    expect(Date.now() - t1).toBeGreaterThan(5_500);
    expect(fw.status().lastError).toMatch(/within 6000 ms/);
  }, 20_000);

  it('keeps a connection that answers pings, and replaces one that falls silent by a new one beside it', async () => {
    let silent = false;
    const { kc, state } = await upgradingApiServer((i) => i > 0 || !silent);
    const fw = forwarder(kc, 60_000);
    cleanups.push(() => void fw.close());
    await fw.start();
    await sleep(4_500); // two ping ticks, both answered
    expect(state.upgraded).toHaveLength(1);
    // The first connection stops answering (a TCP connection stuck in retransmission backoff).
    silent = true;
    const t0 = Date.now();
    while (state.closed.length === 0 && Date.now() - t0 < 8_000) await sleep(50);
    expect(state.closed).toEqual([0]);
    expect(state.upgraded).toHaveLength(2);
    // Detected within two ticks, well before the ping timeout would have dropped it.
    expect(Date.now() - t0).toBeLessThan(6_000);
    await sleep(2_500);
    expect(state.upgraded).toHaveLength(2);
    expect(state.closed).toEqual([0]);
  }, 20_000);

  it('gives a connection whose bytes keep arriving longer, but not forever, to answer its ping', async () => {
    const { kc, state } = await upgradingApiServer((i) => i > 0, true);
    const fw = forwarder(kc, 60_000);
    cleanups.push(() => void fw.close());
    await fw.start();
    await sleep(5_000); // ping outstanding for ~3 s, bytes arriving: kept
    expect(state.upgraded).toHaveLength(1);
    expect(state.closed).toEqual([]);
    // Still unanswered after 4 s: replaced, before the ping timeout (10 s) would drop it.
    const t0 = Date.now();
    while (state.closed.length === 0 && Date.now() - t0 < 6_000) await sleep(50);
    expect(state.closed).toEqual([0]);
    expect(state.upgraded).toHaveLength(2);
  }, 20_000);
});
