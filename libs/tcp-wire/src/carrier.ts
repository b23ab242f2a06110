// The client end of the TCP stream tunnel (protocol: @tel/contracts MANAGER_TCP_PORT): carries
// workstation connections over tunnel connections that `dial` provides (a port-forward stream in
// the user daemon; a unix socket to it in the root daemon's fallback), keeping finished ones for
// reuse. Shared by both daemons so the pool, retry and early-data rules are one piece of code.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { readLine } from './line.js';
import { MAX_REQUEST_LINE, encodeRequest } from './request.js';
import { spliceFramed } from './splice.js';

/** Bound on the manager's answer (it dials the destination before answering). */
const ANSWER_TIMEOUT_MS = 30_000;
/**
 * Finished tunnel connections kept for the next workstation connection: each new one otherwise
 * costs the container runtime a port-forward stream (a netns switch and a dial: ~1.3 ms of CPU,
 * measured). Idle ones are closed after IDLE_MS (the manager keeps them 10 minutes).
 */
const MAX_IDLE = 64;
const IDLE_MS = 30_000;

export interface TcpCarrierOptions {
  /** A new tunnel connection, usable once resolved (rejects: the workstation connection is reset). */
  dial: () => Promise<Duplex>;
  log: { debug(msg: string, fields?: Record<string, unknown>): void };
  answerTimeoutMs?: number;
  /**
   * Called with each chunk read from a client once the tunnel has taken it (spliceFramed's
   * releaseChunk): clients given pooled reads (read-pool.ts poolReads) give their chunks back.
   */
  releaseChunk?: (chunk: Buffer) => void;
}

export class TcpCarrier {
  ok = 0;
  failed = 0;
  lastError: string | undefined;

  private readonly idle: { sock: Duplex; since: number; drop: () => void }[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: TcpCarrierOptions) {
    this.sweeper = setInterval(() => this.sweep(), IDLE_MS / 2);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const t of this.idle.splice(0)) {
      t.drop();
      t.sock.destroy();
    }
  }

  /** An idle tunnel connection (newest first: least likely to have been closed), or none. */
  private takeIdle(): Duplex | undefined {
    for (let t = this.idle.pop(); t; t = this.idle.pop()) {
      t.drop();
      if (!t.sock.destroyed) return t.sock;
    }
    return undefined;
  }

  /** A finished tunnel connection goes back to the pool (or away, when the pool is full). */
  private release(sock: Duplex, leftover: Buffer): void {
    if (leftover.length > 0 || this.idle.length >= MAX_IDLE || sock.destroyed) {
      sock.destroy();
      return;
    }
    const entry = {
      sock,
      since: Date.now(),
      drop: () => {
        sock.off('close', gone);
        sock.off('error', gone);
        sock.off('data', unexpected);
      },
    };
    const gone = () => {
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      entry.drop();
    };
    // The manager says nothing on an idle connection; anything it does say ends it.
    const unexpected = () => {
      gone();
      sock.destroy();
    };
    sock.on('close', gone);
    sock.on('error', gone);
    sock.on('data', unexpected);
    sock.resume();
    this.idle.push(entry);
  }

  private sweep(): void {
    const old = Date.now() - IDLE_MS;
    for (const t of this.idle.filter((x) => x.since < old)) {
      this.idle.splice(this.idle.indexOf(t), 1);
      t.drop();
      t.sock.end();
      setTimeout(() => t.sock.destroy(), 1000).unref();
    }
  }

  /**
   * Takes over `client` (accepted paused, allowHalfOpen) and carries it to ip:port. A refused or
   * failed dial resets the client, so it sees "connection refused/reset", never an empty answer.
   */
  carry(client: net.Socket, ip: string, port: number): void {
    client.on('error', () => undefined);
    const early = new EarlyData(client);
    this.attempt(client, ip, port, early, this.takeIdle());
  }

  /**
   * One try on `reused` (an idle tunnel connection) or a new one. A reused connection that turns
   * out closed before the manager said anything (it may have gone while idle) is retried once on
   * a new connection, replaying the client's early bytes.
   */
  private attempt(client: net.Socket, ip: string, port: number, early: EarlyData, reused: Duplex | undefined): void {
    if (reused) return this.attemptOn(client, ip, port, early, reused, true);
    this.opts.dial().then(
      (tunnel) => {
        if (client.destroyed) return void tunnel.destroy();
        this.attemptOn(client, ip, port, early, tunnel, false);
      },
      (err: unknown) => {
        early.stop();
        this.failed++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.opts.log.debug(`tcp ${ip}:${port} refused`, { err: this.lastError });
        if (!client.destroyed) client.resetAndDestroy();
      },
    );
  }

  private attemptOn(client: net.Socket, ip: string, port: number, early: EarlyData, tunnel: Duplex, reused: boolean): void {
    let settled = false;
    const refuse = (why: string) => {
      if (settled) return;
      settled = true;
      early.stop();
      this.failed++;
      this.lastError = why;
      this.opts.log.debug(`tcp ${ip}:${port} refused`, { err: why });
      tunnel.destroy();
      if (!client.destroyed) client.resetAndDestroy();
    };
    /** No answer came on a reused connection: it went away while idle; try a new one instead. */
    const retryOrRefuse = (why: string) => {
      if (settled) return;
      if (!reused || client.destroyed) return refuse(why);
      settled = true;
      early.detach();
      tunnel.off('error', onTunnelError);
      tunnel.on('error', () => undefined);
      tunnel.destroy();
      this.attempt(client, ip, port, early, undefined);
    };
    const onTunnelError = (err: Error) => retryOrRefuse(`tunnel: ${err.message}`);
    tunnel.on('error', onTunnelError);
    // The request and the client's first bytes travel together: a client that speaks first
    // (HTTP) has its request on the way with the dial, saving a round trip through the port-forward.
    early.sendTo(tunnel, encodeRequest(ip, port));
    readLine(tunnel, MAX_REQUEST_LINE, this.opts.answerTimeoutMs ?? ANSWER_TIMEOUT_MS).then(
      ({ line, rest }) => {
        if (settled) return;
        if (line !== 'OK') return refuse(line.startsWith('ERR ') ? line.slice(4) : `unexpected answer ${JSON.stringify(line.slice(0, 60))}`);
        settled = true;
        early.stop();
        if (client.destroyed) return void tunnel.destroy();
        this.ok++;
        spliceFramed(client, tunnel, {
          initialTunnelBytes: rest,
          resetPlainOnAbort: true,
          plainEnded: early.ended,
          ...(this.opts.releaseChunk ? { releaseChunk: this.opts.releaseChunk } : {}),
          onReusable: (t, leftover) => {
            t.off('error', onTunnelError);
            this.release(t, leftover);
          },
        });
        client.resume();
      },
      (err: Error) => {
        if (/within/.test(err.message)) refuse(err.message);
        else retryOrRefuse(err.message);
      },
    );
  }
}

/**
 * The client's bytes until the manager answers: sent as frames as they arrive (the manager holds
 * them until the destination is dialled), and kept (at most EARLY_MAX) so a retry can replay them.
 */
class EarlyData {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  ended = false;
  private tunnel: Duplex | undefined;
  private stopped = false;

  constructor(private readonly client: net.Socket) {
    client.on('data', this.onData);
    client.once('end', this.onEnd);
    client.resume();
  }

  /**
   * Send `request`, replay what was kept, then forward new bytes as they come. The request waits
   * (corked) for the client's first bytes, at most FIRST_BYTES_WAIT_MS, so that both leave as one
   * write: one port-forward frame instead of two for a client that speaks first.
   */
  sendTo(tunnel: Duplex, request: Buffer): void {
    this.tunnel = tunnel;
    tunnel.cork();
    tunnel.write(request);
    for (const c of this.chunks) writeFrame(tunnel, c);
    if (this.ended) tunnel.write(Buffer.alloc(4)); // zero-length frame: the client's half-close
    if (this.chunks.length > 0 || this.ended) return void tunnel.uncork();
    this.corked = tunnel;
    this.corkTimer = setTimeout(() => this.release(), FIRST_BYTES_WAIT_MS);
  }

  private corked: Duplex | undefined;
  private corkTimer: NodeJS.Timeout | undefined;

  private release(): void {
    clearTimeout(this.corkTimer);
    const t = this.corked;
    this.corked = undefined;
    if (t && !t.destroyed) t.uncork();
  }

  /** The tunnel failed: keep collecting for the next one. */
  detach(): void {
    this.release();
    this.tunnel = undefined;
  }

  /** The splice takes over: no more listening (unread bytes stay in the paused socket). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.release();
    this.client.pause();
    this.client.off('data', this.onData);
    this.client.off('end', this.onEnd);
    this.chunks.length = 0;
  }

  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.tunnel) writeFrame(this.tunnel, chunk);
    this.release();
    // Bounded: past EARLY_MAX without an answer, wait for it.
    if (this.size > EARLY_MAX) this.client.pause();
  };

  private readonly onEnd = () => {
    this.ended = true;
    this.tunnel?.write(Buffer.alloc(4));
    this.release();
  };
}

const EARLY_MAX = 1 << 20;
/** How long the request line waits for the client's first bytes (server-speaks-first protocols pay it once). */
const FIRST_BYTES_WAIT_MS = 1;

/** One frame of the tunnel protocol: the length header and the payload in one writev. */
export function writeFrame(tunnel: Duplex, chunk: Buffer): void {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(chunk.length, 0);
  tunnel.cork();
  tunnel.write(head);
  tunnel.write(chunk);
  tunnel.uncork();
}
