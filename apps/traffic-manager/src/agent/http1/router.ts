// Per-request routing of one HTTP/1.1 client connection (agent side, personal intercepts): each
// request goes to the target `choose` names (the app or an intercept), over one upstream connection
// per target kept while the client's lives; responses come back byte-exact and in request order.
// Upgrade/CONNECT, or bytes it cannot parse, turn the connection into a raw pipe for good.
import type net from 'node:net';
import type { Logger } from '@tel/logging';
import type { RequestHead } from '@tel/agent-config';
import { APP_TARGET, READ_AHEAD_MAX, keep, newExchange, replayTarget, type Exchange, type Target, type Upstream, type UpstreamSocket } from './exchange.js';
import { parseRequestHead, parseResponseHead, BodyFramer } from './wire.js';
import { WriteBatch } from './write-batch.js';

export { APP_TARGET, READ_AHEAD_MAX, REPLAY_MAX, type Target, type UpstreamSocket } from './exchange.js';

export interface Http1RouteOptions {
  choose(req: RequestHead): Target;
  /** A connection to `target`; for APP_TARGET the app container. A target other than the app that fails is replaced by the app. */
  connect(target: Target): Promise<UpstreamSocket>;
  log: Logger;
}

const EMPTY = Buffer.alloc(0);
const noop = () => undefined;

/**
 * Takes over `client` (allowHalfOpen, paused or flowing, with an 'error' listener): reads its
 * requests one by one and carries each to the target chosen for it.
 */
export function routeHttp1(client: net.Socket, opts: Http1RouteOptions): void {
  new Http1Connection(client, opts).start();
}

class Http1Connection {
  private inBuf: Buffer = EMPTY;
  private clientEnded = false;
  private readonly upstreams = new Map<Target, Upstream>();
  private ex: Exchange | undefined;
  private connecting = false;
  private raw: Upstream | undefined;
  private rawPending = false;
  private closed = false;
  /** A response said Connection: close; nothing more is read or sent. */
  private ending = false;
  /** What a read handler relays leaves when it returns (a head and its body in one write). */
  private readonly batch = new WriteBatch();

  constructor(
    private readonly client: net.Socket,
    private readonly opts: Http1RouteOptions,
  ) {}

  start(): void {
    const c = this.client;
    c.on('error', noop);
    c.on('data', (chunk: Buffer) => this.onClientData(chunk));
    c.on('end', () => this.onClientEnd());
    c.on('close', () => this.shutdown());
    c.on('drain', () => {
      for (const up of this.upstreams.values()) up.sock.resume();
      if (this.raw) this.raw.sock.resume();
    });
    c.setNoDelay(true);
    c.resume();
  }

  // ---- client → upstream ----

  private onClientData(chunk: Buffer): void {
    if (this.raw) return this.writeUp(this.raw, chunk);
    this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, chunk]) : chunk;
    this.batch.run(() => this.pump());
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.raw) return void this.raw.sock.end();
    this.pump();
  }

  /** Moves client bytes along as far as the current exchange allows; starts the next exchange when both halves are done. */
  private pump(): void {
    while (!this.closed && !this.ending && !this.raw && !this.rawPending && !this.connecting) {
      if (!this.ex && !this.startExchange()) break;
      const ex = this.ex;
      if (!ex?.up) break;
      if (!ex.reqBody.done) {
        const n = ex.reqBody.feed(this.inBuf);
        if (n instanceof Error) {
          // Mid-request: the target already has the head, so the rest can only go there.
          return this.toRaw(ex.target, `request body: ${n.message}`, ex.up);
        }
        if (n > 0) {
          this.sendEx(ex, this.inBuf.subarray(0, n));
          this.inBuf = this.inBuf.subarray(n);
        }
        if (!ex.reqBody.done) {
          if (this.clientEnded) {
            this.batch.flush();
            ex.up.sock.end();
            // The rest of this body will never come: once its answer is out, nothing else can be.
            if (ex.resDone) this.finish();
          }
          break;
        }
      }
      if (!ex.resDone) break;
      this.ex = undefined;
    }
    this.flow();
  }

  /** Parses the next request head and sends it on its way; false when there is nothing more to do now. */
  private startExchange(): boolean {
    if (this.inBuf.length === 0) {
      if (this.clientEnded) this.finish();
      return false;
    }
    const r = parseRequestHead(this.inBuf);
    if ('incomplete' in r) {
      if (this.clientEnded) this.toRaw(APP_TARGET, 'request head cut short by the client');
      return false;
    }
    if ('error' in r) {
      this.toRaw(APP_TARGET, `not HTTP/1.1 the router reads: ${r.error}`);
      return false;
    }
    let target: Target;
    try {
      target = this.opts.choose(r.head.req);
    } catch (e) {
      this.opts.log.warn('http1: choosing a target failed; the request goes to the app', { error: (e as Error).message });
      target = APP_TARGET;
    }
    if (r.head.tunnel) {
      // The head goes with whatever follows it: the upgraded protocol belongs to the target for good.
      this.toRaw(target, `${r.head.req.method} ${r.head.req.headers.has('upgrade') ? 'upgrade' : 'tunnel'}`);
      return false;
    }
    const head = this.inBuf.subarray(0, r.length);
    this.inBuf = this.inBuf.subarray(r.length);
    const ex = newExchange(target, r.head);
    this.ex = ex;
    const send = (up: Upstream) => {
      ex.up = up;
      ex.reusedUp = up.uses++ > 0;
      this.sendEx(ex, head);
    };
    const up = this.upstreams.get(target);
    if (up) {
      send(up);
      return true;
    }
    this.connecting = true;
    this.openUpstream(target).then(
      (u) => {
        this.connecting = false;
        if (this.closed) return void u.sock.destroy();
        ex.target = u.target;
        send(u);
        this.pump();
      },
      () => {
        this.connecting = false;
        this.client.destroy();
      },
    );
    return false;
  }

  /** Writes request bytes to the exchange's upstream, keeping them for a replay while they fit. */
  private sendEx(ex: Exchange, bytes: Buffer): void {
    keep(ex, bytes);
    if (ex.up) this.writeUp(ex.up, bytes);
  }

  /** Sends the exchange again (exchange.ts replayTarget says where); false when it can't be. */
  private replay(ex: Exchange, failed: Upstream): boolean {
    const next = replayTarget(ex, failed);
    if (next === undefined || !ex.kept) return false;
    this.opts.log.debug(`http1: target ${failed.target} closed before answering; the request goes again to ${next}`);
    ex.retries++;
    ex.up = undefined;
    this.dropUpstream(failed);
    const kept = ex.kept;
    this.connecting = true;
    const existing = this.upstreams.get(next);
    (existing ? Promise.resolve(existing) : this.openUpstream(next)).then(
      (u) => {
        this.connecting = false;
        if (this.closed) return void u.sock.destroy();
        ex.up = u;
        ex.target = u.target;
        ex.reusedUp = u.uses++ > 0;
        for (const b of kept) this.writeUp(u, b);
        if (this.clientEnded && !ex.reqBody.done) u.sock.end();
        this.pump();
      },
      () => {
        this.connecting = false;
        this.client.destroy();
      },
    );
    return true;
  }

  private writeUp(up: Upstream, bytes: Buffer): void {
    if (bytes.length === 0 || up.sock.destroyed) return;
    if (!this.batch.add(up, (b) => this.writeUpNow(up, b), bytes)) this.writeUpNow(up, bytes);
  }

  private writeUpNow(up: Upstream, bytes: Buffer): void {
    if (up.sock.destroyed) return;
    if (!up.sock.write(bytes)) {
      up.blocked = true;
      this.flow();
      up.sock.once('drain', () => {
        up.blocked = false;
        this.flow();
      });
    }
  }

  /** The client is read only while its upstream takes bytes and the read-ahead is small. */
  private flow(): void {
    if (this.closed) return;
    const blocked = this.raw ? this.raw.blocked : this.inBuf.length > READ_AHEAD_MAX || (this.ex?.up?.blocked ?? false);
    if (blocked) this.client.pause();
    else if (!this.client.destroyed) this.client.resume();
  }

  // ---- upstreams ----

  private async openUpstream(target: Target): Promise<Upstream> {
    let sock: UpstreamSocket;
    try {
      sock = await this.opts.connect(target);
    } catch (e) {
      if (target === APP_TARGET) {
        this.opts.log.debug('http1: the app refused a connection', { error: (e as Error).message });
        throw e;
      }
      // A workstation away must not cost the request: the app answers it, as without the intercept.
      this.opts.log.info(`http1: target ${target} unreachable; its request goes to the app`, { error: (e as Error).message });
      return this.upstreams.get(APP_TARGET) ?? this.openUpstream(APP_TARGET);
    }
    const up: Upstream = { target, sock, resBuf: EMPTY, ended: false, blocked: false, uses: 0 };
    this.upstreams.set(target, up);
    sock.on('error', noop);
    sock.setNoDelay?.(true);
    sock.on('data', (chunk: Buffer) => this.onUpstreamData(up, chunk));
    sock.on('end', () => this.onUpstreamEnd(up));
    sock.on('close', () => this.onUpstreamClose(up));
    return up;
  }

  private onUpstreamData(up: Upstream, chunk: Buffer): void {
    if (this.raw === up) return this.writeClient(up, chunk);
    if (this.ex?.up === up) this.ex.resStarted = true;
    up.resBuf = up.resBuf.length ? Buffer.concat([up.resBuf, chunk]) : chunk;
    this.batch.run(() => this.pumpResponse(up));
  }

  private onUpstreamEnd(up: Upstream): void {
    up.ended = true;
    if (this.raw === up) return void this.client.end();
    const ex = this.ex;
    if (ex?.up === up && !ex.resDone) {
      if (ex.resBody?.framing.type === 'close') {
        // A close-delimited response ends here, and so does the client's connection.
        ex.resDone = true;
        this.client.end();
        return this.shutdownUpstreams();
      }
      if (this.replay(ex, up)) return;
      // Cut off mid-response: the client must see a broken connection, not a short answer.
      this.opts.log.debug(`http1: target ${up.target} closed before its response ended`);
      this.client.destroy();
      return;
    }
    this.dropUpstream(up);
  }

  private onUpstreamClose(up: Upstream): void {
    if (this.raw === up) {
      this.client.destroy();
      return;
    }
    if (!up.ended) this.onUpstreamEnd(up);
    this.dropUpstream(up);
  }

  private dropUpstream(up: Upstream): void {
    if (this.upstreams.get(up.target) === up) this.upstreams.delete(up.target);
    up.sock.destroy();
  }

  /** Relays the current exchange's response as far as it goes, head by head (1xx first). */
  private pumpResponse(up: Upstream): void {
    const ex = this.ex;
    if (this.closed) return;
    if (ex?.up !== up) {
      // Nothing was asked of it (e.g. a 408 before a close): what it says has no client to go to.
      this.opts.log.debug(`http1: target ${up.target} sent ${up.resBuf.length} bytes unasked; its connection is dropped`);
      return this.dropUpstream(up);
    }
    while (!ex.resDone) {
      if (!ex.resBody) {
        const r = parseResponseHead(up.resBuf, ex.method);
        if ('incomplete' in r) return;
        if ('error' in r) return this.toRaw(up.target, `response: ${r.error}`, up);
        if (r.head.tunnel) return this.toRaw(up.target, `response ${r.head.status}`, up);
        this.writeClient(up, up.resBuf.subarray(0, r.length));
        up.resBuf = up.resBuf.subarray(r.length);
        if (r.head.interim) continue;
        ex.resBody = new BodyFramer(r.head.framing);
        ex.resCloses = r.head.closes;
      }
      const n = ex.resBody.feed(up.resBuf);
      if (n instanceof Error) return this.toRaw(up.target, `response body: ${n.message}`, up);
      this.writeClient(up, up.resBuf.subarray(0, n));
      up.resBuf = up.resBuf.subarray(n);
      if (!ex.resBody.done) return;
      ex.resDone = true;
    }
    if (ex.resCloses) {
      // The answer said the connection closes after it: the client was told so, as without the agent.
      this.ending = true;
      this.batch.flush();
      this.client.end();
      return this.shutdownUpstreams();
    }
    if (up.resBuf.length) {
      // Bytes past the end of the answer were not asked for: they must not become the next request's answer.
      this.opts.log.debug(`http1: target ${up.target} sent ${up.resBuf.length} bytes past its response; its connection is dropped`);
      this.dropUpstream(up);
    }
    this.pump();
  }

  private writeClient(up: Upstream, bytes: Buffer): void {
    if (bytes.length === 0 || this.client.destroyed) return;
    if (!this.batch.add(this.client, (b) => this.writeClientNow(up, b), bytes)) this.writeClientNow(up, bytes);
  }

  private writeClientNow(up: Upstream, bytes: Buffer): void {
    if (!this.client.destroyed && !this.client.write(bytes)) up.sock.pause();
  }

  // ---- raw pipe, end of life ----

  /** From here on the client's bytes (unforwarded ones first) go to `target` and its bytes come back, unparsed. */
  private toRaw(target: Target, reason: string, existing?: Upstream): void {
    this.opts.log.debug(`http1: connection becomes a pipe to ${target}`, { reason });
    this.rawPending = true;
    for (const up of this.upstreams.values()) if (up !== existing) up.sock.destroy();
    this.upstreams.clear();
    const begin = (up: Upstream) => {
      this.rawPending = false;
      if (this.closed) return void up.sock.destroy();
      this.raw = up;
      const pending = this.inBuf;
      this.inBuf = EMPTY;
      this.writeUp(up, pending);
      this.batch.flush();
      if (this.clientEnded) up.sock.end();
      const back = up.resBuf;
      up.resBuf = EMPTY;
      this.writeClient(up, back);
      this.batch.flush();
      if (up.ended) this.client.end();
      this.flow();
    };
    if (existing) return begin(existing);
    this.client.pause();
    this.openUpstream(target).then(begin, () => {
      this.rawPending = false;
      this.client.destroy();
    });
  }

  /** The client said all it will and every answer went back: end everything gracefully. */
  private finish(): void {
    this.batch.flush();
    this.client.end();
    this.shutdownUpstreams();
  }

  private shutdownUpstreams(): void {
    this.batch.flush();
    for (const up of this.upstreams.values()) up.sock.end();
    this.upstreams.clear();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const up of this.upstreams.values()) up.sock.destroy();
    this.upstreams.clear();
    this.raw?.sock.destroy();
  }
}
