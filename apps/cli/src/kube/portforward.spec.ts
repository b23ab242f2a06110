// The port-forward against a real HTTP server on loopback standing in for the API server: it
// lists a manager pod, then either never completes the websocket upgrade or refuses it.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
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

/** ws (a dependency of client-node) plays the kubelet's end of the port-forward protocol. */
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (o: object) => any };

async function fakeApiServer(opts: { pods: unknown[]; listStatus?: number; upgrade: 'hang' | 'forbid' | 'echo' }): Promise<KubeConfig> {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'v4.channel.k8s.io' });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/namespaces/ambassador/pods') && !req.url.includes('/portforward')) {
      res.writeHead(opts.listStatus ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(opts.listStatus && opts.listStatus !== 200 ? { kind: 'Status', code: opts.listStatus, message: 'forbidden' } : { kind: 'PodList', apiVersion: 'v1', items: opts.pods }));
      return;
    }
    res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => {
    if (opts.upgrade === 'echo') {
      wss.handleUpgrade(req, socket, head, (ws: any) => {
        // First frame of each channel carries the port (little-endian), as the kubelet sends it.
        ws.send(Buffer.from([0, 8081 & 0xff, 8081 >> 8]));
        ws.send(Buffer.from([1, 8081 & 0xff, 8081 >> 8]));
        ws.on('message', (d: Buffer) => {
          if (d[0] === 0) ws.send(d); // echo the data channel
        });
      });
      return;
    }
    if (opts.upgrade === 'forbid') socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
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
    podPort: 8081,
    socketPath: join(dir, 'manager.socket'),
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
      hint: 'ask your cluster admin for get and create on pods/portforward in ambassador',
    });
  });
});

describe('ManagerForwarder data path', () => {
  it('pipes each accepted connection through its own port-forward stream, both ways, with backpressure', async () => {
    const kc = await fakeApiServer({ pods: [pod('traffic-manager-1', { app: 'traffic-manager' })], upgrade: 'echo' });
    const f = forwarder(kc, 5000);
    await f.start();
    cleanups.push(() => void f.close());
    const roundTrip = (payload: Buffer, readSlowly = false) =>
      new Promise<Buffer>((resolve, reject) => {
        const c = net.connect(f.socketPath);
        const got: Buffer[] = [];
        let n = 0;
        c.on('data', (d: Buffer) => {
          got.push(d);
          n += d.length;
          if (readSlowly) {
            c.pause();
            setTimeout(() => c.resume(), 1);
          }
          if (n >= payload.length) {
            c.destroy();
            resolve(Buffer.concat(got));
          }
        });
        c.on('error', reject);
        c.write(payload);
      });
    expect((await roundTrip(Buffer.from('hello'))).toString()).toBe('hello');
    // Two connections at once: separate streams, no mixing.
    const [a, b] = await Promise.all([roundTrip(Buffer.alloc(100_000, 'a')), roundTrip(Buffer.alloc(100_000, 'b'))]);
    expect(a.equals(Buffer.alloc(100_000, 'a'))).toBe(true);
    expect(b.equals(Buffer.alloc(100_000, 'b'))).toBe(true);
    // 16 MiB to a reader that keeps pausing: arrives whole and in order.
    const big = Buffer.alloc(16 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
    expect((await roundTrip(big, true)).equals(big)).toBe(true);
    expect(f.status()).toMatchObject({ serving: true, pod: 'traffic-manager-1' });
  }, 30_000);
});
