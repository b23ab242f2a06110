// HTTP/1.1 message framing for the agent's per-request router: where a request or response head
// ends, what it says, and where its body ends (RFC 9112 section 6). Strict on purpose: anything
// ambiguous (Content-Length with Transfer-Encoding, differing lengths, obs-fold) is an error, so
// the router never splits a byte stream differently from how the app would read it.
import { targetPath, type RequestHead } from '@tel/agent-config';

/** A head larger than this is not HTTP the router will read. */
export const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values: visible ASCII, SP, HTAB and obs-text; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export type Framing = { type: 'length'; n: number } | { type: 'chunked' } | { type: 'close' };

export interface ParsedRequest {
  req: RequestHead;
  /** Upgrade (with Connection: upgrade) or CONNECT: after this head the connection is a pipe. */
  tunnel: boolean;
  framing: Framing;
}

export interface ParsedResponse {
  status: number;
  /** 1xx other than 101: another head follows for the same request. */
  interim: boolean;
  /** 101, or 2xx to CONNECT: the connection is a pipe from here on. */
  tunnel: boolean;
  framing: Framing;
  /** The server will close after this response (Connection: close, or 1.0 without keep-alive). */
  closes: boolean;
}

export type HeadResult<T> = { incomplete: true } | { error: string } | { head: T; length: number };

function splitHead(buf: Buffer): HeadResult<{ start: string; fields: Map<string, string[]> }> {
  let skip = 0;
  // A server ought to ignore empty lines before a request line (RFC 9112 section 2.2).
  while (buf[skip] === 0x0d && buf[skip + 1] === 0x0a) skip += 2;
  const end = buf.indexOf(CRLF2, skip);
  if (end < 0) return buf.length - skip > MAX_HEAD ? { error: `head longer than ${MAX_HEAD} bytes` } : { incomplete: true };
  if (end - skip > MAX_HEAD) return { error: `head longer than ${MAX_HEAD} bytes` };
  const lines = buf.toString('latin1', skip, end).split('\r\n');
  const fields = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `bad header line ${JSON.stringify(line.slice(0, 40))}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { error: `bad header name ${JSON.stringify(name.slice(0, 40))}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return { error: `bad value for header ${name}` };
    const key = name.toLowerCase();
    const list = fields.get(key);
    if (list) list.push(value);
    else fields.set(key, [value]);
  }
  const start = lines[0] ?? '';
  if (start.includes('\n')) return { error: 'bare LF in start line' };
  return { head: { start, fields }, length: end + 4 };
}

function commaList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
}

/** The one Content-Length all fields agree on, or an error; undefined when there is none. */
function contentLength(values: string[] | undefined): number | undefined | Error {
  const all = commaList(values);
  if (all.length === 0) return undefined;
  const first = all[0] ?? '';
  if (!all.every((v) => v === first) || !/^\d{1,15}$/.test(first)) return new Error(`bad Content-Length ${JSON.stringify(values?.join(','))}`);
  return Number(first);
}

function isTunnelRequest(method: string, fields: Map<string, string[]>): boolean {
  return method === 'CONNECT' || (fields.has('upgrade') && commaList(fields.get('connection')).includes('upgrade'));
}

export function parseRequestHead(buf: Buffer): HeadResult<ParsedRequest> {
  const r = splitHead(buf);
  if (!('head' in r)) return r;
  const { start, fields } = r.head;
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e\x80-\xff]+) HTTP\/1\.([01])$/.exec(start);
  if (!m) return { error: `bad request line ${JSON.stringify(start.slice(0, 60))}` };
  const method = m[1] ?? '';
  const target = m[2] ?? '';
  const minor = m[3];
  const te = commaList(fields.get('transfer-encoding'));
  const cl = contentLength(fields.get('content-length'));
  if (cl instanceof Error) return { error: cl.message };
  let framing: Framing = { type: 'length', n: cl ?? 0 };
  if (te.length > 0) {
    // Both framings at once is how requests are smuggled past a router: refuse to choose.
    if (cl !== undefined) return { error: 'both Transfer-Encoding and Content-Length' };
    if (minor === '0' || te[te.length - 1] !== 'chunked') return { error: `request Transfer-Encoding ${JSON.stringify(te.join(', '))} has no final chunked` };
    framing = { type: 'chunked' };
  }
  const req: RequestHead = { method, path: targetPath(target), headers: fields };
  return { head: { req, tunnel: isTunnelRequest(method, fields), framing }, length: r.length };
}

/** `requestMethod` decides HEAD's and CONNECT's answers. */
export function parseResponseHead(buf: Buffer, requestMethod: string): HeadResult<ParsedResponse> {
  const r = splitHead(buf);
  if (!('head' in r)) return r;
  const { start, fields } = r.head;
  const m = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/.exec(start);
  if (!m) return { error: `bad status line ${JSON.stringify(start.slice(0, 60))}` };
  const status = Number(m[2]);
  const conn = commaList(fields.get('connection'));
  const closes = conn.includes('close') || (m[1] === '0' && !conn.includes('keep-alive'));
  const base = { status, closes, interim: false, tunnel: false };
  if (status === 101 || (requestMethod === 'CONNECT' && status >= 200 && status < 300)) {
    return { head: { ...base, tunnel: true, framing: { type: 'close' } }, length: r.length };
  }
  if (status < 200) return { head: { ...base, interim: true, framing: { type: 'length', n: 0 } }, length: r.length };
  if (requestMethod === 'HEAD' || status === 204 || status === 304) return { head: { ...base, framing: { type: 'length', n: 0 } }, length: r.length };
  const te = commaList(fields.get('transfer-encoding'));
  if (te.length > 0) {
    // A response not ending in chunked runs until the close (RFC 9112 section 6.3 item 4).
    const framing: Framing = te[te.length - 1] === 'chunked' ? { type: 'chunked' } : { type: 'close' };
    return { head: { ...base, framing, closes: closes || framing.type === 'close' }, length: r.length };
  }
  const cl = contentLength(fields.get('content-length'));
  if (cl instanceof Error) return { error: cl.message };
  if (cl === undefined) return { head: { ...base, framing: { type: 'close' }, closes: true }, length: r.length };
  return { head: { ...base, framing: { type: 'length', n: cl } }, length: r.length };
}

type ChunkState = 'size' | 'data' | 'dataEnd' | 'trailer';

/** Finds where a body ends in the bytes fed to it, chunk by chunk; never copies the body. */
export class BodyFramer {
  done: boolean;
  private remaining = 0;
  private state: ChunkState = 'size';
  private line = '';
  private trailerBytes = 0;

  constructor(readonly framing: Framing) {
    if (framing.type === 'length') this.remaining = framing.n;
    this.done = framing.type === 'length' && framing.n === 0;
  }

  /** How many bytes of `buf` from `start` belong to the body (the rest is the next message), or an error. */
  feed(buf: Buffer, start = 0): number | Error {
    if (this.done) return 0;
    const avail = buf.length - start;
    if (this.framing.type === 'close') return avail;
    if (this.framing.type === 'length') {
      const n = Math.min(avail, this.remaining);
      this.remaining -= n;
      this.done = this.remaining === 0;
      return n;
    }
    let pos = start;
    while (pos < buf.length && !this.done) {
      if (this.state === 'data') {
        const n = Math.min(buf.length - pos, this.remaining);
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'dataEnd';
        continue;
      }
      const nl = buf.indexOf(0x0a, pos);
      const stop = nl < 0 ? buf.length : nl + 1;
      this.line += buf.toString('latin1', pos, stop);
      if (this.state === 'trailer' && (this.trailerBytes += stop - pos) > MAX_HEAD) return new Error('chunked trailers too long');
      pos = stop;
      if (nl < 0) {
        if (this.line.length > (this.state === 'trailer' ? MAX_HEAD : MAX_CHUNK_LINE)) return new Error('chunk line too long');
        continue;
      }
      const line = this.line;
      this.line = '';
      if (!line.endsWith('\r\n')) return new Error('bare LF in chunked body');
      const err = this.onLine(line.slice(0, -2));
      if (err) return err;
    }
    return pos - start;
  }

  private onLine(line: string): Error | undefined {
    switch (this.state) {
      case 'size': {
        const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
        if (!m) return new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        this.remaining = parseInt(m[1] ?? '0', 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
        return undefined;
      }
      case 'dataEnd':
        if (line !== '') return new Error('chunk data not followed by CRLF');
        this.state = 'size';
        return undefined;
      case 'trailer':
        if (line === '') this.done = true;
        return undefined;
      default:
        return undefined;
    }
  }
}
