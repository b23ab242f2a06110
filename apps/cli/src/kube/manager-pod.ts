// Boundary: user daemon → Kubernetes API: which pod is the traffic manager, and the port-forward
// upgrade to it (SPDY/3.1, the way kubectl does it). The forwarder (./portforward.ts) uses these.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { clusterError } from '@tel/errors';
import { statusOf } from '../install/errors.js';
import { apiFailure, kubeApi, requestTarget, resourcePath } from './api.js';
import { SpdyConnection } from './spdy.js';

export function isManagerPod(p: V1Pod): boolean {
  const labels = p.metadata?.labels ?? {};
  return labels['app'] === 'traffic-manager' || labels['app.kubernetes.io/name'] === 'traffic-manager' || (p.metadata?.name ?? '').startsWith('traffic-manager-');
}

export function isReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The name of a ready traffic-manager pod in `namespace`. `signal` really ends the request: a
 * lookup abandoned while the network is away must not leave a socket in SYN-SENT behind.
 */
export async function findManagerPod(kc: KubeConfig, namespace: string, signal?: AbortSignal, progress?: DialProgress): Promise<string> {
  let pods: V1Pod[];
  try {
    pods = (await kubeApi(kc).list<V1Pod>(resourcePath('v1', 'pods', namespace), { ...(signal ? { signal } : {}), onRequest: (req) => track(req, progress) })).items;
  } catch (err) {
    const status = statusOf(err);
    if (status === 403) throw clusterError(`not allowed to list pods in namespace ${namespace}`, `ask your cluster admin for get/list pods and create pods/portforward in ${namespace}`);
    throw clusterError(`cannot list pods in namespace ${namespace}: ${String((err as Error).message ?? err).split('\n')[0]}`, 'check that the cluster is reachable with kubectl');
  }
  const ready = pods.filter((p) => isManagerPod(p) && isReady(p));
  if (ready.length === 0) throw clusterError(`no ready traffic-manager pod in namespace ${namespace}`, `see 'kubectl get pods -n ${namespace}' and 'kubectl logs -n ${namespace} deploy/traffic-manager'`);
  // Newest first: during a rollout the new pod is the one that stays (the timestamp is RFC 3339 text).
  const created = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  ready.sort((a, b) => created(b) - created(a));
  return ready[0]!.metadata!.name!;
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
  const { url, init: opts } = await requestTarget(kc, `${resourcePath('v1', 'pods', namespace, pod)}/portforward`, {
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
    req.on('response', (res) => void apiFailure(res, `port-forward to pod ${pod}`).then(reject));
    req.on('error', reject);
    req.end();
  });
}
