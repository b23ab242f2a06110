// Copies one TCP connection over a framed tunnel connection, both ways: the hot path of the TCP
// stream tunnel (contract: MANAGER_TCP_PORT in @tel/contracts manager/tunnel.ts).
//
// plain → tunnel: each chunk read from `plain` becomes one frame (4-byte big-endian length, then
// the chunk), written corked so the header and payload leave in one writev; plain's end becomes
// the zero frame. tunnel → plain: frames are cut out of the chunks read from `tunnel` as views
// (subarray); only a header split across two reads is copied (into a 4-byte buffer); the zero
// frame becomes plain.end(). Backpressure both ways: the reading side is paused while the writing
// side's buffer is full and resumed on its 'drain'.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { MAX_FRAME } from './request.js';

export interface SpliceResult {
  /** True when the connection ended any other way than both directions sending their end. */
  aborted: boolean;
  reason?: string;
  /** Payload bytes from the tunnel written to `plain`. */
  bytesIn: number;
  /** Payload bytes read from `plain` and sent into the tunnel. */
  bytesOut: number;
}

export interface SpliceOptions {
  /** Bytes already read from the tunnel after its first line (readLine's `rest`): early frames. */
  initialTunnelBytes?: Buffer;
  /** Called once, after both sockets have closed. */
  onDone?: (result: SpliceResult) => void;
  /**
   * On an abort coming from the tunnel (it closed, errored or broke the protocol), reset `plain`
   * (RST, `resetAndDestroy()`; TCP sockets only) instead of just destroying it (FIN): the far
   * end's reset is passed on. Default false.
   */
  resetPlainOnAbort?: boolean;
  /**
   * plain's end was already read and its zero frame already written by the caller (a client
   * that sent its request and FIN before the tunnel answered): its 'end' won't fire again.
   */
  plainEnded?: boolean;
  /**
   * Keep the tunnel for another request once both directions have ended: instead of ending it,
   * every listener of ours is removed, it is paused and handed over with the bytes that followed
   * the peer's zero frame in the same read (the start of the next request). Without it, such
   * bytes are a protocol error.
   */
  onReusable?: (tunnel: Duplex, leftover: Buffer) => void;
  /**
   * Bytes to send on the tunnel before the first frame (the manager's `OK\n`): written together
   * with the first frame when it comes within `maxDelayMs`, else alone then. One write instead of
   * two saves a port-forward frame per connection through the API server, kubelet and runtime.
   */
  preamble?: { data: Buffer; maxDelayMs: number };
  /**
   * Called with each chunk read from `plain` once it has been written to the tunnel (read-pool.ts:
   * the chunk's memory is then reused).
   */
  releaseChunk?: (chunk: Buffer) => void;
  /**
   * Called with each chunk read from `tunnel` once every payload piece cut from it has been
   * written to `plain` (never for a chunk part of which is handed on as `leftover`): a tunnel read
   * into pooled memory (read-pool.ts) gives it back.
   */
  releaseTunnelChunk?: (chunk: Buffer) => void;
}

/** The zero frame: a direction's end. Shared, never written to. */
const END_FRAME = Buffer.alloc(4);

const RUNNING = 0;
const COMPLETE = 1;
const ABORTED = 2;

/**
 * Splices `plain` (the application's TCP connection) with `tunnel` (a connection speaking the
 * framed protocol, past its request/OK lines). BOTH sockets must have been created or accepted
 * with `allowHalfOpen: true` (`net.createServer({ allowHalfOpen: true })`,
 * `net.connect({ ..., allowHalfOpen: true })`); otherwise Node ends a socket's writable side as
 * soon as its readable side ends and half-closed request/response exchanges are cut short.
 * Sets TCP_NODELAY on the tunnel (every frame is one writev; Nagle would only add latency).
 *
 * Lifecycle: once both directions have ended (plain's FIN sent as the zero frame, the zero frame
 * received and turned into plain's FIN) the tunnel is ended and destroyed once flushed, and plain
 * closes by itself once its FINs are exchanged. Before that, the tunnel closing, erroring, ending
 * or breaking the protocol (a frame over MAX_FRAME, data after its zero frame) aborts: plain is
 * reset (resetPlainOnAbort) or destroyed; plain erroring or closing aborts: the tunnel is
 * destroyed (the other side sees a close before both ends: an abort).
 */
export function spliceFramed(plain: net.Socket, tunnel: Duplex & { setNoDelay?: (v: boolean) => unknown }, opts: SpliceOptions = {}): void {
  let state = RUNNING;
  let reason: string | undefined;
  let bytesIn = 0;
  let bytesOut = 0;
  /** plain's end was sent as the zero frame. */
  let outEnded = opts.plainEnded === true;
  /** The tunnel's zero frame was received (plain.end() called). */
  let inEnded = false;
  /** Payload bytes still expected of the current incoming frame; 0: a header comes next. */
  let remaining = 0;
  /** A header split across reads. */
  const hdr = Buffer.allocUnsafe(4);
  let hdrHave = 0;
  let waitTunnelDrain = false;
  let waitPlainDrain = false;
  let closed = (plain.closed ? 1 : 0) + (tunnel.closed ? 1 : 0);
  let reported = false;

  const report = () => {
    if (reported || closed < 2) return;
    reported = true;
    opts.onDone?.({ aborted: state !== COMPLETE, ...(reason !== undefined ? { reason } : {}), bytesIn, bytesOut });
  };

  const abort = (why: string, fromTunnel: boolean) => {
    if (state !== RUNNING) return;
    state = ABORTED;
    clearTimeout(preambleTimer);
    reason = why;
    if (fromTunnel && opts.resetPlainOnAbort && !plain.destroyed) {
      try {
        plain.resetAndDestroy();
      } catch {
        plain.destroy(); // not a TCP socket (a unix socket): no RST to send
      }
    } else {
      plain.destroy();
    }
    tunnel.destroy();
  };

  let leftover: Buffer | undefined;
  const maybeComplete = () => {
    if (!inEnded || !outEnded || state !== RUNNING) return;
    state = COMPLETE;
    if (opts.onReusable) {
      detachTunnel();
      tunnel.pause();
      opts.onReusable(tunnel, leftover ?? Buffer.alloc(0));
      return;
    }
    // Our zero frame is queued before this FIN; destroy once flushed rather than wait for the
    // peer's FIN (a port-forward may hold it back).
    tunnel.once('finish', () => tunnel.destroy());
    tunnel.end();
  };

  // plain → tunnel
  const onTunnelDrain = () => {
    waitTunnelDrain = false;
    if (state === RUNNING) plain.resume();
  };
  // Everything written to the tunnel in one turn of the event loop (frames, the end frame, the
  // preamble) leaves in one writev: each write is a frame through the port-forward.
  let batching = false;
  const batch = () => {
    if (batching) return;
    batching = true;
    tunnel.cork();
    setImmediate(() => {
      batching = false;
      tunnel.uncork();
    });
  };
  let preamble = opts.preamble;
  const sendPreamble = () => {
    if (!preamble) return;
    const p = preamble;
    preamble = undefined;
    clearTimeout(preambleTimer);
    if (state === RUNNING && !tunnel.destroyed) tunnel.write(p.data);
  };
  const preambleTimer = preamble ? setTimeout(sendPreamble, preamble.maxDelayMs) : undefined;

  const release = opts.releaseChunk;
  const onPlainData = (chunk: Buffer) => {
    if (state !== RUNNING) return;
    const len = chunk.length;
    if (len === 0) return;
    batch();
    sendPreamble();
    bytesOut += len;
    let ok: boolean;
    if (len <= MAX_FRAME) {
      const h = Buffer.allocUnsafe(4);
      h.writeUInt32BE(len, 0);
      tunnel.cork();
      tunnel.write(h);
      // Released when written, or when the write fails (the tunnel is gone: nothing holds it).
      ok = release ? tunnel.write(chunk, () => release(chunk)) : tunnel.write(chunk);
      tunnel.uncork();
    } else {
      // Never from a socket read (at most 64 KiB), but stay within the protocol regardless.
      ok = true;
      tunnel.cork();
      for (let off = 0; off < len; off += MAX_FRAME) {
        const part = chunk.subarray(off, Math.min(len, off + MAX_FRAME));
        const h = Buffer.allocUnsafe(4);
        h.writeUInt32BE(part.length, 0);
        tunnel.write(h);
        ok = tunnel.write(part);
      }
      tunnel.uncork();
    }
    if (!ok) {
      plain.pause();
      if (!waitTunnelDrain) {
        waitTunnelDrain = true;
        tunnel.once('drain', onTunnelDrain);
      }
    }
  };
  const onPlainEnd = () => {
    if (state !== RUNNING) return;
    outEnded = true;
    batch();
    sendPreamble();
    tunnel.write(END_FRAME);
    maybeComplete();
  };

  // tunnel → plain
  const onPlainDrain = () => {
    waitPlainDrain = false;
    if (state === RUNNING) tunnel.resume();
  };
  let batchingPlain = false;
  const onTunnelData = (chunk: Buffer) => {
    if (state !== RUNNING) return;
    // Like the tunnel side: what arrives in one turn leaves in one writev (callers give `plain` a
    // high-water mark above Node's 16 KiB so that a batch doesn't trip backpressure).
    if (!batchingPlain) {
      batchingPlain = true;
      plain.cork();
      setImmediate(() => {
        batchingPlain = false;
        plain.uncork();
      });
    }
    const len = chunk.length;
    let off = 0;
    // With releaseTunnelChunk: one hold for this loop, one per piece written; the chunk goes back
    // when the last of them is done.
    const releaseIn = opts.releaseTunnelChunk;
    let holds = 1;
    const unhold = releaseIn ? () => void (--holds === 0 && releaseIn(chunk)) : undefined;
    const write = (b: Buffer): boolean => {
      if (!unhold) return plain.write(b);
      holds++;
      return plain.write(b, unhold);
    };
    // The first payload piece of this chunk is held back until we know whether a second one
    // follows: then plain is corked so that both go out in one writev.
    let first: Buffer | undefined;
    let corked = false;
    let ok = true;
    while (off < len) {
      if (remaining === 0) {
        if (inEnded && outEnded && opts.onReusable) {
          // The next request on a reused tunnel: not ours, handed over on completion.
          leftover = chunk.subarray(off);
          break;
        }
        if (inEnded) {
          if (corked) plain.uncork();
          return abort('data after the end frame', true);
        }
        let n: number;
        if (hdrHave === 0 && len - off >= 4) {
          n = chunk.readUInt32BE(off);
          off += 4;
        } else {
          const take = Math.min(4 - hdrHave, len - off);
          chunk.copy(hdr, hdrHave, off, off + take);
          hdrHave += take;
          off += take;
          if (hdrHave < 4) break;
          hdrHave = 0;
          n = hdr.readUInt32BE(0);
        }
        if (n === 0) {
          inEnded = true;
          continue; // plain.end() below, after this chunk's data
        }
        if (n > MAX_FRAME) {
          if (corked) plain.uncork();
          return abort(`frame of ${n} bytes exceeds ${MAX_FRAME}`, true);
        }
        remaining = n;
      } else {
        const take = remaining < len - off ? remaining : len - off;
        const part = take === len ? chunk : chunk.subarray(off, off + take);
        off += take;
        remaining -= take;
        bytesIn += take;
        if (first === undefined && !corked) {
          first = part;
        } else {
          if (!corked) {
            corked = true;
            plain.cork();
            ok = write(first!) && ok;
            first = undefined;
          }
          ok = write(part) && ok;
        }
      }
    }
    if (first !== undefined) ok = write(first) && ok;
    if (corked) plain.uncork();
    // A chunk whose tail is the next request's start belongs to the next owner of the tunnel.
    if (unhold && !(leftover && leftover.buffer === chunk.buffer && leftover.byteOffset >= chunk.byteOffset && leftover.byteOffset < chunk.byteOffset + len)) unhold();
    if (inEnded && !plain.writableEnded) {
      plain.end();
      maybeComplete();
    }
    if (!ok && state === RUNNING) {
      tunnel.pause();
      if (!waitPlainDrain) {
        waitPlainDrain = true;
        plain.once('drain', onPlainDrain);
      }
    }
  };

  plain.on('end', onPlainEnd);
  plain.on('error', (err: Error) => abort(`connection error: ${err.message}`, false));
  plain.on('close', () => {
    closed++;
    abort('connection closed before its end', false);
    // A reused tunnel stays open: this flow is done when plain is.
    if (state === COMPLETE && opts.onReusable) closed = 2;
    report();
  });
  const onTunnelEnd = () => abort('tunnel ended before both directions did', true);
  const onTunnelError = (err: Error) => abort(`tunnel error: ${err.message}`, true);
  const onTunnelClose = () => {
    closed++;
    abort('tunnel closed before both directions ended', true);
    report();
  };
  const detachTunnel = () => {
    tunnel.off('end', onTunnelEnd);
    tunnel.off('error', onTunnelError);
    tunnel.off('close', onTunnelClose);
    tunnel.off('data', onTunnelData);
    tunnel.off('drain', onTunnelDrain);
  };
  tunnel.on('end', onTunnelEnd);
  tunnel.on('error', onTunnelError);
  tunnel.on('close', onTunnelClose);

  if (plain.destroyed || tunnel.destroyed) {
    abort(tunnel.destroyed ? 'tunnel closed before the splice' : 'connection closed before the splice', tunnel.destroyed);
    report();
    return;
  }
  tunnel.setNoDelay?.(true);
  if (opts.initialTunnelBytes?.length) onTunnelData(opts.initialTunnelBytes);
  if (state !== RUNNING) return;
  if (waitPlainDrain) tunnel.pause();
  tunnel.on('data', onTunnelData);
  if (!waitPlainDrain) tunnel.resume();
  if (outEnded) return maybeComplete();
  plain.on('data', onPlainData);
  plain.resume();
}
