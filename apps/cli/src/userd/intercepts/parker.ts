// The workstation end of intercepted connections: connections parked on the manager's TCP tunnel
// port (the reverse verb, TUNNEL_PARK_PREFIX in @tel/contracts manager/tunnel.ts). When an agent in
// the cluster accepts a connection for one of our intercepts, the manager writes a dial line on one
// of them; we dial 127.0.0.1:<the intercept's local port> and from there are the server side of
// the framed protocol, as the manager is for outbound connections. A parked connection is used
// once; another is parked at once, so the next intercepted connection does not wait for a
// port-forward stream to open.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TUNNEL_DIAL_PREFIX, formatPark } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { connectPooled, readLine, releaseChunk, spliceFramed } from '@tel/tcp-wire';

export interface ParkerOptions {
  /**
   * A new port-forward stream to the manager's TCP tunnel port, with the generation of the
   * port-forward connection it rides on (the manager retires idle parks of older generations).
   */
  open(): Promise<{ stream: Duplex; generation: number }>;
  /** The current manager session (parks wait while there is none). */
  sessionId(): string | undefined;
  /** Where an intercept's connections go on this machine; undefined: we no longer have it. */
  localPort(interceptId: string): number | undefined;
  log: Logger;
  /** Parked connections kept ready (default 8). */
  idle?: number;
}

export interface ParkerStats {
  parked: number;
  served: number;
  refused: number;
  lastError?: string;
}

const OK = Buffer.from('OK\n');
/** As the manager's outbound tunnel: OK waits this long to leave with the local server's first bytes. */
const OK_MAX_DELAY_MS = 25;
const RETRY_MS = 500;
const WITHDRAW = Buffer.from('\n');

export class Parker {
  private running = false;
  private readonly parked = new Set<Duplex>();
  private opening = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly counts = { served: 0, refused: 0 };
  private lastError: string | undefined;

  constructor(private readonly opts: ParkerOptions) {}

  /** Keep connections parked (while there are intercepts). Idempotent. */
  start(): void {
    this.running = true;
    this.fill();
  }

  /** No intercepts any more, or the session ended: unpark everything. */
  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.withdrawAll();
  }

  /** The manager session changed (arrived again): parks of the old session are useless. */
  restart(): void {
    this.withdrawAll();
    if (this.running) this.fill();
  }

  /**
   * Withdraws the parks with a byte (the protocol's withdrawal), then closes them. Closing alone is
   * not enough: the kubelet's port-forward does not pass a close on to the pod until the pod side
   * writes, so the manager would keep a dead park and hand it the next intercepted connection.
   */
  private withdrawAll(): void {
    for (const c of this.parked) {
      c.end(WITHDRAW);
      setTimeout(() => c.destroy(), 1_000).unref();
    }
    this.parked.clear();
  }

  stats(): ParkerStats {
    return { parked: this.parked.size, ...this.counts, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private fill(): void {
    while (this.running && this.parked.size + this.opening < (this.opts.idle ?? 8) && this.opts.sessionId()) void this.parkOne();
  }

  private retryLater(why: string): void {
    if (why !== this.lastError) this.opts.log.debug('parking for intercepts failed; retrying', { error: why });
    this.lastError = why;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.fill(), RETRY_MS);
    this.retryTimer.unref();
  }

  private async parkOne(): Promise<void> {
    const sessionId = this.opts.sessionId()!;
    this.opening++;
    let conn: Duplex;
    let generation: number;
    try {
      ({ stream: conn, generation } = await this.opts.open());
    } catch (err) {
      this.opening--;
      return this.retryLater(err instanceof Error ? err.message : String(err));
    }
    this.opening--;
    if (!this.running) return void conn.destroy();
    this.parked.add(conn);
    conn.on('error', () => undefined);
    conn.write(formatPark(sessionId, generation));
    let line: string;
    let rest: Buffer;
    try {
      ({ line, rest } = await readLine(conn, 256, 0));
    } catch (err) {
      // The manager or the port-forward closed it: park again unless we are stopping.
      const wasParked = this.parked.delete(conn);
      conn.destroy();
      if (wasParked && this.running) this.retryLater(err instanceof Error ? err.message : String(err));
      return;
    }
    this.parked.delete(conn);
    // Replenish in batches, once half the parks are used: opening a park costs the API server,
    // kubelet and runtime a stream each, and doing that during every intercepted request slowed the
    // request it raced with; most requests now find a park without any opening going on.
    if (this.parked.size + this.opening < (this.opts.idle ?? 8) / 2) this.fill();
    if (!line.startsWith(`${TUNNEL_DIAL_PREFIX} `)) {
      // `ERR unknown session`: the manager forgot us (the session re-arrives and restart() follows);
      // `ERR` for a park a newer generation retired. Either way one park fewer: park again.
      this.lastError = line;
      conn.destroy();
      if (this.running) this.retryLater(line);
      return;
    }
    const [interceptId, srcIp, srcPort] = line.slice(TUNNEL_DIAL_PREFIX.length + 1).split(' ');
    const port = interceptId ? this.opts.localPort(interceptId) : undefined;
    if (!port) {
      this.opts.log.debug('intercepted connection for an intercept we do not have', { interceptId, from: `${srcIp}:${srcPort}` });
      return this.refuse(conn, 'the workstation no longer has this intercept');
    }
    this.serve(conn, rest, port, `${srcIp}:${srcPort}`);
  }

  private refuse(conn: Duplex, reason: string): void {
    this.counts.refused++;
    conn.resume();
    conn.end(`ERR ${reason.replace(/[\r\n]/g, ' ')}\n`);
  }

  /** Dial the local server; on success splice, else `ERR` (the agent then hands the connection to the app). */
  private serve(conn: Duplex, rest: Buffer, port: number, from: string): void {
    const local = connectPooled({ host: '127.0.0.1', port, allowHalfOpen: true, highWaterMark: 256 << 10 } as net.NetConnectOpts);
    let connected = false;
    local.once('error', (err) => {
      if (connected) return;
      this.opts.log.debug('local dial for an intercepted connection failed', { port, from, error: err.message });
      this.refuse(conn, `nothing answers on localhost:${port} on the workstation (${(err as NodeJS.ErrnoException).code ?? err.message})`);
    });
    conn.once('close', () => {
      if (!connected) local.destroy();
    });
    local.once('connect', () => {
      connected = true;
      this.counts.served++;
      local.setNoDelay(true);
      spliceFramed(local, conn, {
        initialTunnelBytes: rest,
        preamble: { data: OK, maxDelayMs: OK_MAX_DELAY_MS },
        releaseChunk,
        onDone: (r) => {
          if (r.aborted) this.opts.log.debug('intercepted connection aborted', { from, port, reason: r.reason });
        },
      });
    });
  }
}
