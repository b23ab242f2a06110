// The agent's HTTP router for a client connection of an intercepted port with a personal intercept:
// it looks at the first bytes only as long as it takes to tell the HTTP/2 preface (prior
// knowledge, gRPC) from anything else, then hands the connection, bytes put back, to the HTTP/2
// or the HTTP/1.1 router (which turns bytes it can't parse, e.g. a TLS ClientHello, into a raw
// pipe to the app). A client silent at first may be waiting for a server that speaks first.
import type net from 'node:net';
import { APP_TARGET, routeHttp1, type Http1RouteOptions, type Target, type UpstreamSocket } from './http1/index.js';
import { H2_PREFACE, routeHttp2, type Http2Tuning } from './http2/index.js';

/** What a connection's router needs: where each request goes, and how to reach it. */
export type HttpRouteOptions = Http1RouteOptions;

/**
 * How long a client may say nothing before the app is dialled to see whether it speaks first
 * (MySQL, SMTP, ...). Short enough not to stall such a protocol noticeably; a client that speaks
 * later is still routed (it gets the connection dialled here as its first one to the app).
 */
export const CLIENT_SILENCE_MS = 300;

const EMPTY = Buffer.alloc(0);
const noop = () => undefined;

type Verdict = 'h2' | 'http1' | 'raw' | 'wait';

/** Token bytes waited for before a space; past this the HTTP/1.1 router decides (and bounds what it reads). */
const METHOD_MAX = 32;

// RFC 9110 tchar: what a request method is made of.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/**
 * h2 once all 24 preface bytes are in; http1 once a method and its space are in; raw at the first
 * byte no request line can start with (a TLS ClientHello's 0x16, a binary protocol's length), as
 * the HTTP/1.1 router would otherwise wait for a head's end that never comes; else wait.
 */
export function sniff(first: Buffer): Verdict {
  const n = Math.min(first.length, H2_PREFACE.length);
  if (n === 0) return 'wait';
  if (first.compare(H2_PREFACE, 0, n, 0, n) === 0) return n === H2_PREFACE.length ? 'h2' : 'wait';
  let i = 0;
  // Empty lines before a request line are allowed (RFC 9112 section 2.2).
  while (first[i] === 0x0d && first[i + 1] === 0x0a) i += 2;
  if (i === first.length - 1 && first[i] === 0x0d) return 'wait';
  const method = i;
  for (; i < first.length; i++) {
    const b = first[i] as number;
    if (b === 0x20) return i > method ? 'http1' : 'raw';
    if (!TCHAR[b]) return 'raw';
    // No method is this long, but it could still be a head the HTTP/1.1 router reads (and bounds).
    if (i - method >= METHOD_MAX) return 'http1';
  }
  return 'wait';
}

/** Timings tests shorten; production uses the defaults. */
export interface HttpRouteTuning {
  /** CLIENT_SILENCE_MS by default. */
  silenceMs?: number;
  h2?: Http2Tuning;
}

/** Takes over `client` (accepted paused, allowHalfOpen) and routes it as HTTP/2 or HTTP/1.1. */
export function routeHttp(client: net.Socket, opts: HttpRouteOptions, tuning: HttpRouteTuning = {}): void {
  new Sniffer(client, opts, tuning).start();
}

class Sniffer {
  private first: Buffer = EMPTY;
  private decided = false;
  private timer: NodeJS.Timeout | undefined;
  /** The app connection dialled while the client was silent, for the app to speak first on, or the client's first request. */
  private silentApp: Promise<UpstreamSocket> | undefined;
  private readonly onReadable = () => this.read();
  private silentAppListener: { app: UpstreamSocket; fn: () => void } | undefined;

  constructor(
    private readonly client: net.Socket,
    private readonly opts: HttpRouteOptions,
    private readonly tuning: HttpRouteTuning,
  ) {}

  start(): void {
    const c = this.client;
    c.on('error', noop);
    c.on('readable', this.onReadable);
    // The client's FIN before a decision can only be read here: what it sent goes to the app as is.
    c.once('end', () => this.decided || this.decide('raw'));
    c.once('close', () => {
      this.stopTimer();
      if (!this.decided) {
        this.decided = true;
        void this.silentApp?.then((s) => s.destroy(), noop);
      }
    });
    this.timer = setTimeout(() => this.onSilence(), this.tuning.silenceMs ?? CLIENT_SILENCE_MS);
  }

  private read(): void {
    if (this.decided) return;
    let chunk: Buffer | null;
    while ((chunk = this.client.read() as Buffer | null) !== null) {
      this.first = this.first.length ? Buffer.concat([this.first, chunk]) : chunk;
    }
    const v = sniff(this.first);
    if (v !== 'wait') this.decide(v);
    else if (this.first.length) this.stopTimer(); // the client speaks first: no need to ask the app
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onSilence(): void {
    this.timer = undefined;
    if (this.decided || this.first.length) return;
    const pending = this.opts.connect(APP_TARGET);
    this.silentApp = pending;
    pending.then(
      (app) => {
        app.on('error', noop);
        if (this.decided) {
          if (this.silentApp !== pending) return; // taken as the first app connection
          return void app.destroy();
        }
        // Bytes from the app before any from the client: a server-speaks-first protocol, not HTTP.
        const fn = () => {
          if (!this.decided && this.silentApp === pending) this.decide('raw');
        };
        // Removed before a router takes the socket: a 'readable' listener would keep it from flowing.
        this.silentAppListener = { app, fn };
        app.once('readable', fn);
      },
      (err: Error) => {
        this.opts.log.debug('http: the app refused a connection', { error: err.message });
        if (this.silentApp === pending) this.silentApp = undefined;
      },
    );
  }

  private decide(v: 'h2' | 'http1' | 'raw'): void {
    this.decided = true;
    this.stopTimer();
    const c = this.client;
    c.off('readable', this.onReadable);
    if (v === 'raw') return this.pipeToApp();
    // Put back before 'end' can be emitted: the router reads them, then the FIN, as if first.
    if (this.first.length) c.unshift(this.first);
    this.first = EMPTY;
    const opts: HttpRouteOptions = { ...this.opts, connect: (t) => this.connect(t) };
    if (v === 'h2') routeHttp2(c, opts, this.tuning.h2);
    else routeHttp1(c, opts);
  }

  /** The router's connect: its first app connection is the one dialled while the client was silent. */
  private connect(target: Target): Promise<UpstreamSocket> {
    const silent = this.silentApp;
    if (target !== APP_TARGET || !silent) return this.opts.connect(target);
    this.silentApp = undefined;
    return silent.then(
      (s) => {
        this.dropSilentListener();
        return s.destroyed || s.readableEnded ? this.opts.connect(target) : s;
      },
      () => this.opts.connect(target),
    );
  }

  private dropSilentListener(): void {
    const l = this.silentAppListener;
    this.silentAppListener = undefined;
    l?.app.off('readable', l.fn);
  }

  /** Not HTTP: the client and the app are spliced, the client's bytes so far first. */
  private pipeToApp(): void {
    const c = this.client;
    const clientEnded = c.readableEnded;
    const first = this.first;
    this.first = EMPTY;
    c.pause();
    const silent = this.silentApp;
    this.silentApp = undefined;
    (silent ?? this.opts.connect(APP_TARGET)).then(
      (app) => {
        this.dropSilentListener();
        if (c.destroyed) return void app.destroy();
        app.on('error', noop);
        app.setNoDelay?.(true);
        if (first.length) app.write(first);
        if (clientEnded) app.end();
        else c.pipe(app);
        app.pipe(c);
        // A close on either side before both ended is an abort: passed on as one.
        c.once('close', () => app.destroy());
        app.once('close', () => c.destroy());
        c.resume();
      },
      (err: Error) => {
        this.opts.log.debug('http: the app refused a connection', { error: err.message });
        c.destroy();
      },
    );
  }
}
