// HTTP/2 frame checks in front of node:http2 for connections from peers we don't trust (any pod:
// the agent's intercepted ports, the manager's agent port). Node 20's nghttp2 (1.61) aborts the
// whole process on some sequences that contain a frame of a length its type never has (an
// RST_STREAM that is not 4 bytes, after a GOAWAY); RFC 9113 makes such a frame, or one longer than
// the 16 KiB we allow, a connection error (FRAME_SIZE_ERROR) anyway. So the frame headers are read
// here and the connection is closed at the first bad one, before nghttp2 sees it. Only the 9-byte
// headers are looked at; payloads pass as they came. node:http2 itself reads a native socket (a
// loopback pair, loopback-pair.ts): over a JS stream it crashes under load. And a frame on which
// node:http2 may destroy its session mid-read is made the last of its read (destroysSession).
import type net from 'node:net';
import { loopbackPair, relay } from './loopback-pair.js';

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

/**
 * Whether node:http2 may destroy its session synchronously on this frame, while nghttp2 goes on
 * with the frames after it in the same read: those then reach streams already torn down, which
 * aborts Node 22 (`onread->IsFunction()`) and corrupts Node 20's heap. Node does so on an
 * unsolicited PING or SETTINGS ACK, on a GOAWAY (at once, or once no stream is left), and on a
 * new stream after it.
 */
function destroysSession(type: number, flags: number, afterGoaway: boolean): boolean {
  return afterGoaway || type === 7 || ((type === 6 || type === 4) && (flags & 1) !== 0);
}

/**
 * Walks a client's bytes (preface, then frames): reports the first frame of a forbidden size, or
 * where node:http2 must have read everything before more is written (after each frame on which it
 * may destroy the session, so that such a frame is the last of its read).
 */
export class H2FrameScanner {
  private prefaceLeft = PREFACE_LENGTH;
  private readonly hdr = Buffer.alloc(9);
  private hdrHave = 0;
  private payloadLeft = 0;
  /** The frame being read is one node:http2 must see last in its read. */
  private barrier = false;
  private goawaySeen = false;

  /** Walks `chunk` (the next bytes of the connection): a size violation, or the barrier offsets in it. */
  scan(chunk: Buffer): string | number[] {
    const barriers: number[] = [];
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
        if (this.payloadLeft === 0 && this.barrier) barriers.push(i);
        continue;
      }
      const n = Math.min(9 - this.hdrHave, chunk.length - i);
      chunk.copy(this.hdr, this.hdrHave, i, i + n);
      this.hdrHave += n;
      i += n;
      if (this.hdrHave < 9) break;
      this.hdrHave = 0;
      const length = this.hdr.readUIntBE(0, 3);
      const type = this.hdr[3]!;
      const flags = this.hdr[4]!;
      const bad = frameSizeProblem(length, type, flags);
      if (bad) return bad;
      this.barrier = destroysSession(type, flags, this.goawaySeen);
      if (type === 7) this.goawaySeen = true;
      this.payloadLeft = length;
      if (length === 0 && this.barrier) barriers.push(i);
    }
    return barriers;
  }
}

/** How long a client's FIN waits for node:http2 to read the bytes before it, at most. */
const TAKEN_WAIT_MS = 1000;

export interface GuardH2Options {
  /** Told why a connection is refused (then it gets GOAWAY FRAME_SIZE_ERROR and is closed). */
  onBad: (why: string) => void;
  /** Gets the native socket to hand to node:http2; not called if the client closed meanwhile. */
  serve: (inner: net.Socket) => void;
  /**
   * The client sent its FIN, and node:http2 has read every byte that came before it (or stopped
   * reading for TAKEN_WAIT_MS: it does after it sent a GOAWAY for a protocol error). The FIN on
   * `inner` is not a substitute: a session that stopped reading never sees it.
   */
  onClientEnd?: () => void;
}

/**
 * Puts the frame check between `socket` (paused or flowing, bytes already read from it unshifted
 * back) and node:http2, which is given a native socket (one end of a loopback pair, so that it does
 * not run over a JS stream) carrying the same bytes both ways, until the first frame whose size
 * RFC 9113 forbids. Nothing is left open: either side's close closes the other.
 */
export function guardH2(socket: net.Socket, opts: GuardH2Options): void {
  socket.on('error', () => undefined);
  loopbackPair().then(
    ([outerEnd, innerEnd]) => {
      if (socket.destroyed) {
        outerEnd.destroy();
        innerEnd.destroy();
        return;
      }
      opts.serve(innerEnd);
      const scanner = new H2FrameScanner();
      relay(socket, outerEnd, {
        check: (chunk) => scanner.scan(chunk),
        taken: () => innerEnd.destroyed || innerEnd.bytesRead >= outerEnd.bytesWritten,
        onRefused: opts.onBad,
        refusal: GOAWAY_FRAME_SIZE_ERROR,
      });
      // The client connection is over (or refused): node:http2's side goes too.
      outerEnd.once('close', () => innerEnd.destroy());
      const onClientEnd = opts.onClientEnd;
      if (onClientEnd) socket.once('end', () => whenReadOrStalled(outerEnd, innerEnd, onClientEnd));
    },
    () => socket.destroy(),
  );
}

/** Calls `then` once `reader` has read what `writer` wrote (or read nothing more for TAKEN_WAIT_MS). */
function whenReadOrStalled(writer: net.Socket, reader: net.Socket, then: () => void): void {
  let last = reader.bytesRead;
  let lastMoved = Date.now();
  const check = () => {
    const read = reader.bytesRead;
    if (read !== last) {
      last = read;
      lastMoved = Date.now();
    }
    if (reader.destroyed || read >= writer.bytesWritten || Date.now() - lastMoved >= TAKEN_WAIT_MS) then();
    else setTimeout(check, 5);
  };
  check();
}
