// A framed tunnel connection (past its `OK` line) as a plain byte stream, for code that speaks a
// protocol over the tunnel itself instead of splicing a socket to it (the traffic agent's HTTP
// routers): each write becomes one frame and the writable end the zero frame; frames read become
// the stream's data and the zero frame its end. Backpressure both ways: the tunnel is paused while
// the reader does not take more, and a write completes once the tunnel has drained.
import { Duplex } from 'node:stream';
import { MAX_FRAME } from './request.js';
import { writeFrame } from './carrier.js';

const END_FRAME = Buffer.alloc(4);

export class FramedDuplex extends Duplex {
  /** Payload bytes still expected of the current frame; 0: a header comes next. */
  private remaining = 0;
  private readonly hdr = Buffer.allocUnsafe(4);
  private hdrHave = 0;
  private sentEnd = false;
  private gotEnd = false;

  /**
   * @param tunnel a connection past its answer line, created with `allowHalfOpen: true`
   * @param initial bytes already read from it after that line (early frames)
   */
  constructor(
    private readonly tunnel: Duplex,
    initial: Buffer = Buffer.alloc(0),
  ) {
    super({ allowHalfOpen: true });
    tunnel.on('data', this.onData);
    tunnel.on('end', this.onTunnelGone);
    tunnel.on('close', this.onTunnelGone);
    tunnel.on('error', (err: Error) => this.destroy(err));
    if (initial.length) this.onData(initial);
  }

  /** For callers written for sockets; every frame already leaves in one write. */
  setNoDelay(): this {
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (chunk.length === 0) return done();
    for (let off = 0; off < chunk.length; off += MAX_FRAME) writeFrame(this.tunnel, chunk.subarray(off, off + MAX_FRAME));
    if (this.tunnel.writableNeedDrain) this.tunnel.once('drain', () => done());
    else done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.sentEnd = true;
    this.tunnel.write(END_FRAME);
    this.endTunnelWhenDone();
    done();
  }

  override _read(): void {
    this.tunnel.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // After both ends the tunnel is already ending: destroying it would drop the end frame unsent.
    if (err || !(this.sentEnd && this.gotEnd)) this.tunnel.destroy();
    done(err);
  }

  private readonly onData = (chunk: Buffer): void => {
    let off = 0;
    while (off < chunk.length && !this.destroyed) {
      if (this.gotEnd) return void this.destroy(new Error('tunnel protocol: data after the end frame'));
      if (this.remaining === 0) {
        const take = Math.min(4 - this.hdrHave, chunk.length - off);
        chunk.copy(this.hdr, this.hdrHave, off, off + take);
        this.hdrHave += take;
        off += take;
        if (this.hdrHave < 4) return;
        this.hdrHave = 0;
        const len = this.hdr.readUInt32BE(0);
        if (len > MAX_FRAME) return void this.destroy(new Error(`tunnel protocol: a frame of ${len} bytes`));
        if (len === 0) {
          this.gotEnd = true;
          this.push(null);
          this.endTunnelWhenDone();
          continue;
        }
        this.remaining = len;
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - off);
      this.remaining -= n;
      const more = this.push(chunk.subarray(off, off + n));
      off += n;
      if (!more) this.tunnel.pause();
    }
  };

  private readonly onTunnelGone = (): void => {
    if (!(this.gotEnd && this.sentEnd) && !this.destroyed) this.destroy(new Error('the tunnel closed before both ends were sent'));
  };

  private endTunnelWhenDone(): void {
    if (this.sentEnd && this.gotEnd) this.tunnel.end();
  }
}
