// The daemon side of local RPC: listen on a unix socket, dispatch each call line to its handler,
// stream its events, and cancel it (AbortSignal) on a cancel line or when the caller disconnects.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Contract } from '@tel/contracts';
import { TelError, toErrorInfo, type ErrorInfo } from '@tel/errors';
import type { Handlers, StreamContext } from './types.js';
import { lineSplitter, parseClientLine, type CallLine, type ServerLine } from './wire.js';

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

type AnyHandler = (params: unknown, ctx: StreamContext<unknown>) => Promise<unknown>;

/**
 * Listen on `socketPath`. The parent dir is created 0700 when missing; a stale socket file is
 * replaced, but a live one (another daemon answering) is an error.
 */
export async function serve<C extends Contract<C>>(socketPath: string, handlers: Handlers<C>, opts: ServeOptions = {}): Promise<net.Server> {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await isAlive(socketPath)) {
      throw new TelError('user', `another daemon is already listening on ${socketPath}`, "run 'telepresence quit -s' first");
    }
    rmSync(socketPath, { force: true });
  }
  if (opts.authorize && !opts.peerCredentials) throw new TelError('bug', 'serve: authorize needs peerCredentials', '');
  const table = handlers as unknown as Record<string, AnyHandler | undefined>;
  const server = net.createServer((conn) => {
    const refusal = opts.authorize ? checkPeer(conn, socketPath, opts) : undefined;
    /** Calls of this connection still running, by id: a cancel line or a close aborts them. */
    const running = new Map<number, AbortController>();
    const send = (line: ServerLine) => {
      if (!conn.destroyed && conn.writable) conn.write(JSON.stringify(line) + '\n');
    };
    conn.setEncoding('utf8');
    conn.on('error', (e) => opts.onError?.(e));
    conn.on('close', () => {
      for (const c of running.values()) c.abort(new TelError('user', 'the caller disconnected', ''));
      running.clear();
    });
    conn.on(
      'data',
      lineSplitter((line) => {
        if (refusal) {
          // One answer, then the connection is closed: later lines of it are not read.
          if (conn.writableEnded) return;
          conn.end(JSON.stringify({ id: parseClientLine(line)?.id ?? -1, error: refusal }) + '\n');
          return;
        }
        const msg = parseClientLine(line);
        if (!msg) {
          send({ id: -1, error: { category: 'bug', message: 'malformed request on daemon socket', hint: '' } });
          return;
        }
        if ('cancel' in msg) {
          running.get(msg.id)?.abort(new TelError('user', 'cancelled by the caller', ''));
          return;
        }
        const controller = new AbortController();
        running.set(msg.id, controller);
        void dispatch(msg, controller.signal, (event) => {
          if (!controller.signal.aborted) send({ id: msg.id, event });
        }).then((reply) => {
          running.delete(msg.id);
          send(reply);
        });
      }),
    );
  });
  const dispatch = async (call: CallLine, signal: AbortSignal, emit: (e: unknown) => void): Promise<ServerLine> => {
    const handler = table[call.method];
    if (!handler) return { id: call.id, error: { category: 'bug', message: `daemon has no method ${call.method}`, hint: '' } };
    try {
      // `null` is a real answer (e.g. networkStatus when not connected); only undefined becomes {}.
      const result = await handler(call.params ?? {}, { signal, emit });
      return { id: call.id, result: result === undefined ? {} : result };
    } catch (err) {
      opts.onError?.(err);
      return { id: call.id, error: toErrorInfo(err) };
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
