// Hand-built HTTP/2 frames for the agent's tests: what a client with prior knowledge writes
// (preface, SETTINGS, HEADERS with a literal-only HPACK block, DATA, ...), so tests can send
// byte sequences node:http2's own client never would.
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 section 5.1), first byte's high bits in `mask`. */
function hpackInt(value: number, prefixBits: number, mask: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([mask | value]);
  const out = [mask | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** A header block of literal fields without indexing (no Huffman, no dynamic table). */
export function hpackBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => Buffer.concat([Buffer.from([0]), hpackString(n), hpackString(v)])));
}

export function settings(values: [number, number][] = []): Buffer {
  const p = Buffer.alloc(values.length * 6);
  values.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A request's HEADERS (split into CONTINUATIONs when `splitAt` is given) and its DATA frames. */
export function requestFrames(streamId: number, fields: [string, string][], body?: Buffer, splitAt?: number): Buffer[] {
  const block = hpackBlock(fields);
  const endStream = body === undefined ? FLAG.END_STREAM : 0;
  const out: Buffer[] = [];
  if (splitAt !== undefined && splitAt > 0 && splitAt < block.length) {
    out.push(frame(FRAME.HEADERS, endStream, streamId, block.subarray(0, splitAt)));
    out.push(frame(FRAME.CONTINUATION, FLAG.END_HEADERS, streamId, block.subarray(splitAt)));
  } else out.push(frame(FRAME.HEADERS, endStream | FLAG.END_HEADERS, streamId, block));
  if (body !== undefined) out.push(frame(FRAME.DATA, FLAG.END_STREAM, streamId, body));
  return out;
}
