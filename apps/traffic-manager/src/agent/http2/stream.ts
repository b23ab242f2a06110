// One client stream of the HTTP/2 router, proxied to the target chosen by its own headers: the
// request's headers, body and trailers go up, the response's (1xx, headers, body, trailers) come
// back, each side read only as fast as the other takes it (HTTP/2 flow control does the rest), and
// a reset on either side resets the other.
import http2 from 'node:http2';
import type { Logger } from '@tel/logging';
import type { RequestHead } from '@tel/agent-config';
import { APP_TARGET, REPLAY_MAX, type Target } from '../http1/exchange.js';
import { passOn, requestHead, type HeaderBlock } from './headers.js';
import type { UpstreamSession, UpstreamSessions } from './upstreams.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export interface StreamContext {
  choose(req: RequestHead): Target;
  sessions: UpstreamSessions;
  log: Logger;
}

export function proxyStream(ctx: StreamContext, down: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, raw: string[] | undefined): StreamProxy {
  const p = new StreamProxy(ctx, down, headers, raw);
  p.start();
  return p;
}

export class StreamProxy {
  private up: http2.ClientHttp2Stream | undefined;
  private readonly requestHeaders: HeaderBlock;
  /** The client's HEADERS ended the request (a GET): no body, no trailers. */
  private readonly headersOnly: boolean;
  /** The request's body so far while it fits REPLAY_MAX and no answer started; undefined after. */
  private kept: Buffer[] | undefined = [];
  private keptBytes = 0;
  /** Body read while no upstream stream was there to take it (normally none: the stream is paused then). */
  private unsent: Buffer[] = [];
  /** Response body that came before the response's headers were passed on (see the 'data' handler). */
  private early: Buffer[] = [];
  private requestEnded = false;
  private requestTrailers: HeaderBlock | undefined;
  private responseStarted = false;
  private responseTrailers: HeaderBlock | undefined;
  /** The target's END_STREAM came (not a reset). */
  private responseEnded = false;
  private movedToApp = false;

  constructor(
    private readonly ctx: StreamContext,
    private readonly down: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly raw: string[] | undefined,
  ) {
    this.requestHeaders = passOn(headers, raw);
    this.headersOnly = down.endAfterHeaders;
  }

  start(): void {
    const down = this.down;
    down.on('error', (err) => this.ctx.log.debug(`http2: client stream ${down.id ?? '?'}: ${err.message}`));
    down.on('data', (chunk: Buffer) => this.onRequestData(chunk));
    // Nothing is read until the stream has somewhere to go.
    down.pause();
    down.on('trailers', (h: http2.IncomingHttpHeaders, _flags: number, raw?: string[]) => (this.requestTrailers = passOn(h, raw)));
    down.on('end', () => {
      this.requestEnded = true;
      const up = this.up;
      if (up && !this.headersOnly && !up.writableEnded && !up.destroyed) up.end();
    });
    down.on('drain', () => this.up?.resume());
    down.on('wantTrailers', () => {
      try {
        down.sendTrailers(this.responseTrailers ?? {});
      } catch {
        // The client stream went away meanwhile; its close handler resets the upstream.
      }
    });
    down.on('close', () => this.onClientClose());

    let target: Target;
    try {
      target = this.ctx.choose(requestHead(this.headers, this.raw));
    } catch (e) {
      this.ctx.log.warn('http2: choosing a target failed; the stream goes to the app', { error: (e as Error).message });
      target = APP_TARGET;
    }
    // Only a stream to an intercept may have to go again (to the app): only its body is kept.
    if (target === APP_TARGET) this.kept = undefined;
    this.open(target);
  }

  private open(target: Target): void {
    this.ctx.sessions.get(target).then(
      (u) => this.send(u),
      (err: Error) => {
        this.ctx.log.debug('http2: the app refused a connection', { error: err.message });
        // Not processed anywhere: the client may try it again.
        if (!this.down.closed) this.down.close(NGHTTP2_REFUSED_STREAM);
      },
    );
  }

  private send(u: UpstreamSession): void {
    const down = this.down;
    if (down.closed || down.destroyed) return;
    let up: http2.ClientHttp2Stream;
    try {
      up = u.session.request(this.requestHeaders, { endStream: this.headersOnly, waitForTrailers: !this.headersOnly });
    } catch (e) {
      return this.upstreamFailed(u, (e as Error).message);
    }
    this.up = up;
    up.on('error', (err) => this.ctx.log.debug(`http2: stream to ${u.target}: ${err.message}`));
    up.on('wantTrailers', () => {
      try {
        up.sendTrailers(this.requestTrailers ?? {});
      } catch {
        // Reset meanwhile; its close handler tells the client.
      }
    });
    up.on('headers', (h: http2.IncomingHttpHeaders, _flags: number, raw?: string[]) => {
      // Interim (1xx) answers, e.g. 100-continue, pass on as they come.
      if (this.up === up && !this.responseStarted && !down.headersSent && !down.destroyed) {
        try {
          down.additionalHeaders(passOn(h, raw));
        } catch {
          // A 1xx the client stream can no longer take is simply not passed on.
        }
      }
    });
    up.on('response', (h: http2.IncomingHttpHeaders, flags: number, raw?: string[]) => this.onResponse(up, h, flags, raw));
    up.on('trailers', (h: http2.IncomingHttpHeaders, _flags: number, raw?: string[]) => (this.responseTrailers = passOn(h, raw)));
    up.on('data', (chunk: Buffer) => {
      if (this.up !== up) return;
      // Over a tunnel (a JS stream, not a socket) node may emit a stream's first DATA before its
      // 'response': written now, it would make node send implicit headers of its own.
      if (!this.responseStarted) return void this.early.push(chunk);
      this.toClient(up, chunk);
    });
    up.on('end', () => {
      // node ends the readable side on a RST_STREAM too: that is a reset to pass on (close handler), not an end.
      if (this.up !== up || (up.rstCode !== undefined && up.rstCode !== NGHTTP2_NO_ERROR)) return;
      this.responseEnded = true;
      if (!down.writableEnded && !down.destroyed && down.headersSent) down.end();
    });
    up.on('drain', () => down.resume());
    up.on('close', () => this.onUpstreamClose(u, up));
    // A stream sent again starts over with the body read so far.
    for (const b of this.movedToApp ? (this.kept ?? []) : this.unsent) up.write(b);
    this.unsent = [];
    if (u.target === APP_TARGET) this.kept = undefined;
    if (this.requestEnded && !this.headersOnly) up.end();
    down.resume();
  }

  private onRequestData(chunk: Buffer): void {
    if (this.kept) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > REPLAY_MAX) this.kept = undefined;
      else this.kept.push(chunk);
    }
    const up = this.up;
    if (!up) {
      if (!this.movedToApp) this.unsent.push(chunk);
      // Moving to the app with more body than was kept: it can't be sent whole, so it is not sent.
      else if (!this.kept && !this.down.closed) this.down.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // The upstream answered and closed already: what the client still sends has nowhere to go.
    if (up.writableEnded || up.destroyed) return;
    if (!up.write(chunk)) this.down.pause();
  }

  private toClient(up: http2.ClientHttp2Stream, chunk: Buffer): void {
    const down = this.down;
    if (down.writableEnded || down.destroyed) return; // HEAD, 204, 304: the client stream ended with the headers
    if (!down.write(chunk)) up.pause();
  }

  private onResponse(up: http2.ClientHttp2Stream, h: http2.IncomingHttpHeaders, flags: number, raw?: string[]): void {
    if (this.up !== up) return;
    const down = this.down;
    this.responseStarted = true;
    this.kept = undefined;
    if (down.destroyed || down.closed) return;
    // gRPC's trailers-only answer (HEADERS with END_STREAM carrying grpc-status) stays one frame.
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    try {
      // sendDate off: the Date header is the target's to send, not ours to add.
      down.respond(passOn(h, raw), { endStream, waitForTrailers: !endStream, sendDate: false } as http2.ServerStreamResponseOptions);
      for (const chunk of this.early.splice(0)) this.toClient(up, chunk);
      if (this.responseEnded && !endStream && !down.writableEnded) down.end();
    } catch (e) {
      this.ctx.log.debug('http2: the client stream took no response', { error: (e as Error).message });
      if (!up.closed) up.close(NGHTTP2_CANCEL);
    }
  }

  private onUpstreamClose(u: UpstreamSession, up: http2.ClientHttp2Stream): void {
    if (this.up !== up) return;
    const down = this.down;
    const code = up.rstCode ?? NGHTTP2_NO_ERROR;
    const sessionFailed = u.session.destroyed || code === NGHTTP2_REFUSED_STREAM;
    if (!this.responseStarted && sessionFailed && u.target !== APP_TARGET) {
      return this.upstreamFailed(u, `stream closed (code ${code}) before an answer`);
    }
    if (down.closed || down.destroyed) return;
    if (!this.responseEnded) {
      // Cut off: the client must see a reset, never a short answer.
      down.close(code !== NGHTTP2_NO_ERROR ? code : NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (this.requestEnded) return;
    if (code !== NGHTTP2_NO_ERROR) {
      // Answered in full, then reset to stop the upload: the client is told the same, after the answer.
      const reset = () => !down.closed && down.close(code);
      if (down.writableFinished) reset();
      else down.once('finish', reset);
      return;
    }
    // Answered in full while the client still sends: the rest is read and dropped so the stream can close.
    down.resume();
  }

  /** The target took no part in the stream (connection or session failed before an answer): the app gets it. */
  private upstreamFailed(u: UpstreamSession, why: string): void {
    const down = this.down;
    this.up = undefined;
    if (u.target !== APP_TARGET && !this.movedToApp && (this.kept || this.headersOnly)) {
      this.ctx.log.info(`http2: target ${u.target} failed before answering; its stream goes to the app`, { reason: why });
      this.movedToApp = true;
      this.kept ??= [];
      // Whatever the failed target said (an end, early bytes) was not an answer.
      this.responseEnded = false;
      this.early = [];
      down.pause();
      this.open(APP_TARGET);
      return;
    }
    this.ctx.log.debug(`http2: stream to ${u.target} failed before answering`, { reason: why });
    if (!down.closed && !down.destroyed) down.close(NGHTTP2_INTERNAL_ERROR);
  }

  /** The client sent its FIN: a request it had not finished never will be, so that stream is cancelled. */
  clientGone(): void {
    if (!this.requestEnded && !this.down.closed) this.down.close(NGHTTP2_CANCEL);
  }

  private onClientClose(): void {
    const up = this.up;
    if (!up || up.closed || up.destroyed) return;
    const code = this.down.rstCode ?? NGHTTP2_NO_ERROR;
    // The client cancelled (or its connection went): the target stops working on it too.
    if (code !== NGHTTP2_NO_ERROR) up.close(code);
    else if (!up.readableEnded) up.close(NGHTTP2_CANCEL);
  }
}
