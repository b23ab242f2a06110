// Local RPC between the CLI and its daemons: newline-delimited JSON over a unix socket.
// Typed by a contract from @tel/contracts: the client stub and the server's handler table both
// derive from it, so a handler missing on the server fails to compile.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Contract } from '@tel/contracts';
import { TelError, toErrorInfo, type ErrorInfo } from '@tel/errors';

interface Request {
  id: number;
  method: string;
  params: unknown;
}
type Response = { id: number; result: unknown } | { id: number; error: ErrorInfo };

export type Handlers<C extends Contract<C>> = {
  [K in keyof C]: (req: C[K]['req']) => Promise<C[K]['res']>;
};

export type Client<C extends Contract<C>> = {
  [K in keyof C]: (req: C[K]['req'], opts?: { timeoutMs?: number }) => Promise<C[K]['res']>;
} & { close(): void };

/** Credentials of the process at the other end of a unix socket (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface ServeOptions {
  /** uid that owns the socket; only it and root may connect (mode 0600). */
  ownerUid?: number;
  ownerGid?: number;
  onError?: (err: unknown) => void;
  /**
   * Checked once per connection, on top of the socket's file mode. Needs `peerCredentials`
   * (reading SO_PEERCRED takes FFI, which this library doesn't depend on). A refused client gets
   * a permission error as the answer to each request, then the connection is closed.
   */
  authorize?: (peer: PeerCredentials) => boolean;
  /** Reads the peer's credentials from the accepted socket's fd. */
  peerCredentials?: (fd: number) => PeerCredentials;
}

/**
 * Listen on `socketPath`. The parent dir is created 0700 when missing; a stale socket file is
 * replaced, but a live one (another daemon answering) is an error.
 */
export async function serve<C extends Contract<C>>(
  socketPath: string,
  handlers: Handlers<C>,
  opts: ServeOptions = {},
): Promise<net.Server> {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await isAlive(socketPath)) {
      throw new TelError('user', `another daemon is already listening on ${socketPath}`, "run 'telepresence quit -s' first");
    }
    rmSync(socketPath, { force: true });
  }
  if (opts.authorize && !opts.peerCredentials) throw new TelError('bug', 'serve: authorize needs peerCredentials', '');
  const server = net.createServer((conn) => {
    const refusal = opts.authorize ? checkPeer(conn, socketPath, opts) : undefined;
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', (e) => opts.onError?.(e));
    conn.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (refusal) {
          conn.end(JSON.stringify(refuse(line, refusal)) + '\n');
          return;
        }
        void dispatch(line).then((resp) => {
          if (!conn.destroyed) conn.write(JSON.stringify(resp) + '\n');
        });
      }
    });
  });
  const dispatch = async (line: string): Promise<Response> => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      return { id: -1, error: { category: 'bug', message: 'malformed request on daemon socket', hint: '' } };
    }
    const handler = (handlers as Record<string, ((p: unknown) => Promise<unknown>) | undefined>)[req.method];
    if (!handler) {
      return { id: req.id, error: { category: 'bug', message: `daemon has no method ${req.method}`, hint: '' } };
    }
    try {
      // `null` is a real answer (e.g. networkStatus when not connected); only undefined becomes {}.
      const result = await handler(req.params ?? {});
      return { id: req.id, result: result === undefined ? {} : result };
    } catch (err) {
      opts.onError?.(err);
      return { id: req.id, error: toErrorInfo(err) };
    }
  };
  // umask-independent: the socket is created, then narrowed before anyone is told it exists.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  if (opts.ownerUid !== undefined) {
    chownSync(socketPath, opts.ownerUid, opts.ownerGid ?? statSync(socketPath).gid);
  }
  return server;
}

/** Why this connection may not use the daemon, or undefined when it may. Fails closed. */
function checkPeer(conn: net.Socket, socketPath: string, opts: ServeOptions): ErrorInfo | undefined {
  let peer: PeerCredentials;
  try {
    const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('accepted socket has no fd');
    peer = opts.peerCredentials!(fd);
  } catch (err) {
    opts.onError?.(err);
    return { category: 'bug', message: `cannot identify the client on ${socketPath}: ${String(err)}`, hint: '' };
  }
  if (opts.authorize!(peer)) return undefined;
  opts.onError?.(new Error(`refused uid ${peer.uid} (pid ${peer.pid}) on ${socketPath}`));
  return {
    category: 'user',
    message: `permission denied: the daemon on ${socketPath} serves only root and the user who started it, not uid ${peer.uid}`,
    hint: "run telepresence as the user who connected the session, or stop that session with 'sudo telepresence quit -s'",
  };
}

function refuse(line: string, error: ErrorInfo): Response {
  let id = -1;
  try {
    id = (JSON.parse(line) as Request).id;
  } catch {
    /* answer with id -1 */
  }
  return { id, error };
}

/** True when something accepts connections on the socket. */
export function isAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class NotRunningError extends Error {}

/** Connect to a daemon; rejects with NotRunningError when nobody listens on the socket. */
export async function connect<C extends Contract<C>>(socketPath: string, name: string): Promise<Client<C>> {
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(new NotRunningError(`${name} is not running`));
      else if (e.code === 'EACCES') {
        reject(new TelError('user', `permission denied on ${socketPath}`, `the ${name} belongs to another user; run as that user or 'sudo telepresence quit -s'`));
      } else reject(e);
    });
  });
  sock.setEncoding('utf8');
  let nextId = 1;
  let buf = '';
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer?: NodeJS.Timeout }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const resp = JSON.parse(buf.slice(0, nl)) as Response;
      buf = buf.slice(nl + 1);
      const p = pending.get(resp.id);
      if (!p) continue;
      pending.delete(resp.id);
      clearTimeout(p.timer);
      if ('error' in resp) p.reject(TelError.fromInfo(resp.error));
      else p.resolve(resp.result);
    }
  });
  sock.on('close', () => failAll(new TelError('bug', `the ${name} closed the connection`, '')));
  sock.on('error', () => undefined);
  const call = (method: string, params: unknown, opts?: { timeoutMs?: number }) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const entry: { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer?: NodeJS.Timeout } = { resolve, reject };
      if (opts?.timeoutMs) {
        entry.timer = setTimeout(() => {
          pending.delete(id);
          reject(new TelError('bug', `the ${name} did not answer ${method} within ${opts.timeoutMs} ms`, ''));
        }, opts.timeoutMs);
      }
      pending.set(id, entry);
      sock.write(JSON.stringify({ id, method, params } satisfies Request) + '\n');
    });
  return new Proxy({} as Client<C>, {
    get(_t, prop) {
      if (prop === 'close') return () => sock.destroy();
      if (prop === 'then') return undefined; // not a thenable
      return (params: unknown, opts?: { timeoutMs?: number }) => call(String(prop), params, opts);
    },
  });
}

export * from './daemon.js';
