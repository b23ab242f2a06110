// Native socket pairs for node:http2. node:http2 over a JS Duplex goes through node's
// JSStreamSocket, which corrupts the heap under load on Node 20 and asserts at once on Node 22; a
// session on a real TCP socket does not. So where bytes must pass through JS first (the frame guard,
// a tunnel's framed stream), node:http2 gets one end of a loopback TCP pair and JS relays the other.
import net from 'node:net';
import type { Duplex } from 'node:stream';

/** An accepted connection nobody claims within this long is not one of ours: it is closed. */
const UNCLAIMED_MS = 5_000;
/** The outer side of a finished relay is given this long to flush before it is cut. */
const FLUSH_MS = 5_000;

const noop = () => undefined;

/** One loopback listener per process; the two ends of a pair are matched by the connecting end's address. */
class PairListener {
  private listening: Promise<number> | undefined;
  /** Connecting ends that connected before their accepted end was seen, by `address:port`. */
  private readonly waiting = new Map<string, (accepted: net.Socket) => void>();
  /** Accepted ends seen before their connecting end's 'connect', by the peer's `address:port`. */
  private readonly early = new Map<string, { socket: net.Socket; timer: NodeJS.Timeout }>();

  private port(): Promise<number> {
    this.listening ??= new Promise<number>((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true }, (s) => this.accepted(s));
      server.once('error', (err) => {
        this.listening = undefined;
        reject(err);
      });
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
      // It serves the process's connections; it must not keep the process alive by itself.
      server.unref();
    });
    return this.listening;
  }

  private accepted(s: net.Socket): void {
    s.on('error', noop);
    const key = `${s.remoteAddress}:${s.remotePort}`;
    const claim = this.waiting.get(key);
    if (claim) {
      this.waiting.delete(key);
      claim(s);
      return;
    }
    // Its connecting end's 'connect' may not have run yet; anything else on loopback is refused.
    const timer = setTimeout(() => s.destroy(), UNCLAIMED_MS);
    timer.unref();
    this.early.set(key, { socket: s, timer });
    s.once('close', () => {
      clearTimeout(timer);
      if (this.early.get(key)?.socket === s) this.early.delete(key);
    });
  }

  async pair(): Promise<[net.Socket, net.Socket]> {
    const port = await this.port();
    return new Promise((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      c.setNoDelay(true);
      let key: string | undefined;
      const failed = (err: Error) => {
        if (key) this.waiting.delete(key);
        c.destroy();
        reject(err);
      };
      c.once('error', failed);
      c.once('close', () => failed(new Error('the loopback pair closed before it was matched')));
      c.once('connect', () => {
        key = `${c.localAddress}:${c.localPort}`;
        const done = (a: net.Socket) => {
          c.off('error', failed);
          c.removeAllListeners('close');
          c.on('error', noop);
          a.setNoDelay(true);
          resolve([c, a]);
        };
        const a = this.early.get(key);
        if (a) {
          this.early.delete(key);
          clearTimeout(a.timer);
          a.socket.removeAllListeners('close');
          done(a.socket);
        } else this.waiting.set(key, done);
      });
    });
  }
}

const listener = new PairListener();

/**
 * Two connected native sockets (allowHalfOpen) on loopback: what is written to one is read from
 * the other. Each is a real net.Socket with a TCP handle, fit for node:http2.
 */
export function loopbackPair(): Promise<[net.Socket, net.Socket]> {
  return listener.pair();
}

/**
 * A native socket that carries `stream`'s bytes both ways (EOF passed on; closed with it), for
 * node:http2 where the connection is a JS stream (a tunnel): over a JS stream node:http2 runs on
 * JSStreamSocket, which crashes under load. A socket that has a native handle is returned as is.
 */
export async function nativeSocketFor(stream: Duplex): Promise<net.Socket> {
  if (stream instanceof net.Socket && (stream as unknown as { _handle?: unknown })._handle) return stream;
  const [near, far] = await loopbackPair();
  if (stream.destroyed) {
    near.destroy();
    far.destroy();
    throw new Error('the connection closed before it could be used');
  }
  relay(stream, near);
  near.once('close', () => far.destroy());
  return far;
}

export interface RelayOptions {
  /**
   * Looks at each chunk from the outer side before it goes in: a reason to refuse it, or the
   * offsets in it (barriers) after which the inner side's reader must have read all that was
   * written (`taken`) before more is written.
   */
  check?: (chunk: Buffer) => string | number[] | undefined;
  /** Whether the inner side's reader has read all that was written to it. */
  taken?: () => boolean;
  /** Told why; the outer side then gets `refusal` as its last bytes and is closed. */
  onRefused?: (why: string) => void;
  refusal?: Buffer;
}

/**
 * Relays bytes between `outer` (any Duplex; paused or flowing, with bytes unshifted back) and
 * `inner` (one end of a loopback pair whose other end node:http2 has), with backpressure both
 * ways. The outer side's EOF passes on as EOF; the inner side's EOF or close ends `outer` after
 * what was relayed and then closes it; when `outer` closes, `inner` is destroyed.
 */
export function relay(outer: Duplex, inner: net.Socket, opts: RelayOptions = {}): void {
  let refused = false;
  let cutTimer: NodeJS.Timeout | undefined;
  const cutLater = (ms: number) => {
    if (cutTimer) return;
    cutTimer = setTimeout(() => outer.destroy(), ms);
    cutTimer.unref();
  };
  // Bytes not written yet because a barrier before them waits for the reader.
  const queue: { bytes: Buffer; barrier: boolean }[] = [];
  let waiting = false;
  let ended = false;
  const pump = () => {
    while (queue.length > 0 && !waiting && !refused) {
      const seg = queue.shift()!;
      if (!inner.write(seg.bytes)) outer.pause();
      if (seg.barrier) {
        waiting = true;
        outer.pause();
        whenTaken(opts.taken ?? (() => true), () => {
          waiting = false;
          pump();
        });
      }
    }
    if (waiting || queue.length > 0 || refused) return;
    if (ended) inner.writableEnded || inner.end();
    else if (!inner.writableNeedDrain) outer.resume();
  };
  outer.on('data', (chunk: Buffer) => {
    if (refused) return;
    const verdict = opts.check?.(chunk);
    if (typeof verdict === 'string') {
      refused = true;
      queue.length = 0;
      opts.onRefused?.(verdict);
      inner.destroy();
      outer.end(opts.refusal);
      cutLater(1000);
      return;
    }
    let from = 0;
    for (const at of verdict ?? []) {
      queue.push({ bytes: chunk.subarray(from, at), barrier: true });
      from = at;
    }
    if (from < chunk.length) queue.push({ bytes: chunk.subarray(from), barrier: false });
    pump();
  });
  inner.on('drain', () => refused || waiting || queue.length > 0 || outer.resume());
  outer.on('end', () => {
    ended = true;
    pump();
  });
  outer.on('error', noop);
  outer.on('close', () => {
    clearTimeout(cutTimer);
    inner.destroy();
  });
  inner.on('data', (chunk: Buffer) => {
    if (!outer.write(chunk)) inner.pause();
  });
  outer.on('drain', () => inner.resume());
  // node:http2 ends its socket only when it is done with the connection (it does not read on
  // after that): what it wrote goes out, then `outer` closes rather than wait for its peer's FIN.
  let finishing = false;
  const finish = () => {
    if (finishing || refused || outer.destroyed) return;
    finishing = true;
    if (!outer.writableEnded) outer.end();
    if (outer.writableFinished) outer.destroy();
    else {
      outer.once('finish', () => outer.destroy());
      cutLater(FLUSH_MS);
    }
  };
  inner.on('end', finish);
  inner.on('error', noop);
  inner.on('close', finish);
  outer.resume();
}

/** How long a barrier waits for a reader that does not read (node:http2 stops after its own GOAWAY). */
const TAKEN_WAIT_MS = 1000;

/** Calls `then` once `taken()` holds, or after TAKEN_WAIT_MS. */
function whenTaken(taken: () => boolean, then: () => void): void {
  const since = Date.now();
  let tries = 0;
  const check = () => {
    if (taken() || Date.now() - since >= TAKEN_WAIT_MS) then();
    // The reader reads in the next turns of the event loop; later, not to spin.
    else if (++tries < 20) setImmediate(check);
    else setTimeout(check, 2);
  };
  check();
}
