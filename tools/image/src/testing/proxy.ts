// Test fixture: an HTTP reverse proxy in front of a test registry that records every request and can
// inject faults (500, dropped connection, swallowed upload, demanded Bearer auth) to exercise failure paths.
import http from 'node:http';
import type net from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  status: number;
}

/** What to do with a request: forward it, fail it, drop the connection, or answer it here. */
export type FaultAction =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; code?: string; message?: string }
  | { kind: 'drop' }
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string };

export interface ProxyOptions {
  fault?: (req: { method: string; path: string; query: string; headers: http.IncomingHttpHeaders }) => FaultAction;
  /** Rewrite absolute Location headers to path-only ones, to prove the client resolves relative ones. */
  relativeLocation?: boolean;
  /** Do not forward Authorization (when the proxy itself plays the auth server in front of an open registry). */
  stripAuthorization?: boolean;
}

export interface TestProxy {
  host: string;
  port: number;
  requests: RecordedRequest[];
  setFault(fault: ProxyOptions['fault']): void;
  close(): Promise<void>;
}

export async function startProxy(upstreamPort: number, opts: ProxyOptions = {}): Promise<TestProxy> {
  const requests: RecordedRequest[] = [];
  let fault = opts.fault;
  const sockets = new Set<net.Socket>();

  const server = http.createServer((req, res) => {
    const [p = '/', q = ''] = (req.url ?? '/').split('?');
    const record: RecordedRequest = { method: req.method ?? 'GET', path: p, query: q, status: 0 };
    requests.push(record);
    const action = fault?.({ method: record.method, path: p, query: q, headers: req.headers }) ?? { kind: 'pass' };
    if (action.kind === 'drop') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (action.kind === 'status' || action.kind === 'respond') {
      req.resume();
      record.status = action.status;
      const body =
        action.kind === 'respond'
          ? (action.body ?? '')
          : JSON.stringify({ errors: [{ code: action.code ?? 'UNKNOWN', message: action.message ?? 'injected fault' }] });
      res.writeHead(action.status, { 'content-type': 'application/json', ...(action.kind === 'respond' ? action.headers : {}) });
      res.end(body);
      return;
    }
    const headers = { ...req.headers };
    if (opts.stripAuthorization) delete headers.authorization;
    const upstream = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers }, (up) => {
      record.status = up.statusCode ?? 0;
      const outHeaders = { ...up.headers };
      if (opts.relativeLocation && typeof outHeaders.location === 'string') {
        const u = new URL(outHeaders.location, `http://${req.headers.host}`);
        outHeaders.location = `${u.pathname}${u.search}`;
      }
      res.writeHead(up.statusCode ?? 502, outHeaders);
      up.pipe(res);
    });
    upstream.on('error', () => {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    setFault: (f) => {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
