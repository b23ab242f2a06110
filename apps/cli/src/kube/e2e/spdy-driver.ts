// Runs inside the test cluster's workstation namespace (spdy.e2e.spec.ts): drives our SPDY
// port-forward against the real API server → kubelet → containerd and prints one JSON line.
// argv: <namespace> <pod> <port>; KUBECONFIG picks the user.
import { KubeConfig } from '@kubernetes/client-node';
import { dialPortForward } from '../portforward.js';
import type { SpdyConnection } from '../spdy.js';

const [namespace, pod, portArg] = process.argv.slice(2) as [string, string, string];
const kc = new KubeConfig();
kc.loadFromDefault();
let requestId = 0;

/** One forwarded connection: send `request`, read to the end; the error stream's text too. */
function exchange(conn: SpdyConnection, port: number, request: string): Promise<{ body: string; error: string }> {
  const id = String(requestId++);
  const errors = conn.openStream({ streamtype: 'error', port: String(port), requestid: id });
  errors.end();
  const data = conn.openStream({ streamtype: 'data', port: String(port), requestid: id });
  let body = '';
  let error = '';
  errors.on('data', (d: Buffer) => (error += d));
  data.on('data', (d: Buffer) => (body += d));
  data.end(request); // half-close: the server still answers
  const done = (s: NodeJS.ReadableStream) => new Promise<void>((r) => (s.on('end', () => r()), s.on('error', () => r()), s.on('close', () => r())));
  return Promise.all([done(data), done(errors)]).then(() => ({ body, error }));
}

const out: Record<string, unknown> = {};
try {
  const t0 = performance.now();
  const conn = await dialPortForward(kc, namespace, pod);
  out.upgradeMs = performance.now() - t0;
  out.pingMs = await conn.ping(5000);
  const port = Number(portArg);
  const get = `GET /e2e HTTP/1.0\r\nHost: pod\r\n\r\n`;
  out.single = await exchange(conn, port, get);
  const t1 = performance.now();
  const many = await Promise.all(Array.from({ length: 100 }, () => exchange(conn, port, get)));
  out.concurrentMs = performance.now() - t1;
  out.concurrentOk = many.filter((r) => r.body.startsWith('HTTP/1.0 200') || r.body.startsWith('HTTP/1.1 200')).length;
  out.refused = await exchange(conn, 1, get);
  out.stillOpen = conn.acceptsStreams;
  conn.close();
} catch (err) {
  out.error = String((err as Error).message ?? err);
  out.statusCode = (err as { statusCode?: number }).statusCode;
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
