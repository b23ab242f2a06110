// The tunnel to the traffic manager (protocol in @tel/contracts manager/tunnel.ts): one HTTP/2 cleartext
// session over the user daemon's unix socket (which forwards to the manager's API port), one
// POST /udp stream per UDP flow; `POST /dns` rides the same session (dns/cluster.ts).
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import { TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, TUNNEL_UDP_PATH } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { DialError, type DatagramFlow, type Dialer } from './dialer.js';
import { U16Deframer as Deframer, frameU16 as frame } from '@tel/tcp-wire';

/**
 * Flow-control windows. HTTP/2's 64 KiB default caps a stream at one window per round trip;
 * these are ceilings on bytes in flight, not allocations, so they cost nothing while idle. The
 * session window also bounds what slow workstation clients can make us buffer (RSS budget).
 */
const STREAM_WINDOW = 4 << 20;
const SESSION_WINDOW = 32 << 20;
const PING_INTERVAL_MS = 5_000;
const PING_TIMEOUT_MS = 4_000;

export interface Http2DialerOptions {
  socketPath: string;
  log: Logger;
  pingIntervalMs?: number;
  /**
   * Called with the fd of each new connection to `socketPath` before a byte is sent; throwing
   * refuses it. The root daemon checks who serves the socket, so a user can't point it at some
   * other root-only socket and have root talk to it (confused deputy).
   */
  verifyServer?: (fd: number) => void;
}

export class Http2Dialer implements Dialer {
  private session: ClientHttp2Session | undefined;
  private pending: Promise<ClientHttp2Session> | undefined;
  /** Why the last attempt to reach the manager failed (cleared on success). */
  lastError: string | undefined;
  private pingTimer: NodeJS.Timeout;
  private closed = false;
  private _healthy = false;

  constructor(private readonly opts: Http2DialerOptions) {
    this.pingTimer = setInterval(() => void this.checkHealth(), opts.pingIntervalMs ?? PING_INTERVAL_MS);
    this.pingTimer.unref();
  }

  get healthy(): boolean {
    return this._healthy;
  }

  /** Ping the manager now (connecting if needed); resolves to the new health. */
  async checkHealth(): Promise<boolean> {
    if (this.closed) return false;
    let s: ClientHttp2Session;
    try {
      s = await this.currentSession();
    } catch {
      if (this._healthy) this.opts.log.info('tunnel to the traffic manager is not answering', { err: this.lastError });
      this._healthy = false;
      return false;
    }
    const ok = await new Promise<boolean>((resolve) => {
      // Listeners are removed once settled: the session lives long and is pinged every few seconds.
      const settle = (v: boolean) => {
        clearTimeout(timer);
        s.off('connect', send);
        s.off('close', onClose);
        resolve(v);
      };
      const onClose = () => settle(false);
      const timer = setTimeout(onClose, PING_TIMEOUT_MS);
      function send() {
        try {
          s.ping((err) => settle(!err));
        } catch {
          settle(false);
        }
      }
      s.once('close', onClose);
      if (s.connecting) s.once('connect', send);
      else send();
    });
    if (ok !== this._healthy) this.opts.log.info(`tunnel to the traffic manager is ${ok ? 'healthy' : 'not answering'}`);
    this._healthy = ok;
    // A session that stopped answering is dropped so the next dial starts a fresh one.
    if (!ok && this.session === s) {
      this.session = undefined;
      s.destroy();
    }
    return ok;
  }

  /**
   * The live HTTP/2 session (connecting if needed), for other requests on the same tunnel such as
   * `POST /dns`. Never cache it: after a reconnect it is another session.
   */
  http2Session(): Promise<ClientHttp2Session> {
    if (this.closed) return Promise.reject(new Error('tunnel closed'));
    return this.currentSession();
  }

  /** The live session, or a new one when there is none or the last one closed (reconnect). */
  private currentSession(): Promise<ClientHttp2Session> {
    const cur = this.session;
    if (cur && !cur.closed && !cur.destroyed) return Promise.resolve(cur);
    this.pending ??= this.newSession().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** 1. connect the unix socket, 2. verify who serves it, 3. only then start HTTP/2 on it. */
  private async newSession(): Promise<ClientHttp2Session> {
    const socketPath = this.opts.socketPath;
    let sock: net.Socket;
    try {
      sock = await new Promise<net.Socket>((resolve, reject) => {
        const c = net.connect(socketPath);
        c.once('connect', () => {
          c.off('error', reject);
          resolve(c);
        });
        c.once('error', reject);
      });
      const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
      try {
        if (this.opts.verifyServer) {
          if (typeof fd !== 'number' || fd < 0) throw new Error('connected socket has no fd');
          this.opts.verifyServer(fd);
        }
      } catch (err) {
        sock.destroy();
        throw err;
      }
    } catch (err) {
      this.lastError = `cannot reach the traffic manager through ${socketPath}: ${err instanceof Error ? err.message : String(err)}`;
      throw new Error(this.lastError);
    }
    this.lastError = undefined;
    if (this.closed) {
      sock.destroy();
      throw new Error('tunnel closed');
    }
    const s = http2.connect('http://manager', {
      createConnection: () => sock,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
    });
    s.on('connect', () => s.setLocalWindowSize(SESSION_WINDOW));
    s.on('error', (err) => this.opts.log.warn('tunnel session error', { err: String(err) }));
    s.on('goaway', () => {
      if (this.session === s) this.session = undefined;
    });
    s.on('close', () => {
      if (this.session === s) {
        this.session = undefined;
        this._healthy = false;
      }
    });
    this.session = s;
    return s;
  }

  /** Opens a stream and waits for the manager's answer; a non-200 becomes a DialError. */
  private async open(headers: http2.OutgoingHttpHeaders, destination: string, onStream?: (stream: ClientHttp2Stream) => void): Promise<ClientHttp2Stream> {
    if (this.closed) throw new DialError(destination, 'tunnel closed');
    let session: ClientHttp2Session;
    try {
      session = await this.currentSession();
    } catch (err) {
      throw new DialError(destination, err instanceof Error ? err.message : String(err));
    }
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: false });
      } catch (err) {
        reject(new DialError(destination, String(err instanceof Error ? err.message : err)));
        return;
      }
      // Until the answer: errors and an early close fail the dial. Afterwards the caller owns them.
      const onError = (err: Error) => reject(new DialError(destination, err.message));
      const onClose = () => reject(new DialError(destination, 'stream closed before the manager answered'));
      stream.once('error', onError);
      stream.once('close', onClose);
      onStream?.(stream);
      stream.once('response', (h) => {
        stream.off('error', onError);
        stream.off('close', onClose);
        const status = Number(h[':status']);
        if (status === 200) {
          resolve(stream);
          return;
        }
        const why = h[TUNNEL_ERROR_HEADER];
        reject(new DialError(destination, typeof why === 'string' && why ? why : `status ${status}`));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
    });
  }

  async udp(ip: string, port: number): Promise<DatagramFlow> {
    const destination = `${ip}:${port}`;
    const stream = await this.open({ ':method': 'POST', ':path': TUNNEL_UDP_PATH, ':authority': 'manager', [TUNNEL_DESTINATION_HEADER]: destination }, destination);
    return new StreamDatagramFlow(stream);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pingTimer);
    this._healthy = false;
    this.session?.destroy();
    this.session = undefined;
  }
}

class StreamDatagramFlow implements DatagramFlow {
  private readonly deframer = new Deframer();
  private done = false;

  constructor(private readonly stream: ClientHttp2Stream) {
    stream.on('error', () => undefined);
    stream.on('close', () => {
      this.done = true;
    });
  }

  send(payload: Buffer): void {
    if (this.done || this.stream.destroyed || this.stream.writableEnded) return;
    // UDP semantics: if the tunnel can't keep up, the kernel-side socket buffer is what drops.
    this.stream.write(frame(payload));
  }

  onMessage(listener: (payload: Buffer) => void): void {
    this.stream.on('data', (chunk: Buffer) => this.deframer.push(chunk, listener));
  }

  onClose(listener: () => void): void {
    if (this.done) queueMicrotask(listener);
    else this.stream.once('close', listener);
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }
}
