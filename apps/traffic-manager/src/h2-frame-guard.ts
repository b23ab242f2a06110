// HTTP/2 frame checks in front of node:http2 for connections from peers we don't trust (any pod:
// the agent's intercepted ports, the manager's agent port). Node 20's nghttp2 (1.61) aborts the
// whole process on some sequences that contain a frame of a length its type never has (an
// RST_STREAM that is not 4 bytes, after a GOAWAY); RFC 9113 makes such a frame, or one longer than
// the 16 KiB we allow, a connection error (FRAME_SIZE_ERROR) anyway. So the frame headers are read
// here and the connection is closed at the first bad one, before nghttp2 sees it. Only the 9-byte
// headers are looked at; payloads pass as they came.
import type net from 'node:net';
import { Duplex } from 'node:stream';

/** The client connection preface, which precedes the first frame. */
const PREFACE_LENGTH = 24;
/** SETTINGS_MAX_FRAME_SIZE's default, which node:http2 servers keep unless told otherwise. */
const MAX_FRAME = 16_384;
/** GOAWAY on stream 0: last stream 0, error FRAME_SIZE_ERROR (6). */
const GOAWAY_FRAME_SIZE_ERROR = Buffer.from('000008070000000000' + '00000000' + '00000006', 'hex');

/** Why a frame header breaks RFC 9113's size rules, or undefined. */
export function frameSizeProblem(length: number, type: number, flags: number): string | undefined {
  if (length > MAX_FRAME) return `a frame of ${length} bytes (at most ${MAX_FRAME})`;
  const fixed: Record<number, [string, number]> = { 2: ['PRIORITY', 5], 3: ['RST_STREAM', 4], 6: ['PING', 8], 8: ['WINDOW_UPDATE', 4] };
  const f = fixed[type];
  if (f && length !== f[1]) return `a ${f[0]} frame of ${length} bytes (always ${f[1]})`;
  if (type === 4 && ((flags & 1) !== 0 ? length !== 0 : length % 6 !== 0)) return `a SETTINGS frame of ${length} bytes`;
  if (type === 7 && length < 8) return `a GOAWAY frame of ${length} bytes (at least 8)`;
  return undefined;
}

class H2FrameGuard extends Duplex {
  private prefaceLeft = PREFACE_LENGTH;
  private readonly hdr = Buffer.alloc(9);
  private hdrHave = 0;
  private payloadLeft = 0;
  /** A bad frame came: the socket is ending with our GOAWAY; nothing more goes either way. */
  private refused = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly onBad: (why: string) => void,
  ) {
    super({ allowHalfOpen: true });
    socket.on('data', (chunk: Buffer) => {
      if (this.refused) return;
      const bad = this.scan(chunk);
      if (bad) {
        this.onBad(bad);
        // The connection error RFC 9113 asks for: GOAWAY(FRAME_SIZE_ERROR), then the close.
        this.refused = true;
        socket.end(GOAWAY_FRAME_SIZE_ERROR);
        setTimeout(() => socket.destroy(), 1000).unref();
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }

  /** Walks the frame headers in `chunk`; the first size violation, if any. */
  private scan(chunk: Buffer): string | undefined {
    let i = 0;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, chunk.length);
      this.prefaceLeft -= n;
      i = n;
    }
    while (i < chunk.length) {
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      const n = Math.min(9 - this.hdrHave, chunk.length - i);
      chunk.copy(this.hdr, this.hdrHave, i, i + n);
      this.hdrHave += n;
      i += n;
      if (this.hdrHave < 9) break;
      this.hdrHave = 0;
      const length = this.hdr.readUIntBE(0, 3);
      const bad = frameSizeProblem(length, this.hdr[3]!, this.hdr[4]!);
      if (bad) return bad;
      this.payloadLeft = length;
    }
    return undefined;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.refused) return done();
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (!this.refused) this.socket.destroy();
    done(err);
  }
}

/**
 * `socket` (bytes already read from it unshifted back) as a stream to give node:http2 instead:
 * the same bytes both ways, but closed at the first frame whose size RFC 9113 forbids.
 */
export function guardH2(socket: net.Socket, onBad: (why: string) => void): Duplex {
  return new H2FrameGuard(socket, onBad);
}
