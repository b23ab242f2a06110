// A loopback stand-in for the Kubernetes API server's read paths, for the commands' unit tests
// (the real one is exercised by userd/e2e/everyday.e2e.spec.ts), and a kubeconfig pointing at it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface FakeApiServer {
  url: string;
  /** Paths (with query) requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/** JSON `body` for GET `path` (query ignored), or a Kubernetes Status with `status`. */
export function json(path: string | RegExp, body: unknown, status = 200): Route {
  return (req, res) => {
    const p = (req.url ?? '').split('?')[0]!;
    if (typeof path === 'string' ? p !== path : !path.test(p)) return false;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? body : { kind: 'Status', status: 'Failure', message: body, code: status }));
    return true;
  };
}

/** Plain text `body` for GET `path`. */
export function text(path: string, body: string): Route {
  return (req, res) => {
    if ((req.url ?? '').split('?')[0] !== path) return false;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(body);
    return true;
  };
}

export async function fakeApiServer(routes: Route[]): Promise<FakeApiServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!routes.some((r) => r(req, res))) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: `${req.url} not found`, code: 404 }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A kubeconfig with one context `ctx` (namespace `ns`) for `server`; client-node takes plain http only with skip-tls-verify set. */
export function writeKubeconfig(file: string, server: string, ns = 'default'): string {
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
current-context: ctx
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: ${ns}}}]
`,
  );
  return file;
}
