// Boundary: user daemon → traffic manager pod, through the Kubernetes API's port-forward
// (websocket, client-node; no kubectl). Serves a unix socket on which every accepted connection
// is piped through its own port-forward stream, so the root daemon can run HTTP/2 over it.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { CoreV1Api, PortForward, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { TelError, clusterError } from '@tel/errors';
import type { Logger } from '@tel/logging';

type WebSocketLike = {
  close(): void;
  on?(ev: string, cb: (...a: unknown[]) => void): void;
  pause?(): void;
  resume?(): void;
  bufferedAmount?: number;
};

/** Bytes queued towards the API server above which the workstation side is paused, and below which it resumes. */
const SEND_HIGH_WATER = 4 << 20;
const SEND_LOW_WATER = 1 << 20;

/** HTTP status of a client-node ApiException or a websocket upgrade failure, when there is one. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  const m = /Unexpected server response: (\d{3})/.exec(String(e?.message ?? ''));
  return m ? Number(m[1]) : undefined;
}

export function isManagerPod(p: V1Pod): boolean {
  const labels = p.metadata?.labels ?? {};
  return labels['app'] === 'traffic-manager' || labels['app.kubernetes.io/name'] === 'traffic-manager' || (p.metadata?.name ?? '').startsWith('traffic-manager-');
}

function isReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The name of a ready traffic-manager pod in `namespace`. */
export async function findManagerPod(kc: KubeConfig, namespace: string): Promise<string> {
  const api = kc.makeApiClient(CoreV1Api);
  let pods: V1Pod[];
  try {
    pods = (await api.listNamespacedPod({ namespace })).items;
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

export interface ForwarderOptions {
  kc: KubeConfig;
  namespace: string;
  /** Port inside the pod (MANAGER_API_PORT). */
  podPort: number;
  socketPath: string;
  /** Bound on opening one port-forward stream (timeouts.trafficManagerConnect). */
  connectTimeoutMs: number;
  /** Builds the error a timed-out stream open is reported with. */
  onConnectTimeout: () => TelError;
  log: Logger;
}

/**
 * A unix socket whose connections are port-forward streams to the manager pod. One websocket
 * per accepted connection: no multiplexing of our own, the pod sees one TCP connection each.
 */
export class ManagerForwarder {
  private server: net.Server | undefined;
  private podName: string | undefined;
  private readonly sockets = new Set<WebSocketLike>();
  private readonly conns = new Set<net.Socket>();
  private lastError: string | undefined;
  private okStreams = 0;
  private failedStreams = 0;

  constructor(private readonly opts: ForwarderOptions) {}

  get socketPath(): string {
    return this.opts.socketPath;
  }

  /** Find the pod, prove one stream can be opened (bounded), then serve the socket 0600. */
  async start(): Promise<void> {
    this.podName = await findManagerPod(this.opts.kc, this.opts.namespace);
    const probe = await this.open(null);
    probe.close();
    mkdirSync(dirname(this.opts.socketPath), { recursive: true, mode: 0o700 });
    rmSync(this.opts.socketPath, { force: true });
    const server = net.createServer({ pauseOnConnect: true }, (conn) => this.accept(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.socketPath, () => resolve());
    });
    chmodSync(this.opts.socketPath, 0o600);
    this.server = server;
    this.opts.log.info('serving manager socket', { socket: this.opts.socketPath, pod: this.podName, namespace: this.opts.namespace });
  }

  /** Healthy = serving, and the last stream attempt succeeded. */
  status(): { pod: string | undefined; serving: boolean; activeStreams: number; lastError: string | undefined; okStreams: number; failedStreams: number } {
    return { pod: this.podName, serving: !!this.server, activeStreams: this.conns.size, lastError: this.lastError, okStreams: this.okStreams, failedStreams: this.failedStreams };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns) c.destroy();
    for (const ws of this.sockets) ws.close();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    rmSync(this.opts.socketPath, { force: true });
  }

  private accept(conn: net.Socket): void {
    this.conns.add(conn);
    conn.on('close', () => this.conns.delete(conn));
    conn.on('error', (e) => this.opts.log.debug('manager socket client error', { err: String(e) }));
    this.open(conn).then(
      (ws) => {
        this.okStreams++;
        this.lastError = undefined;
        if (conn.destroyed) ws.close();
        conn.on('close', () => ws.close());
        // Accepted paused (pauseOnConnect) so no byte is lost before the stream exists; a 'data'
        // listener does not resume an explicitly paused socket, so resume it now.
        conn.resume();
      },
      async (err: unknown) => {
        this.failedStreams++;
        this.lastError = String((err as Error).message ?? err);
        this.opts.log.warn('port-forward stream failed', { err: this.lastError, pod: this.podName });
        conn.destroy();
        // The pod may have been replaced (upgrade, eviction): look it up again for the next one.
        try {
          this.podName = await findManagerPod(this.opts.kc, this.opts.namespace);
        } catch (e) {
          this.opts.log.warn('no traffic-manager pod', { err: String(e) });
        }
      },
    );
  }

  /**
   * Open one port-forward websocket carrying `conn` (or, for the start-up probe, nothing);
   * bounded by the connect timeout.
   */
  private async open(conn: net.Socket | null): Promise<WebSocketLike> {
    const pf = new PortForward(this.opts.kc, true);
    let timedOut = false;
    let socketRef: WebSocketLike | undefined;
    const { output, input } = conn ? this.flowControlled(conn, () => socketRef) : { output: new Writable({ write: (_c, _e, cb) => cb() }), input: new PassThrough() };
    const errors = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        const text = chunk.toString('utf8').trim();
        if (text) {
          this.lastError = text;
          this.opts.log.warn('port-forward error from the API server', { err: text });
          conn?.destroy();
        }
        cb();
      },
    });
    const opening = pf.portForward(this.opts.namespace, this.podName!, [this.opts.podPort], output, errors, input).then((ws) => {
      const socket = (typeof ws === 'function' ? ws() : ws) as WebSocketLike | null;
      if (!socket) throw new Error('port-forward returned no websocket');
      if (timedOut) {
        socket.close();
        return socket;
      }
      socketRef = socket;
      this.sockets.add(socket);
      socket.on?.('close', () => {
        this.sockets.delete(socket);
        conn?.end();
      });
      socket.on?.('error', (e) => {
        this.opts.log.debug('port-forward websocket error', { err: String(e) });
        conn?.destroy();
      });
      return socket;
    });
    return new Promise<WebSocketLike>((resolve, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        reject(this.opts.onConnectTimeout());
      }, this.opts.connectTimeoutMs);
      opening.then(
        (s) => {
          clearTimeout(timer);
          resolve(s);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(this.describe(e));
        },
      );
    });
  }

  /**
   * Streams between `conn` and the websocket that respect backpressure both ways (client-node's
   * port-forward writes and sends without looking): a slow workstation reader pauses the
   * websocket; a slow API server (queued sends) pauses the workstation socket.
   */
  private flowControlled(conn: net.Socket, socket: () => WebSocketLike | undefined): { output: Writable; input: Readable } {
    let waitingForDrain = false;
    const output = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (!conn.write(chunk) && !waitingForDrain) {
          const ws = socket();
          if (ws?.pause && ws.resume) {
            waitingForDrain = true;
            ws.pause();
            conn.once('drain', () => {
              waitingForDrain = false;
              ws.resume?.();
            });
          }
        }
        cb();
      },
    });
    const input = new PassThrough({ highWaterMark: 1 << 20 });
    let polling: NodeJS.Timeout | undefined;
    conn.on('data', (d: Buffer) => {
      input.write(d);
      const ws = socket();
      if (ws && (ws.bufferedAmount ?? 0) > SEND_HIGH_WATER && !polling) {
        conn.pause();
        // ws has no drain event: watch its queue until it is low again.
        polling = setInterval(() => {
          if ((ws.bufferedAmount ?? 0) < SEND_LOW_WATER || conn.destroyed) {
            clearInterval(polling);
            polling = undefined;
            conn.resume();
          }
        }, 5);
      }
    });
    conn.on('end', () => input.end());
    conn.on('close', () => {
      clearInterval(polling);
      input.end();
    });
    return { output, input };
  }

  private describe(err: unknown): TelError {
    if (err instanceof TelError) return err;
    const status = httpStatusOf(err);
    const ns = this.opts.namespace;
    // The websocket port-forward is an HTTP GET: before Kubernetes 1.35 RBAC checks `get` on
    // pods/portforward for it (SPDY clients such as kubectl need `create`).
    if (status === 403) return clusterError(`not allowed to port-forward to pod ${this.podName} in namespace ${ns}`, `ask your cluster admin for get and create on pods/portforward in ${ns}`);
    const msg = String((err as { message?: unknown })?.message ?? err) || 'connection failed';
    return clusterError(`cannot open a port-forward to pod ${this.podName} in namespace ${ns}: ${msg.split('\n')[0]}`, `check 'kubectl get pods -n ${ns}'`);
  }
}
