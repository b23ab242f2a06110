// Header blocks of the HTTP/2 router: what `choose` sees of a stream (the same RequestHead the
// HTTP/1.1 router builds), and the blocks passed on to the other side field for field.
import http2 from 'node:http2';
import { targetPath, type RequestHead } from '@tel/agent-config';

/** A header block as node:http2 takes it; a field sent more than once keeps every value, in order. */
export type HeaderBlock = http2.OutgoingHttpHeaders;

/** The block as it arrived (raw name/value pairs), not node's joined view, so "a, b" stays two fields. */
export function passOn(parsed: http2.IncomingHttpHeaders, raw: string[] | undefined): HeaderBlock {
  const out: HeaderBlock = {};
  if (!raw) Object.assign(out, parsed);
  else {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      const had = out[name];
      if (had === undefined) out[name] = value;
      else if (Array.isArray(had)) had.push(value);
      else out[name] = [String(had), value];
    }
  }
  // Never-indexed fields (e.g. authorization) stay never-indexed on the next hop.
  const sensitive = (parsed as Record<symbol, unknown>)[http2.sensitiveHeaders];
  if (Array.isArray(sensitive) && sensitive.length) (out as Record<symbol, unknown>)[http2.sensitiveHeaders] = sensitive;
  return out;
}

/** RequestHead of a stream: :method, the path of :path, and the regular fields (h2 names are lower-case already). */
export function requestHead(parsed: http2.IncomingHttpHeaders, raw: string[] | undefined): RequestHead {
  const headers = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
  };
  if (raw) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (!name.startsWith(':')) add(name, raw[i + 1] as string);
    }
  } else {
    for (const [name, v] of Object.entries(parsed)) {
      if (name.startsWith(':') || v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [String(v)]) add(name, value);
    }
  }
  // :authority is HTTP/2's Host: a filter on `host` written for HTTP/1.1 matches the same request over h2.
  const authority = parsed[':authority'];
  if (!headers.has('host') && typeof authority === 'string') headers.set('host', [authority]);
  const path = parsed[':path'];
  return {
    method: String(parsed[':method'] ?? ''),
    path: typeof path === 'string' ? targetPath(path) : '',
    headers,
  };
}
