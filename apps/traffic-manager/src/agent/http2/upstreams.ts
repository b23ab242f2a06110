// The HTTP/2 router's upstream sessions: at most one per target per client connection, opened
// on the first stream that goes there over the socket `connect` gives, dropped once it fails or
// is told to go away (the next stream for that target opens a new one).
import http2 from 'node:http2';
import type { Logger } from '@tel/logging';
import { APP_TARGET, type Target, type UpstreamSocket } from '../http1/exchange.js';
import { nativeSocketFor } from '../../loopback-pair.js';

export interface UpstreamSession {
  target: Target;
  session: http2.ClientHttp2Session;
}

export class UpstreamSessions {
  /** The session new streams for a target get, while it takes new streams. */
  private readonly live = new Map<Target, UpstreamSession>();
  /** A connection under way, shared by the streams that wait for it. */
  private readonly dialling = new Map<Target, Promise<UpstreamSession>>();
  private readonly all = new Set<http2.ClientHttp2Session>();
  private closed = false;

  constructor(
    private readonly connect: (target: Target) => Promise<UpstreamSocket>,
    private readonly log: Logger,
  ) {}

  /**
   * A session to `target`, or to the app when `target`'s connection can't be made (a workstation
   * away must not cost the request). Rejects only when the app can't be reached either.
   */
  async get(target: Target): Promise<UpstreamSession> {
    try {
      return await this.sessionTo(target);
    } catch (e) {
      if (target === APP_TARGET) throw e;
      this.log.info(`http2: target ${target} unreachable; its stream goes to the app`, { error: (e as Error).message });
      return this.sessionTo(APP_TARGET);
    }
  }

  private sessionTo(target: Target): Promise<UpstreamSession> {
    if (this.closed) return Promise.reject(new Error('the client connection is closed'));
    const live = this.live.get(target);
    if (live && !live.session.closed && !live.session.destroyed) return Promise.resolve(live);
    let pending = this.dialling.get(target);
    if (!pending) {
      pending = this.create(target);
      this.dialling.set(target, pending);
      const done = () => {
        if (this.dialling.get(target) === pending) this.dialling.delete(target);
      };
      // A failed connect is not remembered: the next stream tries again.
      pending.then(done, done);
    }
    return pending;
  }

  private async create(target: Target): Promise<UpstreamSession> {
    const given = await this.connect(target);
    if (this.closed) {
      given.destroy();
      throw new Error('the client connection is closed');
    }
    // node:http2 over a JS stream (a tunnel) runs on JSStreamSocket, which crashes under load: it
    // gets a native loopback socket relayed to the stream instead.
    const sock = await nativeSocketFor(given);
    if (this.closed) {
      sock.destroy();
      throw new Error('the client connection is closed');
    }
    if (sock.destroyed || sock.readableEnded) throw new Error(`${target} closed the connection at once`);
    sock.setNoDelay?.(true);
    // The authority here is only a default; every request carries its client's :authority and :scheme.
    const session = http2.connect('http://localhost', { createConnection: () => sock as never, settings: { enablePush: false } });
    this.all.add(session);
    const up: UpstreamSession = { target, session };
    this.live.set(target, up);
    const forget = () => {
      if (this.live.get(target) === up) this.live.delete(target);
    };
    session.on('error', (err) => {
      this.log.debug(`http2: session to ${target} failed`, { error: err.message });
      forget();
    });
    // Streams under way finish on it; new ones get a new session.
    session.on('goaway', forget);
    // A FIN from the target: nothing more will come from it, so what it has not answered never will be.
    sock.on('end', () => session.destroy());
    session.on('close', () => {
      forget();
      this.all.delete(session);
    });
    return up;
  }

  /** The client connection is over: its upstream sessions go too. */
  destroy(): void {
    this.closed = true;
    this.live.clear();
    for (const s of this.all) s.destroy();
    this.all.clear();
  }

  /** The client is leaving gracefully: streams under way finish, then the sessions close. */
  close(): void {
    this.live.clear();
    for (const s of this.all) s.close();
  }
}
