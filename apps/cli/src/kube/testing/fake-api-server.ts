// Test helper: an HTTPS server on loopback answering like the Kubernetes API server, with a
// self-signed certificate (openssl) whose CA goes into the KubeConfig it returns, so the thin
// client's TLS and credentials are exercised as against a real API server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: SeenRequest, res: http.ServerResponse) => void;

export interface FakeApiServer {
  kc: KubeConfig;
  port: number;
  caPem: string;
  seen: SeenRequest[];
  /** Sockets open now (a request abandoned by the client closes its socket). */
  openSockets(): number;
  close(): Promise<void>;
}

let tls: { key: string; cert: string } | undefined;
function certificate(): { key: string; cert: string } {
  if (tls) return tls;
  const dir = mkdtempSync(join(tmpdir(), 'tel-fake-api-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    tls = { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
    return tls;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function fakeApiServer(handler: Handler, opts: { token?: string } = {}): Promise<FakeApiServer> {
  const { key, cert } = certificate();
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ key, cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const r: SeenRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      seen.push(r);
      handler(r, res);
    });
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(cert).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: opts.token ?? 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    port,
    caPem: cert,
    seen,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Answers `obj` as JSON with `status`. */
export function json(res: http.ServerResponse, status: number, obj: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

/** A Status object as the API server sends with a failure. */
export function status(res: http.ServerResponse, code: number, message: string, reason = 'Forbidden'): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}
