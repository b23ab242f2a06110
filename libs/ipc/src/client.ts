// The caller side of local RPC: one connection to a daemon, calls multiplexed by id. Unary calls
// are promises; streamed calls are async iterables of events plus a result, and can be cancelled.
// A line the client cannot read fails the calls in flight with a clear error; it never throws.
import net from 'node:net';
import type { Contract } from '@tel/contracts';
import { TelError } from '@tel/errors';
import type { CallOptions, Client, StreamCall } from './types.js';
import { lineSplitter, parseServerLine, type CallLine, type CancelLine } from './wire.js';

export class NotRunningError extends Error {}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?(e: unknown): void;
  cleanup(): void;
}

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
  const pending = new Map<number, Pending>();
  const settle = (id: number, f: (p: Pending) => void) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.cleanup();
    f(p);
  };
  const failAll = (err: Error) => {
    for (const id of [...pending.keys()]) settle(id, (p) => p.reject(err));
  };
  sock.on(
    'data',
    lineSplitter((line) => {
      const msg = parseServerLine(line);
      if (!msg) {
        // The stream can no longer be trusted to line up answers with calls: end them all.
        const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line;
        failAll(new TelError('bug', `the ${name} sent a malformed answer: ${JSON.stringify(shown)}`, "restart it with 'telepresence quit -s'"));
        sock.destroy();
        return;
      }
      if ('event' in msg) pending.get(msg.id)?.onEvent?.(msg.event);
      else if ('error' in msg) settle(msg.id, (p) => p.reject(TelError.fromInfo(msg.error)));
      else settle(msg.id, (p) => p.resolve(msg.result));
    }),
  );
  sock.on('close', () => failAll(new TelError('bug', `the ${name} closed the connection`, '')));
  sock.on('error', () => undefined);
  const write = (line: CallLine | CancelLine) => {
    if (!sock.destroyed) sock.write(JSON.stringify(line) + '\n');
  };

  /** Start call `method`; `onEvent` receives its events until it settles. Returns how to cancel. */
  const start = (method: string, params: unknown, opts: CallOptions | undefined, onEvent?: (e: unknown) => void) => {
    const id = nextId++;
    let cancel: (why: TelError) => void = () => undefined;
    const result = new Promise<unknown>((resolve, reject) => {
      const onAbort = () => cancel(new TelError('user', `${method} cancelled`, ''));
      const timer = opts?.timeoutMs
        ? setTimeout(() => cancel(new TelError('bug', `the ${name} did not answer ${method} within ${opts.timeoutMs} ms`, '')), opts.timeoutMs)
        : undefined;
      pending.set(id, {
        resolve,
        reject,
        ...(onEvent ? { onEvent } : {}),
        cleanup: () => {
          clearTimeout(timer);
          opts?.signal?.removeEventListener('abort', onAbort);
        },
      });
      cancel = (why) => {
        if (!pending.has(id)) return;
        write({ id, cancel: true });
        settle(id, (p) => p.reject(why));
      };
      opts?.signal?.addEventListener('abort', onAbort, { once: true });
      write({ id, method, params });
      if (opts?.signal?.aborted) onAbort();
    });
    return { result, cancel: () => cancel(new TelError('user', `${method} cancelled`, '')) };
  };

  const stream = (method: string, params: unknown, opts?: CallOptions): StreamCall<unknown, unknown> => {
    const events: unknown[] = [];
    let wake: (() => void) | undefined;
    const call = start(method, params, opts, (e) => {
      events.push(e);
      wake?.();
    });
    let done = false;
    let failure: unknown;
    call.result.then(
      () => (done = true),
      (err: unknown) => ((done = true), (failure = err)),
    ).finally(() => wake?.());
    return {
      result: call.result,
      cancel: call.cancel,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (events.length) yield events.shift();
          else if (done) {
            if (failure) throw failure;
            return;
          } else await new Promise<void>((r) => (wake = r));
        }
      },
    };
  };

  return new Proxy({} as Client<C>, {
    get(_t, prop) {
      if (prop === 'close') return () => sock.destroy();
      if (prop === 'then') return undefined; // not a thenable
      // The wire is the same for both kinds and the contract's types are gone at run time, so
      // every stub returns the result promise dressed as a StreamCall: a unary caller awaits it,
      // a streamed one iterates it and reads `result`. (`stream` has already attached a handler
      // to that promise: a cancelled stream nobody awaits is no unhandled rejection.)
      return (params: unknown, opts?: CallOptions) => {
        const call = stream(String(prop), params, opts);
        return Object.assign(call.result, { result: call.result, cancel: call.cancel, [Symbol.asyncIterator]: call[Symbol.asyncIterator] });
      };
    },
  });
}
