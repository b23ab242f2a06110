// e2e helper run *inside the workstation network namespace* (the API server and port-forwards are
// only reachable there): `node --import tsx driver.ts '<json request>'` prints one JSON result.
// The e2e spec on the host drives it through the test cluster's wsExec.
import http2 from 'node:http2';
import net from 'node:net';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { toErrorInfo } from '@tel/errors';
import { MANAGER_API_PORT, MANAGER_TCP_PORT, TUNNEL_DESTINATION_HEADER } from '@tel/contracts';
import { encodeRequest } from '@tel/tcp-wire';
import { ensureManager, getManagerState, installManager, uninstallManager, upgradeManager } from '../index.js';
import { ObjectStore } from '../kube.js';
import { MANAGER_NAME, NAME_LABEL, managerCreatedObjects, managerObjects } from '../manifests.js';

export type DriverRequest =
  | { action: 'state'; kubeconfig: string; namespace: string }
  | { action: 'ensure' | 'install' | 'upgrade'; kubeconfig: string; namespace: string; image: string; version: string; mayInstall?: boolean; timeoutMs?: number }
  | { action: 'uninstall'; kubeconfig: string; namespace: string }
  | { action: 'inventory'; kubeconfig: string; namespace: string }
  | { action: 'tunnel'; kubeconfig: string; namespace: string; demoIp: string; demoPort: number; concurrent: number };

function frame(s: string): Buffer {
  const b = Buffer.from(s);
  const f = Buffer.alloc(2 + b.length);
  f.writeUInt16BE(b.length, 0);
  b.copy(f, 2);
  return f;
}

/** `p`, or a rejection naming `what` after `ms` (a hung step must fail the test, not time it out). */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
}

/** Port-forward to the manager pod (as the daemon will), then exercise the tunnel protocol. */
async function tunnel(kc: KubeConfig, req: Extract<DriverRequest, { action: 'tunnel' }>) {
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: req.namespace, labelSelector: `${NAME_LABEL}=${MANAGER_NAME}` });
  const pod = pods.items.find((p) => p.status?.phase === 'Running');
  if (!pod) throw new Error('no running manager pod');
  const pf = new PortForward(kc);
  const forwardTo = (podPort: number) =>
    net.createServer((sock) => {
      sock.on('error', () => undefined);
      void pf.portForward(req.namespace, pod.metadata!.name!, [podPort], sock, null, sock);
    });
  const local = forwardTo(MANAGER_API_PORT);
  const localTcp = forwardTo(MANAGER_TCP_PORT);
  await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => localTcp.listen(0, '127.0.0.1', r));
  const session = http2.connect(`http://127.0.0.1:${(local.address() as net.AddressInfo).port}`);
  session.on('connect', () => session.setLocalWindowSize(32 << 20));
  const get = (path: string) =>
    new Promise<unknown>((resolve, reject) => {
      const s = session.request({ ':path': path });
      let body = '';
      s.setEncoding('utf8').on('data', (d: string) => (body += d));
      s.on('end', () => resolve(JSON.parse(body)));
      s.on('error', reject);
    });
  /** One HTTP request on the TCP stream tunnel: request line, one frame and the end frame; the answer's frames until its end frame. */
  const httpGet = () =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect((localTcp.address() as net.AddressInfo).port, '127.0.0.1');
      const request = Buffer.from('GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(request.length);
      s.write(Buffer.concat([encodeRequest(req.demoIp, req.demoPort), len, request, Buffer.alloc(4)]));
      let buf = Buffer.alloc(0);
      let answered = false;
      let body = '';
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (!answered) {
          const nl = buf.indexOf(10);
          if (nl < 0) return;
          const line = buf.subarray(0, nl).toString();
          if (line !== 'OK') return reject(new Error(`stream tunnel answered ${line}`));
          answered = true;
          buf = buf.subarray(nl + 1);
        }
        while (buf.length >= 4) {
          const n = buf.readUInt32BE(0);
          if (n === 0) {
            s.destroy();
            return resolve(body);
          }
          if (buf.length < 4 + n) break;
          body += buf.subarray(4, 4 + n).toString();
          buf = buf.subarray(4 + n);
        }
      });
      s.on('error', reject);
    });
  const udpPing = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const s = session.request({ ':method': 'POST', ':path': '/udp', [TUNNEL_DESTINATION_HEADER]: `${req.demoIp}:${req.demoPort}` });
      s.on('data', (c: Buffer) => {
        resolve(c.subarray(2).toString());
        s.close();
      });
      s.on('error', reject);
      s.write(frame(text));
    });
  try {
    const t0 = performance.now();
    const version = await within(20_000, 'GET /version', get('/version'));
    const versionMs = performance.now() - t0;
    const clusterInfo = await within(20_000, 'GET /cluster-info', get('/cluster-info'));
    const t1 = performance.now();
    const http = await within(20_000, 'HTTP over the TCP stream tunnel', httpGet());
    const connectMs = performance.now() - t1;
    const udp = await within(20_000, 'UDP flow', udpPing('ping-udp'));
    const t2 = performance.now();
    // Concurrent streams on the one HTTP/2 connection (TCP has a port-forward stream each; UDP
    // datagrams may be dropped): contract calls.
    const many = await within(60_000, `${req.concurrent} concurrent calls`, Promise.all(Array.from({ length: req.concurrent }, () => get('/version').then((v) => (v as { version?: unknown }).version === (version as { version?: unknown }).version))));
    const concurrentMs = performance.now() - t2;
    const stats = await within(20_000, 'GET /stats', get('/stats'));
    return { version, clusterInfo, http: http.split('\r\n')[0], httpBody: http.slice(http.indexOf('\r\n\r\n') + 4, 400), udp, concurrentOk: many.filter(Boolean).length, stats, versionMs, connectMs, concurrentMs };
  } finally {
    session.destroy();
    local.close();
    localTcp.close();
  }
}

async function main(req: DriverRequest): Promise<unknown> {
  const kc = new KubeConfig();
  kc.loadFromFile(req.kubeconfig);
  const progress: string[] = [];
  const onProgress = (m: string) => progress.push(m);
  switch (req.action) {
    case 'state':
      return getManagerState(kc, req.namespace);
    case 'ensure':
      return { ...(await ensureManager(kc, { ...req, mayInstall: req.mayInstall ?? true, onProgress })), progress };
    case 'install':
      return { ...(await installManager(kc, { ...req, onProgress })), progress };
    case 'upgrade':
      return { ...(await upgradeManager(kc, { ...req, onProgress })), progress };
    case 'uninstall':
      return uninstallManager(kc, { namespace: req.namespace, onProgress });
    case 'tunnel':
      return tunnel(kc, req);
    case 'inventory': {
      // Which of the objects install creates exist (the namespace only when labelled as ours).
      const store = new ObjectStore(kc, 'install');
      const found: string[] = [];
      for (const o of [...managerObjects({ namespace: req.namespace, image: 'x', version: 'x', apiVersion: 0, createNamespace: true }), ...managerCreatedObjects(req.namespace)]) {
        const live = await store.read(o);
        if (live && (o.kind !== 'Namespace' || live.metadata.labels?.['app.kubernetes.io/managed-by'] === 'telepresence')) found.push(`${o.kind}/${o.metadata.name}`);
      }
      const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: req.namespace, labelSelector: `${NAME_LABEL}=${MANAGER_NAME}` }).catch(() => ({ items: [] }));
      for (const p of pods.items) found.push(`Pod/${p.metadata?.name}`);
      return found;
    }
  }
}

const t0 = performance.now();
main(JSON.parse(process.argv[2] ?? '{}') as DriverRequest).then(
  (result) => {
    process.stdout.write(JSON.stringify({ ok: true, result, ms: performance.now() - t0 }) + '\n');
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ ok: false, error: toErrorInfo(err), ms: performance.now() - t0 }) + '\n');
    process.exit(0);
  },
);
