// Boundary: user daemon → Kubernetes API: which pod is the traffic manager, and the port-forward
// upgrade to it (SPDY/3.1, the way kubectl does it). The forwarder (./portforward.ts) uses these.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { clusterError } from '@tel/errors';
import { SpdyConnection } from './spdy.js';

/** HTTP status of a client-node ApiException or a refused port-forward upgrade, when there is one. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export function isManagerPod(p: V1Pod): boolean {
  const labels = p.metadata?.labels ?? {};
  return labels['app'] === 'traffic-manager' || labels['app.kubernetes.io/name'] === 'traffic-manager' || (p.metadata?.name ?? '').startsWith('traffic-manager-');
}

export function isReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The name of a ready traffic-manager pod in `namespace`. A plain GET (not the client library) so
 * that `signal` really ends it: a lookup abandoned while the network is away must not leave a
 * socket in SYN-SENT behind.
 */
export async function findManagerPod(kc: KubeConfig, namespace: string, signal?: AbortSignal, progress?: DialProgress): Promise<string> {
  let pods: V1Pod[];
  try {
    const { status, body } = await apiGet(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, signal, progress);
    if (status !== 200) throw Object.assign(new Error(statusMessage(body) || `HTTP ${status}`), { statusCode: status });
    pods = (JSON.parse(body) as { items?: V1Pod[] }).items ?? [];
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 403) throw clusterError(`not allowed to list pods in namespace ${namespace}`, `ask your cluster admin for get/list pods and create pods/portforward in ${namespace}`);
    throw clusterError(`cannot list pods in namespace ${namespace}: ${String((err as Error).message ?? err).split('\n')[0]}`, 'check that the cluster is reachable with kubectl');
  }
  const ready = pods.filter((p) => isManagerPod(p) && isReady(p));
  if (ready.length === 0) throw clusterError(`no ready traffic-manager pod in namespace ${namespace}`, `see 'kubectl get pods -n ${namespace}' and 'kubectl logs -n ${namespace} deploy/traffic-manager'`);
  // Newest first: during a rollout the new pod is the one that stays.
  const created = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  ready.sort((a, b) => created(b) - created(a));
  return ready[0]!.metadata!.name!;
}

/** The `message` of a Kubernetes Status body, or the body's first line. */
function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? '';
  } catch {
    return body.trim().split('\n')[0] ?? '';
  }
}

async function requestOptions(kc: KubeConfig, path: string, init: https.RequestOptions): Promise<{ url: URL; opts: https.RequestOptions }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw clusterError('the kubeconfig has no current cluster', 'set a context with kubectl config use-context');
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
  await kc.applyToHTTPSOptions(init);
  return { url, opts: init };
}

async function apiGet(kc: KubeConfig, path: string, signal?: AbortSignal, progress?: DialProgress): Promise<{ status: number; body: string }> {
  const { url, opts } = await requestOptions(kc, path, { method: 'GET', headers: { Accept: 'application/json' } });
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'http:' ? http : https).request(url, { ...opts, ...(signal ? { signal } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    track(req, progress);
    req.on('error', reject);
    req.end();
  });
}

/** What an attempt got to (a slow API server vs. a network that is not there). */
export interface DialProgress {
  /** A TCP connection to the API server was made. */
  tcpConnected: boolean;
}

function track(req: http.ClientRequest, progress?: DialProgress): void {
  if (!progress) return;
  req.on('socket', (sock: net.Socket) => {
    if (!sock.connecting) progress.tcpConnected = true;
    else sock.once('connect', () => (progress.tcpConnected = true));
  });
}

const inbound = new WeakMap<SpdyConnection, { at: number }>();

/**
 * When bytes last arrived on a connection dialPortForward opened: a connection that receives
 * (data, window updates) is alive even when a ping's answer queues behind a bulk transfer.
 */
export function lastInboundAt(conn: SpdyConnection): number {
  return inbound.get(conn)?.at ?? 0;
}

/**
 * Opens the API server's port-forward to `pod` as a SPDY/3.1 session (POST + upgrade, the way
 * kubectl does it; RBAC: create pods/portforward). `signal` abandons it (and its socket).
 */
export async function dialPortForward(kc: KubeConfig, namespace: string, pod: string, signal?: AbortSignal, progress?: DialProgress): Promise<SpdyConnection> {
  const { url, opts } = await requestOptions(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`, {
    method: 'POST',
    headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io', 'Content-Length': '0' },
    ...(signal ? { signal } : {}),
  });
  return new Promise<SpdyConnection>((resolve, reject) => {
    const req = (url.protocol === 'http:' ? http : https).request(url, opts);
    track(req, progress);
    req.on('upgrade', (res, socket, head) => {
      const proto = res.headers['x-stream-protocol-version'];
      if (proto !== 'portforward.k8s.io') {
        socket.destroy();
        reject(new Error(`API server upgraded to ${JSON.stringify(proto ?? '')} instead of portforward.k8s.io`));
        return;
      }
      const conn = new SpdyConnection(socket as net.Socket, head);
      const activity = { at: Date.now() };
      inbound.set(conn, activity);
      socket.on('data', () => (activity.at = Date.now()));
      resolve(conn);
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body = (body + d).slice(0, 4096)));
      res.on('end', () => {
        let message = body.trim();
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? message;
        } catch {
          // not a Status object: keep the text
        }
        reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${message.split('\n')[0]}`), { statusCode: res.statusCode }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}
