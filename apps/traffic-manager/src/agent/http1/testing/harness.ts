// Loopback fixtures for the HTTP/1.1 router's tests: two real HTTP servers ('app' and 'ws'), a
// router listening in front of them, and a raw client that reads whole responses byte-exact.
import http from 'node:http';
import net from 'node:net';
import { createLogger } from '@tel/logging';
import { matches, parseFilter } from '@tel/agent-config';
import { APP_TARGET, routeHttp1 } from '../router.js';
import { BodyFramer, parseResponseHead } from '../wire.js';

export interface Upstream {
  name: string;
  port: number;
  connections: number;
  server: net.Server;
}

const sockets = new WeakMap<net.Server, Set<net.Socket>>();

function listen(server: net.Server): Promise<number> {
  const set = new Set<net.Socket>();
  sockets.set(server, set);
  server.on('connection', (s: net.Socket) => {
    set.add(s);
    s.on('close', () => set.delete(s));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** An HTTP server answering `<name> <method> <url> <body>`; /slow answers after 100 ms, /chunked in three chunks; upgrades echo `<name>:<bytes>`. */
export async function httpUpstream(name: string): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-served-by', name);
      const body = `${name} ${req.method} ${req.url} ${Buffer.concat(chunks).toString('latin1')}`;
      if (req.url === '/slow') setTimeout(() => res.end(body), 100);
      else if (req.url === '/chunked') {
        res.write('a');
        setTimeout(() => {
          res.write('bb');
          res.end('ccc');
        }, 20);
      } else res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  const up: Upstream = { name, port: 0, connections: 0, server };
  server.on('connection', () => up.connections++);
  server.on('upgrade', (_req, sock: net.Socket, head: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length) sock.write(`${name}:${head.toString('latin1')}`);
    sock.on('data', (d: Buffer) => sock.write(`${name}:${d.toString('latin1')}`));
    sock.on('error', () => undefined);
    // An upgraded socket is no longer the server's to end: the peer's FIN ends it here.
    sock.on('end', () => sock.end());
  });
  up.port = await listen(server);
  return up;
}

/** A raw TCP upstream: hands every connection to `onConnection`. */
export async function rawUpstream(name: string, onConnection: (s: net.Socket) => void): Promise<Upstream> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    up.connections++;
    s.on('error', () => undefined);
    onConnection(s);
  });
  const up: Upstream = { name, port: 0, connections: 0, server };
  up.port = await listen(server);
  return up;
}

export interface Router {
  port: number;
  accepted: number;
  server: net.Server;
}

/** The router in front of `app` and `ws`; requests with x-dev: alice (or under /alice/) go to ws. */
export async function startRouter(app: () => Upstream, ws: () => Upstream): Promise<Router> {
  const parsed = parseFilter({ headers: ['x-dev=alice'] });
  const pathParsed = parseFilter({ pathPrefix: '/alice/' });
  if ('error' in parsed || 'error' in pathParsed) throw new Error('bad test filter');
  const log = createLogger(undefined);
  const connect = (target: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const port = target === APP_TARGET ? app().port : ws().port;
      const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  const router: Router = { port: 0, accepted: 0, server: net.createServer() };
  router.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    router.accepted++;
    client.on('error', () => undefined);
    routeHttp1(client, {
      choose: (req) => (matches(parsed.filter, req) || matches(pathParsed.filter, req) ? 'ws' : APP_TARGET),
      connect,
      log,
    });
  });
  router.port = await listen(router.server);
  return router;
}

export interface RawResponse {
  head: string;
  body: Buffer;
  /** Head and body exactly as received. */
  raw: Buffer;
}

/** A raw client connection that reads responses one at a time (interim 1xx included). */
export class RawClient {
  readonly sock: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(port: number) {
    this.sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    this.sock.on('error', () => undefined);
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no bytes within ${timeoutMs} ms; have ${JSON.stringify(this.buf.toString('latin1'))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(s: string | Buffer): void {
    this.sock.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }

  /** At least `n` bytes, or the end. */
  async readBytes(n: number, timeoutMs = 3000): Promise<Buffer> {
    while (this.buf.length < n && !this.ended) await this.wait(timeoutMs);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  async readResponse(method = 'GET', timeoutMs = 3000): Promise<RawResponse> {
    for (;;) {
      // Parsed afresh from the start on every arrival: the framer is stateful.
      const r = parseResponseHead(this.buf, method);
      if ('error' in r) throw new Error(r.error);
      if ('head' in r) {
        const f = new BodyFramer(r.head.framing);
        const n = f.feed(this.buf, r.length);
        if (n instanceof Error) throw n;
        if (f.done || (f.framing.type === 'close' && this.ended)) {
          const raw = this.buf.subarray(0, r.length + n);
          this.buf = this.buf.subarray(raw.length);
          return { head: raw.subarray(0, r.length).toString('latin1'), body: raw.subarray(r.length), raw };
        }
      }
      if (this.ended) throw new Error(`connection ended before a whole response; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      await this.wait(timeoutMs);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

export function closeServer(s: net.Server): Promise<void> {
  for (const c of sockets.get(s) ?? []) c.destroy();
  return new Promise((resolve) => s.close(() => resolve()));
}
