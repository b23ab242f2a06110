// Boundary: user daemon → traffic manager API (the contract in @tel/contracts manager/), over
// HTTP/2 cleartext on the port-forward unix socket. The typed client is derived from the contract's
// route table; every unary call is bounded by timeouts.trafficManagerAPI.
import http2 from 'node:http2';
import net from 'node:net';
import {
  JSON_CONTENT_TYPE,
  MANAGER_ROUTES,
  type ManagerContract,
  type ManagerErrorBody,
  type ManagerErrorCode,
  type UnaryNames,
  type WatchNames,
} from '@tel/contracts';
import { TelError, clusterError, type ErrorCategory } from '@tel/errors';
import { timeoutError, withTimeout } from './timeouts.js';

type C = ManagerContract;
/** A running watch: `done` settles when the stream ends (resolves on cancel, rejects on failure). */
export interface WatchHandle {
  cancel(): void;
  readonly done: Promise<void>;
}

/** One function per contract method: unary ones return the answer, watches a handle. */
export type ManagerClient = { [K in UnaryNames<C>]: (req: C[K]['req']) => Promise<C[K]['res']> } & {
  [K in WatchNames<C>]: (req: C[K]['req'], onEvent: (event: C[K]['event']) => void) => WatchHandle;
};

/** An error the manager answered with; `code` says what the client should do about it. */
export class ManagerApiError extends TelError {
  constructor(
    readonly code: ManagerErrorCode,
    category: ErrorCategory,
    message: string,
    hint: string,
  ) {
    super(category, message, hint);
  }
}

/**
 * A call that got no answer: the connection broke (the manager pod restarting, the port-forward
 * re-dialling) or the call timed out. The manager may or may not have applied it.
 */
export class NoAnswerError extends TelError {}

export function isUnknownSession(err: unknown): boolean {
  return err instanceof ManagerApiError && err.code === 'unknown-session';
}

export class ManagerApi {
  private session: http2.ClientHttp2Session | undefined;
  /** Date.now() of the manager's last complete answer (any status), for `telepresence status`. */
  lastAnswerAt: number | undefined;
  /** The contract's methods, derived from its route table. */
  readonly client: ManagerClient;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs: number,
    private readonly configFile: string,
  ) {
    const client: Record<string, unknown> = {};
    for (const [name, route] of Object.entries(MANAGER_ROUTES)) {
      client[name] = route.kind === 'watch' ? (req: unknown, onEvent: (e: unknown) => void) => this.watch(name as WatchNames<C>, req as never, onEvent) : (req: unknown) => this.call(name as UnaryNames<C>, req as never);
    }
    this.client = client as ManagerClient;
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  private connection(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect('http://traffic-manager', { createConnection: () => net.connect(this.socketPath) });
    s.on('error', () => undefined); // surfaced per request
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  private request(name: string, req: unknown): { stream: http2.ClientHttp2Stream; what: string } {
    const route = MANAGER_ROUTES[name as keyof C];
    const http = route.kind === 'watch' ? 'POST' : route.http;
    const stream = this.connection().request({ ':method': http, ':path': route.path, ...(http === 'POST' ? { 'content-type': JSON_CONTENT_TYPE } : {}) });
    stream.end(http === 'POST' ? JSON.stringify(req ?? {}) : undefined);
    return { stream, what: `${name} (${http} ${route.path})` };
  }

  private failure(what: string, e: Error): TelError {
    return new NoAnswerError('cluster', `the traffic manager API failed on ${what}: ${e.message}`, 'check the traffic manager with kubectl logs');
  }

  /** Builds the error of a non-200 answer from its JSON body ({error: {category, message, hint, code}}). */
  private answerError(what: string, status: number, body: string): TelError {
    try {
      const e = (JSON.parse(body) as ManagerErrorBody).error;
      if (e && typeof e.message === 'string' && typeof e.code === 'string') return new ManagerApiError(e.code, e.category, e.message, e.hint ?? '');
    } catch {
      // not a contract error body: report the status below
    }
    return clusterError(`the traffic manager answered ${status} to ${what}: ${body.trim().slice(0, 200)}`, 'check that the traffic manager matches this client version');
  }

  /** One unary call, bounded by timeouts.trafficManagerAPI (or `opts.timeoutMs` when shorter). */
  call<K extends UnaryNames<C>>(name: K, req: C[K]['req'], opts: { timeoutMs?: number } = {}): Promise<C[K]['res']> {
    const timeoutMs = Math.min(this.timeoutMs, opts.timeoutMs ?? Infinity);
    let stream: http2.ClientHttp2Stream | undefined;
    let what = String(name);
    const call = new Promise<C[K]['res']>((resolve, reject) => {
      const session = this.connection();
      const onSessionError = (e: Error) => reject(this.failure(what, e));
      session.once('error', onSessionError);
      ({ stream, what } = this.request(name, req));
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (d: string) => (body += d));
      stream.on('error', (e) => reject(this.failure(what, e)));
      stream.on('end', () => {
        session.off('error', onSessionError);
        this.lastAnswerAt = Date.now();
        // No response headers: the stream ended with the connection (a manager pod going away).
        if (status === 0) return reject(new NoAnswerError('cluster', `the traffic manager closed the connection before answering ${what}`, 'check the traffic manager with kubectl logs'));
        if (status !== 200) return reject(this.answerError(what, status, body));
        try {
          resolve(JSON.parse(body) as C[K]['res']);
        } catch {
          reject(clusterError(`the traffic manager sent invalid JSON for ${what}`, 'check that the traffic manager matches this client version'));
        }
      });
    });
    const noAnswer = (e: TelError) => new NoAnswerError(e.category, e.message, e.hint);
    return withTimeout(call, timeoutMs, () => noAnswer(timeoutError('trafficManagerAPI', timeoutMs, this.configFile, what)), () => {
      stream?.close(http2.constants.NGHTTP2_CANCEL);
      // A stuck connection is useless for the next call too.
      this.session?.destroy();
      this.session = undefined;
    });
  }

  /** Starts a watch: `onEvent` gets each event (the first is the current state) until cancel. */
  watch<K extends WatchNames<C>>(name: K, req: C[K]['req'], onEvent: (event: C[K]['event']) => void): WatchHandle {
    const { stream, what } = this.request(name, req);
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      let status = 0;
      let buf = '';
      let errBody = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => {
        status = Number(h[':status']);
        this.lastAnswerAt = Date.now();
      });
      stream.on('data', (d: string) => {
        if (status !== 200) return void (errBody += d);
        this.lastAnswerAt = Date.now();
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          try {
            onEvent(JSON.parse(line) as C[K]['event']);
          } catch (err) {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            return reject(clusterError(`the traffic manager sent a malformed event on ${what}: ${err instanceof Error ? err.message : String(err)}`, 'check that the traffic manager matches this client version'));
          }
        }
      });
      stream.on('error', (e) => (cancelled ? resolve() : reject(this.failure(what, e))));
      stream.on('close', () => {
        if (cancelled) return resolve();
        if (status !== 200) return reject(this.answerError(what, status, errBody));
        reject(clusterError(`the traffic manager ended ${what}`, 'check the traffic manager with kubectl logs'));
      });
    });
    done.catch(() => undefined); // callers that only cancel need not handle it
    return {
      cancel: () => {
        cancelled = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      },
      done,
    };
  }
}
