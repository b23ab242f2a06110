// Boundary: user daemon → Kubernetes API server, SPDY/3.1 as the API server's port-forward speaks
// it (the protocol kubectl uses). Why our own client and not the websocket one of client-node:
// - one upgraded connection carries every forwarded connection as a pair of SPDY streams, so a new
//   workstation connection costs two frames, not a TLS handshake and an HTTP upgrade;
// - the container runtime's SPDY path costs a quarter of the CPU its websocket path does per byte
//   (measured: bench/connect CPU per process), and there is no per-frame masking or re-copying;
// - the upgrade is a POST, which RBAC checks as `create pods/portforward`, the verb kubectl needs
//   (the websocket GET needed `get` before Kubernetes 1.35).
// No maintained npm package speaks SPDY/3.1 as a client (spdy-transport was last released in
// 2018), and only the subset below is needed, so it is written here against the SPDY/3.1 draft.
//
// Subset: client-initiated streams (odd ids), DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, PING,
// GOAWAY; SETTINGS, WINDOW_UPDATE and HEADERS are read and ignored (the Go server implements no
// flow control: a slow reader is pushed back through TCP, and so are we).
// Header blocks we send are a zlib stream of stored (uncompressed) deflate blocks without a preset
// dictionary: valid zlib that every inflater reads, with no compressor state to keep. Header
// blocks we receive are skipped: nothing we need travels in reply headers.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Duplex } from 'node:stream';

const VERSION = 3;
const CONTROL_BIT = 0x80;
const FLAG_FIN = 0x01;
/** Largest DATA frame payload we send (the field is 24 bits; smaller frames interleave streams better). */
const MAX_DATA_FRAME = 1 << 20;
/** What an empty write carries: its callback, in order behind the bytes before it. */
const EMPTY = Buffer.alloc(0);

const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

/** RST_STREAM status codes (SPDY/3.1 §2.6.3). */
export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;

/** An uncompressed SPDY/3 header block: count, then length-prefixed lowercase names and values. */
export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers).map(([k, v]) => [Buffer.from(k.toLowerCase()), Buffer.from(v)] as const);
  const size = 4 + entries.reduce((n, [k, v]) => n + 8 + k.length + v.length, 0);
  const out = Buffer.alloc(size);
  let o = out.writeUInt32BE(entries.length, 0);
  for (const [k, v] of entries) {
    o = out.writeUInt32BE(k.length, o);
    o += k.copy(out, o);
    o = out.writeUInt32BE(v.length, o);
    o += v.copy(out, o);
  }
  return out;
}

/**
 * One stored deflate block holding `data`, then an empty stored block, preceded on the
 * connection's first block by the zlib header (CM=8, 32K window, no dictionary, FCHECK so the
 * 16-bit header is a multiple of 31). The empty block is what zlib's Z_SYNC_FLUSH emits: an
 * inflater (Go's flate) hands out a stored block's bytes only when it reads the next block's
 * header, and must find it inside the same frame.
 */
export function storedZlibBlock(data: Buffer, first: boolean): Buffer {
  if (data.length > 0xffff) throw new Error('header block too large');
  const prefix = first ? 2 : 0;
  const out = Buffer.alloc(prefix + 5 + data.length + 5);
  out.writeUInt32BE(0x0000ffff, out.length - 4); // empty stored block: 00 | 00 00 | ff ff
  if (first) {
    out[0] = 0x78;
    out[1] = 0x01;
  }
  out[prefix] = 0x00; // BFINAL=0, BTYPE=00 (stored), padded to the byte boundary
  out.writeUInt16LE(data.length, prefix + 1);
  out.writeUInt16LE(~data.length & 0xffff, prefix + 3);
  data.copy(out, prefix + 5);
  return out;
}

function controlFrame(type: FrameType, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE((CONTROL_BIT << 8) | VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

function dataHeader(streamId: number, flags: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE(((flags & 0xff) << 24) | length, 4);
  return head;
}

export class SpdyStream extends Duplex {
  /** True once the server's SYN_REPLY arrived. */
  replied = false;
  private localDone = false;
  private remoteDone = false;

  constructor(
    readonly id: number,
    private readonly conn: SpdyConnection,
  ) {
    // Half-open: our end (FIN) and the server's end are independent.
    super({ allowHalfOpen: true, readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.conn.sendData(this.id, chunk, false, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localDone = true;
    this.conn.sendData(this.id, Buffer.alloc(0), true, (err) => {
      this.maybeForget();
      cb(err);
    });
  }

  override _read(): void {
    this.conn.resumeReading();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!(this.localDone && this.remoteDone)) this.conn.reset(this.id, RstStatus.CANCEL);
    this.conn.forget(this.id);
    cb(err);
  }

  /** @internal payload from a DATA frame; false = stop reading the connection for now. */
  onData(payload: Buffer): boolean {
    return this.push(payload);
  }

  /** @internal the server's FIN. */
  onRemoteFin(): void {
    this.remoteDone = true;
    this.push(null);
    this.maybeForget();
  }

  private maybeForget(): void {
    if (this.localDone && this.remoteDone) this.conn.forget(this.id);
  }
}

/**
 * A SPDY/3.1 client session on an upgraded socket. Events: 'close' (socket gone, every stream
 * destroyed), 'goaway' (the server takes no new streams).
 */
export class SpdyConnection extends EventEmitter {
  private nextStreamId = 1;
  private nextPingId = 1;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly pings = new Map<number, () => void>();
  private headerBlocksSent = 0;
  private pending: Buffer | undefined;
  /** DATA payload still to come for `dataStream` (frames are delivered as they arrive, unbuffered). */
  private dataLeft = 0;
  private dataStream: SpdyStream | undefined;
  private dataFin = false;
  private goneAway = false;
  private _closed = false;
  /** The socket is paused because a stream's reader is behind. */
  private paused = false;

  constructor(
    private readonly socket: net.Socket,
    head?: Buffer,
  ) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    if (head && head.length > 0) this.onChunk(head);
  }

  get closed(): boolean {
    return this._closed;
  }

  get acceptsStreams(): boolean {
    return !this._closed && !this.goneAway;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Open a stream with `headers` (SYN_STREAM); data may be written at once. */
  openStream(headers: Record<string, string>): SpdyStream {
    if (!this.acceptsStreams) throw new Error(this._closed ? 'SPDY connection closed' : 'API server is going away (GOAWAY)');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const block = storedZlibBlock(encodeHeaderBlock(headers), this.headerBlocksSent++ === 0);
    const payload = Buffer.alloc(10 + block.length);
    payload.writeUInt32BE(id, 0);
    payload.writeUInt32BE(0, 4); // associated-to stream: none
    payload.writeUInt16BE(0, 8); // priority 0, slot 0
    block.copy(payload, 10);
    const stream = new SpdyStream(id, this);
    this.streams.set(id, stream);
    this.openFrame = undefined;
    this.socket.write(controlFrame(FrameType.SynStream, 0, payload));
    return stream;
  }

  /** Round trip of a PING, or rejects after `timeoutMs`. */
  ping(timeoutMs: number): Promise<number> {
    if (this._closed) return Promise.reject(new Error('SPDY connection closed'));
    const id = this.nextPingId;
    this.nextPingId += 2;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new Error(`no PING answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(id, () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
      const p = Buffer.alloc(4);
      p.writeUInt32BE(id, 0);
      this.openFrame = undefined;
      this.socket.write(controlFrame(FrameType.Ping, 0, p));
    });
  }

  close(): void {
    if (this._closed) return;
    const p = Buffer.alloc(8); // last good stream: none of theirs; status OK
    this.socket.end(controlFrame(FrameType.GoAway, 0, p));
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * @internal Writes `chunk` as DATA of stream `id`. `cb` means the chunk's memory is free again
   * (a pooled read, @tel/tcp-wire read-pool.ts, reuses it at once), yet the socket stays corked
   * until the end of the turn. So bytes that fit under the socket's mark are copied and `cb` comes
   * at once (the writer's next write this turn may join the frame); larger ones are written as
   * they are and `cb` waits for the socket's own callback, which also paces the writer.
   */
  sendData(id: number, chunk: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    if (this._closed) return cb(new Error('SPDY connection closed'));
    const atOnce = this.socket.writableLength + chunk.length + 8 < this.socket.writableHighWaterMark;
    const bytes = atOnce && chunk.length > 0 ? Buffer.from(chunk) : chunk;
    // A failed write means the socket is going away: onClose destroys every stream with the reason.
    const taken = atOnce ? undefined : () => cb();
    const write = (b: Buffer, last: boolean) => (last && taken ? this.socket.write(b, taken) : this.socket.write(b));
    this.batch();
    this.socket.cork();
    const open = this.openFrame;
    if (open && open.id === id && open.length + bytes.length <= MAX_DATA_FRAME) {
      // Same stream, same turn, nothing written in between: extend that frame (see openFrame).
      open.length += bytes.length;
      open.head.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24) | open.length, 4);
      // An empty write still calls back, in order behind the frame's bytes.
      if (bytes.length > 0 || taken) write(bytes.length > 0 ? bytes : EMPTY, true);
      if (fin) this.openFrame = undefined;
    } else if (bytes.length === 0) {
      const head = dataHeader(id, fin ? FLAG_FIN : 0, 0);
      write(head, true);
      this.openFrame = fin ? undefined : { id, head, length: 0 };
    } else {
      for (let off = 0; off < bytes.length; off += MAX_DATA_FRAME) {
        const part = bytes.length <= MAX_DATA_FRAME ? bytes : bytes.subarray(off, off + MAX_DATA_FRAME);
        const last = off + MAX_DATA_FRAME >= bytes.length;
        const head = dataHeader(id, fin && last ? FLAG_FIN : 0, part.length);
        write(head, false);
        write(part, last);
        this.openFrame = fin ? undefined : { id, head, length: part.length };
      }
    }
    this.socket.uncork();
    if (atOnce) cb();
  }

  /** Frames written in one turn of the event loop leave in one writev (one TLS write). */
  private batching = false;
  private batch(): void {
    if (this.batching) return;
    this.batching = true;
    this.socket.cork();
    setImmediate(() => {
      this.batching = false;
      this.openFrame = undefined;
      this.socket.uncork();
    });
  }

  /**
   * The DATA frame written last in this turn's batch, with nothing written after it. More data
   * for the same stream in the same turn extends it: its header's length (and FIN) is patched in
   * place, which is safe because the socket stays corked until the batch ends, so the header has
   * not left yet. A request line, the client's first bytes and a frame boundary written by
   * separate calls then cross the API server, kubelet and runtime as one DATA frame, and the
   * runtime writes it to the manager's connection once instead of once per call.
   */
  private openFrame: { id: number; head: Buffer; length: number } | undefined;

  /** @internal */
  reset(id: number, status: number): void {
    if (this._closed || !this.streams.has(id)) return;
    const p = Buffer.alloc(8);
    p.writeUInt32BE(id, 0);
    p.writeUInt32BE(status, 4);
    this.openFrame = undefined;
    this.socket.write(controlFrame(FrameType.RstStream, 0, p));
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  /** @internal a stream's reader wants more: undo a pause it caused. */
  resumeReading(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onChunk(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let off = 0;
    while (off < buf.length) {
      if (this.dataLeft > 0) {
        // Inside a DATA frame's payload: hand over what is here without waiting for the rest.
        const n = Math.min(this.dataLeft, buf.length - off);
        const stream = this.dataStream;
        if (stream && !stream.destroyed && !stream.onData(buf.subarray(off, off + n))) this.pauseFor();
        off += n;
        this.dataLeft -= n;
        if (this.dataLeft === 0) {
          if (this.dataFin && stream && !stream.destroyed) stream.onRemoteFin();
          this.dataStream = undefined;
          this.dataFin = false;
        }
        continue;
      }
      if (buf.length - off < 8) break;
      const b0 = buf[off]!;
      const word = buf.readUInt32BE(off + 4);
      const flags = word >>> 24;
      const length = word & 0xffffff;
      if ((b0 & CONTROL_BIT) === 0) {
        const id = buf.readUInt32BE(off) & 0x7fffffff;
        off += 8;
        const stream = this.streams.get(id);
        if (length === 0) {
          if (flags & FLAG_FIN && stream && !stream.destroyed) stream.onRemoteFin();
          continue;
        }
        this.dataStream = stream;
        this.dataLeft = length;
        this.dataFin = (flags & FLAG_FIN) !== 0;
        continue;
      }
      if (buf.length - off < 8 + length) break;
      const type = buf.readUInt16BE(off + 2);
      this.onControl(type, flags, buf.subarray(off + 8, off + 8 + length));
      off += 8 + length;
    }
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
  }

  private onControl(type: number, flags: number, payload: Buffer): void {
    switch (type) {
      case FrameType.SynReply: {
        const s = this.streams.get(payload.readUInt32BE(0) & 0x7fffffff);
        if (!s) return;
        s.replied = true;
        s.emit('reply');
        if (flags & FLAG_FIN) s.onRemoteFin();
        return;
      }
      case FrameType.RstStream: {
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        const status = payload.readUInt32BE(4);
        const s = this.streams.get(id);
        this.streams.delete(id);
        s?.destroy(new Error(`stream reset by the API server (SPDY status ${status})`));
        return;
      }
      case FrameType.Ping: {
        const id = payload.readUInt32BE(0);
        if (id % 2 === 1) {
          const done = this.pings.get(id);
          this.pings.delete(id);
          done?.();
        } else {
          this.openFrame = undefined;
          this.socket.write(controlFrame(FrameType.Ping, 0, payload)); // the server's: echo it
        }
        return;
      }
      case FrameType.GoAway:
        this.goneAway = true;
        this.emit('goaway');
        return;
      case FrameType.SynStream: {
        // Servers open no streams in port-forward: refuse politely.
        const p = Buffer.alloc(8);
        p.writeUInt32BE(payload.readUInt32BE(0) & 0x7fffffff, 0);
        p.writeUInt32BE(RstStatus.REFUSED_STREAM, 4);
        this.openFrame = undefined;
        this.socket.write(controlFrame(FrameType.RstStream, 0, p));
        return;
      }
      default:
        return; // SETTINGS, WINDOW_UPDATE, HEADERS, unknown: nothing to do
    }
  }

  private pauseFor(): void {
    if (!this.paused) this.socket.pause();
    this.paused = true;
  }

  private onClose(): void {
    if (this._closed) return;
    this._closed = true;
    const err = new Error('connection to the API server closed');
    for (const s of this.streams.values()) s.destroy(err);
    this.streams.clear();
    this.emit('close');
  }
}
