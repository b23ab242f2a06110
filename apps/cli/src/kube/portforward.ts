// Boundary: user daemon → traffic manager pod, through the Kubernetes API's port-forward (SPDY,
// ./spdy.ts; no kubectl). One upgraded connection to the API server per session; each unix
// socket served here maps to a port in the pod, and every connection accepted on it becomes one
// port-forward stream pair on that connection (the pod sees one TCP connection each).
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { TelError, clusterError } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { apiMessage, statusOf } from '../install/errors.js';
import { kubeApi, resourcePath } from './api.js';
import { type DialProgress, dialPortForward, findManagerPod, isReady, lastInboundAt } from './manager-pod.js';
import type { SpdyConnection, SpdyStream } from './spdy.js';

export { dialPortForward, findManagerPod, isManagerPod } from './manager-pod.js';

/**
 * How often the SPDY connection is pinged (keeps idle timeouts away, finds a stalled connection).
 * A ping still unanswered at the next tick makes the connection suspect: a new one is opened
 * beside it and replaces it if it comes up while the old one is still stalled. After the network
 * was away for a few seconds, the old TCP connection may take many more seconds to resume
 * (retransmission backoff), while a new one is up in a round trip.
 */
const PING_INTERVAL_MS = 2_000;
/** A ping unanswered this long is a stall even while bytes arrive (see ManagerForwarder.stalled). */
const STALLED_PING_MS = 4_000;
/** A ping unanswered this long: the connection is dropped even if no other one could be opened. */
const PING_TIMEOUT_MS = 10_000;
/** First bound on re-opening a dropped port-forward (doubles while a slow API server runs it out). */
const REDIAL_BOUND_MS = 3_000;

export interface ForwarderOptions {
  kc: KubeConfig;
  namespace: string;
  /** Unix sockets to serve, each forwarding to a port inside the manager pod. */
  sockets: { path: string; podPort: number }[];
  /** Bound on opening the port-forward connection (timeouts.trafficManagerConnect). */
  connectTimeoutMs: number;
  /** Builds the error a timed-out open is reported with. */
  onConnectTimeout: () => TelError;
  log: Logger;
}

/** Serves unix sockets whose connections are port-forward streams into the manager pod. */
export class ManagerForwarder {
  private readonly servers: net.Server[] = [];
  private podName: string | undefined;
  private conn: SpdyConnection | undefined;
  /** Connections adopted so far; each connection's number (openGenerationStream). */
  private adopted = 0;
  private readonly generations = new WeakMap<SpdyConnection, number>();
  private connecting: Promise<SpdyConnection> | undefined;
  private readonly conns = new Set<net.Socket>();
  private pingTimer: NodeJS.Timeout | undefined;
  private requestId = 0;
  private lastError: string | undefined;
  private okStreams = 0;
  private failedStreams = 0;
  private closed = false;
  /** The pod must be looked up again before the next dial (it failed us). */
  private podStale = false;
  /** A port-forward was open once: later dials are re-dials (short, growing bounds). */
  private connectedOnce = false;
  /** Re-dials in a row that ran out of time (each doubles the next one's bound). */
  private redialTimeouts = 0;

  constructor(private readonly opts: ForwarderOptions) {}

  /** Find the pod, open the port-forward (bounded), then serve every socket 0600. */
  async start(): Promise<void> {
    this.podName = await findManagerPod(this.opts.kc, this.opts.namespace);
    await this.connection();
    for (const { path, podPort } of this.opts.sockets) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      rmSync(path, { force: true });
      // allowHalfOpen: a client's end is forwarded as FIN on its stream, the pod may still answer.
      // highWaterMark: writes batched per event-loop turn (below) must not trip backpressure at
      // Node's 16 KiB default, which would pause the whole SPDY connection for one stream.
      const server = net.createServer({ allowHalfOpen: true, highWaterMark: 1 << 20 }, (sock) => this.accept(sock, podPort));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // A burst of workstation connections (each a root daemon connection here) must not
        // overflow the accept queue: unix sockets refuse, not retry, when it is full.
        server.listen({ path, backlog: 4096 }, () => resolve());
      });
      chmodSync(path, 0o600);
      this.servers.push(server);
    }
    this.pingTimer = setInterval(() => this.pingTick(), PING_INTERVAL_MS);
    this.pingTimer.unref();
    this.opts.log.info('serving manager sockets', { sockets: this.opts.sockets, pod: this.podName, namespace: this.opts.namespace });
  }

  /** Healthy = serving, and the last stream attempt succeeded. */
  status(): { pod: string | undefined; serving: boolean; activeStreams: number; lastError: string | undefined; okStreams: number; failedStreams: number } {
    return { pod: this.podName, serving: this.servers.length > 0, activeStreams: this.conns.size, lastError: this.lastError, okStreams: this.okStreams, failedStreams: this.failedStreams };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const c of this.conns) c.destroy();
    this.conn?.close();
    this.conn = undefined;
    await Promise.all(this.servers.map((server) => new Promise<void>((r) => server.close(() => r()))));
    this.servers.length = 0;
    for (const { path } of this.opts.sockets) rmSync(path, { force: true });
  }

  /** The live SPDY session, or a new one (bounded by the connect timeout) when there is none. */
  private connection(): Promise<SpdyConnection> {
    const cur = this.conn;
    if (cur?.acceptsStreams) return Promise.resolve(cur);
    if (this.closed) return Promise.reject(new Error('port-forward closed'));
    this.connecting ??= this.dial().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /**
   * One attempt at the port-forward: the pod (looked up again when the last one failed us), then
   * the upgrade. The first is bounded by the connect timeout. A re-dial (the connection dropped:
   * API server restart, manager pod gone, network loss) gets a short bound that grows while a
   * reachable API server keeps running it out: its callers (heartbeat, parks, watches) try again every second or less,
   * and a dial whose SYN went into a dead network must not hold them all for a minute.
   */
  private async dial(): Promise<SpdyConnection> {
    return this.adopt(await this.open());
  }

  /** Makes `conn` the current connection. */
  private adopt(conn: SpdyConnection): SpdyConnection {
    this.generations.set(conn, ++this.adopted);
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.podStale = true; // the pod may be gone with it: look again before redialling
    });
    this.conn = conn;
    this.ping = undefined;
    this.connectedOnce = true;
    this.lastError = undefined;
    return conn;
  }

  /** A new port-forward connection, not yet the current one (see dial). */
  private async open(fixedBoundMs?: number): Promise<SpdyConnection> {
    const redial = this.connectedOnce;
    const boundMs = fixedBoundMs ?? (redial ? Math.min(this.opts.connectTimeoutMs, REDIAL_BOUND_MS * 2 ** this.redialTimeouts) : this.opts.connectTimeoutMs);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const abandon = new AbortController();
    const progress: DialProgress = { tcpConnected: false };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        abandon.abort();
        reject(redial ? clusterError(`the API server did not open the port-forward within ${boundMs} ms`, 'retrying') : this.opts.onConnectTimeout());
      }, boundMs);
    });
    const opening = (async () => {
      if (this.podStale) {
        this.podName = await findManagerPod(this.opts.kc, this.opts.namespace, abandon.signal, progress);
        this.podStale = false;
      }
      return dialPortForward(this.opts.kc, this.opts.namespace, this.podName!, abandon.signal, progress);
    })();
    try {
      const conn = await Promise.race([opening, timeout]);
      this.redialTimeouts = 0;
      return conn;
    } catch (err) {
      opening.then((late) => late.close(), () => undefined);
      // Only a slow API server earns a longer bound. No TCP connection at all is a network that
      // is not there (yet): a SYN sent into it never gets through, even once the network is back
      // (it may have left by another route, with another source address), so a fresh attempt
      // every few seconds finds the network soonest.
      if (timedOut && fixedBoundMs === undefined) this.redialTimeouts = progress.tcpConnected ? Math.min(this.redialTimeouts + 1, 5) : 0;
      const e = this.describe(err);
      this.lastError = e.message;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The ping in flight on the current connection: since when. */
  private ping: { conn: SpdyConnection; since: number } | undefined;
  private replacing: Promise<void> | undefined;

  /** One ping at a time; a ping unanswered for a whole interval starts a replacement. */
  private pingTick(): void {
    const conn = this.conn;
    if (!conn || this.closed) return;
    if (this.ping?.conn === conn) {
      if (this.stalled(conn)) this.replaceStalled(conn, this.ping.since);
      return;
    }
    const ping = { conn, since: Date.now() };
    this.ping = ping;
    conn.ping(PING_TIMEOUT_MS).then(
      () => {
        if (this.ping === ping) this.ping = undefined;
      },
      (err: Error) => {
        if (this.ping === ping) this.ping = undefined;
        if (this.conn === conn) this.dropConnection(err.message);
      },
    );
  }

  /**
   * The ping in flight on `conn` went unanswered a whole tick with nothing at all arriving since,
   * or for STALLED_PING_MS even with bytes arriving (after a network blip the two directions of a
   * TCP connection resume apart: data may come in while ours still waits out its backoff).
   */
  private stalled(conn: SpdyConnection): boolean {
    const p = this.ping;
    if (p?.conn !== conn) return false;
    return lastInboundAt(conn) <= p.since || Date.now() - p.since >= STALLED_PING_MS;
  }

  /** Opens a connection beside the silent `stalled` one; it takes over if `stalled` is still silent. */
  private replaceStalled(stalled: SpdyConnection, silentSince: number): void {
    if (this.replacing || this.connecting) return;
    this.replacing = (async () => {
      let fresh: SpdyConnection;
      try {
        fresh = await this.open(REDIAL_BOUND_MS);
      } catch (err) {
        this.opts.log.debug('port-forward silent; a new one did not open either', { err: String((err as Error).message ?? err), silentMs: Date.now() - silentSince });
        return;
      }
      if (this.closed || this.conn !== stalled || !this.stalled(stalled)) {
        fresh.close(); // the old one answered meanwhile (or is gone): keep what we have
        return;
      }
      this.opts.log.warn('port-forward connection silent; switched to a new one', { silentMs: Date.now() - silentSince });
      this.adopt(fresh);
      stalled.close();
    })().finally(() => (this.replacing = undefined));
  }

  private checking: Promise<void> | undefined;

  /** Drops the connection when its pod is gone or no longer ready (after a stream error). */
  private checkPod(conn: SpdyConnection): Promise<void> {
    if (this.conn !== conn || !this.podName) return Promise.resolve();
    this.checking ??= (async () => {
      let ready = false;
      try {
        ready = isReady(await kubeApi(this.opts.kc).get<V1Pod>(resourcePath('v1', 'pods', this.opts.namespace, this.podName!)));
      } catch {
        ready = false; // gone (404), or the API server cannot say: start over either way
      }
      if (!ready && this.conn === conn) {
        this.podStale = true;
        this.dropConnection(this.lastError ?? 'port-forward error');
      }
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private dropConnection(why: string): void {
    this.lastError = `port-forward connection lost: ${why}`;
    this.opts.log.warn(this.lastError);
    const c = this.conn;
    this.conn = undefined;
    c?.close();
  }

  private accept(sock: net.Socket, podPort: number): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', (e) => this.opts.log.debug('manager socket client error', { err: String(e) }));
    const cur = this.conn;
    // Fast path: the session is up, streams open synchronously and bytes flow at once.
    if (cur?.acceptsStreams) return this.forward(sock, cur, podPort);
    sock.pause();
    this.connection().then(
      (conn) => {
        sock.resume();
        this.forward(sock, conn, podPort);
      },
      (err: unknown) => {
        this.failedStreams++;
        this.lastError = String((err as Error).message ?? err);
        this.opts.log.warn('port-forward failed', { err: this.lastError, pod: this.podName });
        sock.destroy();
        // The pod may have been replaced (upgrade, eviction): look it up again for the next one.
        this.podStale = true;
      },
    );
  }

  /** One stream pair (error + data, as the port-forward protocol wants) carrying `sock`. */
  /**
   * A data stream to `podPort` in the manager pod, for callers that carry bytes themselves (the
   * TCP stream tunnel in this daemon). Errors the runtime reports destroy it with their text.
   */
  async openStream(podPort: number): Promise<SpdyStream> {
    return (await this.openGenerationStream(podPort)).stream;
  }

  /**
   * As openStream, with the generation of the connection it was opened on (how many connections
   * this port-forward has adopted): a stream of an older generation died with its connection.
   */
  async openGenerationStream(podPort: number): Promise<{ stream: SpdyStream; generation: number }> {
    const conn = await this.connection();
    const { data } = this.openPair(conn, podPort);
    return { stream: data, generation: this.generations.get(conn) ?? 0 };
  }

  /** The error + data stream pair the port-forward protocol wants for one connection. */
  private openPair(conn: SpdyConnection, podPort: number): { data: SpdyStream; errors: SpdyStream } {
    const requestid = String(this.requestId++);
    let errors: SpdyStream;
    let data: SpdyStream;
    try {
      errors = conn.openStream({ streamtype: 'error', port: String(podPort), requestid });
      errors.end(); // we never write on it; the server reports a failed dial there
      data = conn.openStream({ streamtype: 'data', port: String(podPort), requestid });
    } catch (err) {
      this.failedStreams++;
      this.lastError = String((err as Error).message ?? err);
      throw err;
    }
    this.okStreams++;
    let errorText = '';
    errors.on('data', (d: Buffer) => (errorText += d.toString('utf8')));
    errors.on('error', () => undefined);
    errors.on('end', () => {
      if (!errorText.trim()) return;
      this.lastError = errorText.trim().split('\n')[0];
      this.opts.log.warn('port-forward error from the API server', { err: this.lastError });
      data.destroy(new Error(this.lastError));
      // An error on one stream is either that connection's own end (the manager reset it, e.g. an
      // aborted intercepted connection) or the pod going away (the session to it can outlive it).
      // The pod's own state tells which; only a pod that is no longer ready makes us start over
      // with the newest ready one.
      void this.checkPod(conn);
    });
    data.on('close', () => {
      if (!errors.destroyed && !data.readableEnded) errors.destroy();
    });
    return { data, errors };
  }

  private forward(sock: net.Socket, conn: SpdyConnection, podPort: number): void {
    if (sock.destroyed) return;
    let data: SpdyStream;
    let errors: SpdyStream;
    try {
      ({ data, errors } = this.openPair(conn, podPort));
    } catch {
      sock.destroy();
      return;
    }
    data.on('error', () => sock.destroy());
    // A client that ended cleanly has its last bytes and FIN queued on `data` (pipe): let them
    // go out. One that vanished without ending aborts the stream (RST_STREAM).
    sock.on('close', (hadError) => {
      if (hadError || !sock.readableEnded) {
        data.destroy();
        errors.destroy();
      }
    });
    data.on('close', () => {
      if (!sock.writableEnded) sock.end();
    });
    // The API server's TLS hands over one 16 KiB record per 'data' event: what arrives in one
    // turn of the event loop leaves in one writev (fewer syscalls here, bigger reads there).
    let batching = false;
    data.on('data', () => {
      if (batching || sock.destroyed) return;
      batching = true;
      sock.cork();
      setImmediate(() => {
        batching = false;
        sock.uncork();
      });
    });
    sock.pipe(data);
    data.pipe(sock);
  }

  private describe(err: unknown): TelError {
    if (err instanceof TelError) return err;
    const status = statusOf(err);
    const ns = this.opts.namespace;
    if (status === 403) return clusterError(`not allowed to port-forward to pod ${this.podName} in namespace ${ns}`, `ask your cluster admin for create on pods/portforward in ${ns}`);
    const msg = status !== undefined ? `${apiMessage(err)} (HTTP ${status})` : String((err as { message?: unknown })?.message ?? err) || 'connection failed';
    return clusterError(`cannot open a port-forward to pod ${this.podName} in namespace ${ns}: ${msg.split('\n')[0]}`, `check 'kubectl get pods -n ${ns}'`);
  }
}
