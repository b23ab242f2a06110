// The manager's route table, built from a cluster-facing contract (@tel/contracts manager/): every
// method needs a handler of the right kind or the table does not compile. Unary methods are JSON
// in, JSON out; watches stream NDJSON events until the client cancels; raw routes get the stream.
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import {
  JSON_CONTENT_TYPE,
  NDJSON_CONTENT_TYPE,
  TUNNEL_ERROR_HEADER,
  type ManagerErrorBody,
  type ManagerErrorCode,
  type RouteTable,
  type Unary,
  type Watch,
} from '@tel/contracts';
import { TelError, toErrorInfo, type ErrorCategory } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { headerSafe } from './address.js';

/** Where a watch handler sends its events; `signal` aborts when the client cancels the stream. */
export interface WatchSink<Event> {
  send(event: Event): void;
  readonly signal: AbortSignal;
}

/** What a handler may know of the call besides its body (agents' calls carry their token in a header). */
export interface CallContext {
  headers: IncomingHttpHeaders;
}

export type UnaryHandler<Req, Res> = (req: Req, ctx: CallContext) => Res | Promise<Res>;
/** Sends the current state at once, then every change until `sink.signal` aborts. */
export type WatchHandler<Req, Event> = (req: Req, sink: WatchSink<Event>) => void;

/** One handler per contract method, of the method's kind. */
export type Handlers<C> = {
  [K in keyof C]: C[K] extends Watch<infer Req, infer Event> ? WatchHandler<Req, Event> : C[K] extends Unary<infer Req, infer Res> ? UnaryHandler<Req, Res> : never;
};

/** A raw route handler owns the stream (headers, body, answer). */
export type RawHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** Thrown by handlers to answer with a machine-readable code the client acts on. */
export class RequestError extends TelError {
  constructor(
    readonly code: ManagerErrorCode,
    category: ErrorCategory,
    message: string,
    hint = '',
  ) {
    super(category, message, hint);
  }
}

const STATUS: Record<ManagerErrorCode, number> = { 'unknown-session': 404, 'bad-request': 400, 'no-such-route': 404, unauthenticated: 401, internal: 500 };
/** Requests are small JSON objects; anything bigger is a broken or hostile client. */
const MAX_BODY = 1 << 20;

export type Router = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

interface Entry {
  kind: 'unary' | 'watch' | 'raw';
  name: string;
  handler: (...args: any[]) => unknown;
}

/**
 * Builds the dispatcher: `routes` (from the contract) + `handlers` for each method, and the raw
 * routes by method and path. Anything else is answered 404 with a JSON error body.
 */
export function createRouter<C>(
  routes: RouteTable<C>,
  handlers: Handlers<C>,
  raw: Record<string, { route: { http: string; path: string }; handler: RawHandler }>,
  log: Logger,
): Router {
  const table = new Map<string, Entry>();
  const add = (key: string, e: Entry) => {
    if (table.has(key)) throw new Error(`two manager routes on ${key}`);
    table.set(key, e);
  };
  for (const name of Object.keys(routes) as (keyof C & string)[]) {
    const r = routes[name] as { kind: 'unary' | 'watch'; http?: string; path: string };
    add(`${r.kind === 'watch' ? 'POST' : r.http} ${r.path}`, { kind: r.kind, name, handler: handlers[name] as Entry['handler'] });
  }
  for (const [name, { route, handler }] of Object.entries(raw)) add(`${route.http} ${route.path}`, { kind: 'raw', name, handler });

  return (stream, headers) => {
    stream.on('error', () => undefined); // each handler reports its own; never crash the server
    const key = `${headers[':method']} ${headers[':path'] ?? ''}`;
    const e = table.get(key);
    if (!e) return fail(stream, new RequestError('no-such-route', 'bug', `no such manager route ${key}`, 'the client and the manager disagree on the API; check their versions'));
    if (e.kind === 'raw') return void e.handler(stream, headers);
    readJson(stream, headers[':method'] === 'GET').then(
      (req) => {
        if (e.kind === 'unary') {
          Promise.resolve()
            .then(() => e.handler(req, { headers }))
            .then(
              (res) => respond(stream, 200, JSON_CONTENT_TYPE, JSON.stringify(res ?? {})),
              (err: unknown) => {
                if (!(err instanceof RequestError)) log.error(`${e.name} failed`, { error: err instanceof Error ? err.message : String(err) });
                fail(stream, err);
              },
            );
          return;
        }
        watch(stream, e, req, log);
      },
      (err: unknown) => fail(stream, err),
    );
  };
}

function watch(stream: ServerHttp2Stream, e: Entry, req: unknown, log: Logger): void {
  const abort = new AbortController();
  stream.once('close', () => abort.abort());
  stream.respond({ ':status': 200, 'content-type': NDJSON_CONTENT_TYPE });
  const sink: WatchSink<unknown> = {
    send: (event) => {
      if (!stream.destroyed && !stream.writableEnded) stream.write(JSON.stringify(event) + '\n');
    },
    signal: abort.signal,
  };
  try {
    e.handler(req, sink);
  } catch (err) {
    log.error(`${e.name} failed`, { error: err instanceof Error ? err.message : String(err) });
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

function respond(stream: ServerHttp2Stream, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status, 'content-type': contentType, ...extra });
  stream.end(body);
}

function fail(stream: ServerHttp2Stream, err: unknown): void {
  const info = toErrorInfo(err);
  const code: ManagerErrorCode = err instanceof RequestError ? err.code : 'internal';
  const body: ManagerErrorBody = { error: { ...info, code } };
  respond(stream, STATUS[code], JSON_CONTENT_TYPE, JSON.stringify(body), { [TUNNEL_ERROR_HEADER]: headerSafe(info.message) });
}

/** The request object: `{}` for GET, else the JSON body (an object; anything else is refused). */
function readJson(stream: ServerHttp2Stream, isGet: boolean): Promise<unknown> {
  if (isGet) {
    stream.resume();
    return Promise.resolve({});
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new RequestError('bad-request', 'bug', `request body over ${MAX_BODY} bytes`));
        stream.pause();
      } else chunks.push(c);
    });
    stream.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const v: unknown = text.trim() === '' ? {} : JSON.parse(text);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v);
      } catch {
        reject(new RequestError('bad-request', 'bug', 'the request body is not a JSON object', 'the client and the manager disagree on the API; check their versions'));
      }
    });
  });
}
