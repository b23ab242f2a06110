// Generators for the agent's HTTP router fuzz (http-fuzz.spec.ts): seeded, so a failing case can be
// replayed; valid HTTP/1.1 requests and HTTP/2 frame sequences, then mutated byte- and frame-wise.
import { FLAG, FRAME, frame, hpackBlock, PREFACE, requestFrames, settings, u32 } from './h2-frames.js';

/** A small seeded PRNG (mulberry32). */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PRI', 'get', 'G\x00T'];
const PATHS = ['/', '/x', '/alice/x', '/alice', '/%61lice/y', '/x?q=/alice/', 'http://h/alice/z', '*', '/a%zz', '//alice/'];
const HEADER_NOISE = ['x-dev: alice', 'x-dev: bob', 'X-DEV: alice', 'x-dev:alice', 'x-dev: alice ', 'x-dev: ali\x00ce', 'x-dev alice', 'Connection: close', 'Connection: keep-alive', 'Expect: 100-continue', 'Upgrade: websocket\r\nConnection: upgrade', 'Transfer-Encoding: gzip, chunked', 'Content-Length: 3\r\nContent-Length: 4', ' folded', 'Host: a\r\nHost: b', 'x-big: ' + 'y'.repeat(3000)];

/** One valid HTTP/1.1 request, sometimes with a body (Content-Length or chunked). */
export function http1Request(r: Rng): Buffer {
  const method = r.pick(['GET', 'GET', 'POST', 'PUT', 'HEAD', 'DELETE']);
  const path = r.pick(['/x', '/alice/x', '/y?z=1', '/']);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: fuzz'];
  if (r.chance(0.4)) lines.push('x-dev: alice');
  if (r.chance(0.2)) lines.push(`x-n: ${r.int(1000)}`);
  let body = '';
  if (method === 'POST' || method === 'PUT') {
    const data = 'b'.repeat(r.int(40));
    if (r.chance(0.5)) {
      lines.push(`Content-Length: ${data.length}`);
      body = data;
    } else {
      lines.push('Transfer-Encoding: chunked');
      body = data.length ? `${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n` : '0\r\n\r\n';
    }
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** `n` requests on one connection, then 1-3 mutations of the bytes or the request lines. */
export function mutatedHttp1(r: Rng, n: number): Buffer {
  let b: Buffer = Buffer.concat(Array.from({ length: n }, () => http1Request(r)));
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) b = mutateHttp1Once(r, b);
  return b;
}

function mutateHttp1Once(r: Rng, b: Buffer): Buffer {
  const at = b.length ? r.int(b.length) : 0;
  switch (r.int(11)) {
    case 0: // flip a bit
      if (b.length) b[at] = (b[at] as number) ^ (1 << r.int(8));
      return b;
    case 1: // a random byte
      if (b.length) b[at] = r.int(256);
      return b;
    case 2: // insert noise
      return Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)]);
    case 3: // delete a run
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(16)))]);
    case 4: // cut short
      return b.subarray(0, at);
    case 5: { // CRLF → LF, or a bare CR
      const i = b.indexOf('\r\n', at);
      if (i < 0) return b;
      return Buffer.concat([b.subarray(0, i), Buffer.from(r.pick(['\n', '\r', '\r\r\n', '\n\r'])), b.subarray(i + 2)]);
    }
    case 6: { // a header line of trouble after the first line
      const i = b.indexOf('\r\n');
      if (i < 0) return b;
      return Buffer.concat([b.subarray(0, i + 2), Buffer.from(`${r.pick(HEADER_NOISE)}\r\n`, 'latin1'), b.subarray(i + 2)]);
    }
    case 7: { // another method or target
      const sp = b.indexOf(' ');
      if (sp < 0) return b;
      const sp2 = b.indexOf(' ', sp + 1);
      if (r.chance(0.5) || sp2 < 0) return Buffer.concat([Buffer.from(r.pick(METHODS), 'latin1'), b.subarray(sp)]);
      return Buffer.concat([b.subarray(0, sp + 1), Buffer.from(r.pick(PATHS), 'latin1'), b.subarray(sp2)]);
    }
    case 8: { // a length that lies
      const i = b.indexOf('Content-Length: ');
      if (i < 0) return Buffer.concat([b, Buffer.from('POST /alice/p HTTP/1.1\r\nContent-Length: 99\r\n\r\nshort')]);
      const end = b.indexOf('\r\n', i);
      return Buffer.concat([b.subarray(0, i + 16), Buffer.from(r.pick(['0', '-1', '999999', '1e3', ' 5', '0x10', '18446744073709551616'])), b.subarray(end)]);
    }
    case 9: { // a chunk size that lies
      const i = b.indexOf('chunked\r\n\r\n');
      if (i < 0) return b;
      return Buffer.concat([b.subarray(0, i + 11), Buffer.from(r.pick(['zz\r\n', 'fffffffffffffffff\r\n', '5;\r\nabc\r\n', '-1\r\n', '\r\n'])), b.subarray(i + 11)]);
    }
    default: // a duplicate of a slice
      return Buffer.concat([b, b.subarray(at, at + r.int(64))]);
  }
}

const PSEUDO_NOISE: [string, string][] = [
  [':method', 'GET'],
  [':path', ''],
  [':path', 'alice'],
  [':status', '200'],
  [':protocol', 'websocket'],
  ['connection', 'keep-alive'],
  ['te', 'gzip'],
  ['X-Upper', 'v'],
  ['x-dev', 'alice'],
  ['x-dev', 'ali\r\nce'],
  ['host', 'h'],
  ['content-length', '5'],
  [':scheme', ''],
];

/** A valid HTTP/2 client connection's frames: SETTINGS, then 1-4 requests (some split, some with bodies) and control frames. */
export function http2Frames(r: Rng): Buffer[] {
  const frames: Buffer[] = [settings(r.chance(0.5) ? [[4, 65535 + r.int(1 << 20)]] : [])];
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const id = 1 + 2 * i;
    const post = r.chance(0.4);
    const fields: [string, string][] = [
      [':method', post ? 'POST' : 'GET'],
      [':scheme', 'http'],
      [':path', r.pick(['/x', '/alice/x', '/y?q=1', '/svc.Greeter/Unary'])],
      [':authority', 'fuzz'],
    ];
    if (r.chance(0.4)) fields.push(['x-dev', 'alice']);
    if (r.chance(0.2)) fields.push(['content-type', 'application/grpc']);
    const body = post ? r.bytes(r.int(64)) : undefined;
    frames.push(...requestFrames(id, fields, body, r.chance(0.2) ? 1 + r.int(20) : undefined));
    if (r.chance(0.15)) frames.push(frame(FRAME.WINDOW_UPDATE, 0, r.pick([0, id]), u32(1 + r.int(1 << 16))));
    if (r.chance(0.05)) frames.push(frame(FRAME.RST_STREAM, 0, id, u32(8)));
    if (r.chance(0.05)) frames.push(frame(FRAME.PING, 0, 0, r.bytes(8)));
    if (r.chance(0.05)) frames.push(frame(FRAME.PRIORITY, 0, id, Buffer.concat([u32(0), Buffer.from([16])])));
  }
  if (r.chance(0.1)) frames.push(frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(0)])));
  return frames;
}

/** The preface (kept valid, else it would not be HTTP/2 at all), then mutated frames. */
export function mutatedHttp2(r: Rng): Buffer {
  const frames = http2Frames(r);
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) mutateFrames(r, frames);
  return Buffer.concat([PREFACE, ...frames]);
}

function mutateFrames(r: Rng, frames: Buffer[]): void {
  const i = r.int(frames.length);
  const f = frames[i] as Buffer;
  if (f.length < 9) {
    // A frame cut short earlier: only appended noise changes it now.
    frames.push(r.bytes(1 + r.int(12)));
    return;
  }
  switch (r.int(12)) {
    case 0: // a bit anywhere in the frame
      f[r.int(f.length)] = (f[r.int(f.length)] as number) ^ (1 << r.int(8));
      return;
    case 1: // the length field lies
      f.writeUIntBE(r.pick([0, 1, f.length - 9 + 1, r.int(1 << 24), 16385]) & 0xffffff, 0, 3);
      return;
    case 2: // another type
      f[3] = r.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff]);
      return;
    case 3: // other flags
      f[4] = r.int(256);
      return;
    case 4: // another stream
      f.writeUInt32BE(r.pick([0, 2, 3, 0x7fffffff, 0x80000001, r.int(100)]) >>> 0, 5);
      return;
    case 5: // HPACK garbage in place of a header block
      frames[i] = frame(FRAME.HEADERS, FLAG.END_HEADERS | (r.chance(0.5) ? FLAG.END_STREAM : 0), 1 + 2 * r.int(4), r.bytes(1 + r.int(40)));
      return;
    case 6: // odd (but encodable) fields in a header block
      frames[i] = frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1 + 2 * r.int(4), hpackBlock([r.pick(PSEUDO_NOISE), [':method', 'GET'], [':path', '/alice/p'], [':scheme', 'http'], r.pick(PSEUDO_NOISE)]));
      return;
    case 7: // a frame twice
      frames.splice(i, 0, Buffer.from(f));
      return;
    case 8: // frames out of order
      frames.splice(r.int(frames.length), 0, ...frames.splice(i, 1));
      return;
    case 9: // cut short
      frames[i] = f.subarray(0, r.int(f.length));
      frames.length = i + 1;
      return;
    case 10: // a stray control frame
      frames.splice(i, 0, frame(r.pick([FRAME.WINDOW_UPDATE, FRAME.RST_STREAM, FRAME.GOAWAY, FRAME.SETTINGS, FRAME.CONTINUATION, FRAME.PING]), r.int(2), r.pick([0, 1, 3]), r.bytes(r.pick([0, 4, 6, 8, 3]))));
      return;
    default: // a random byte in the payload
      if (f.length > 9) f[9 + r.int(f.length - 9)] = r.int(256);
  }
}
