// Streamed calls and cancellation over a real unix socket: events arrive in order, cancelling
// (from the stub, an AbortSignal, a timeout, or a client process that dies) aborts the handler's
// signal, and a malformed line from a daemon fails the call instead of crashing the client.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { Method, StreamMethod } from '@tel/contracts';
import { connect, serve, type Handlers } from './index.js';

interface StreamContract {
  count: StreamMethod<{ n: number }, { i: number }, { total: number }>;
  /** Emits one event, then waits until cancelled; resolves `aborted` with the abort reason. */
  hang: StreamMethod<{}, { started: true }, {}>;
  echo: Method<{ s: string }, { s: string }>;
}

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-stream-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'd.socket');
}

/** A server whose `hang` handler reports when (and why) its signal fired. */
async function startServer(sock: string) {
  let onAborted: (reason: unknown) => void = () => undefined;
  const aborted = new Promise<unknown>((r) => (onAborted = r));
  const handlers: Handlers<StreamContract> = {
    count: async ({ n }, { emit }) => {
      for (let i = 0; i < n; i++) {
        emit({ i });
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      return { total: n };
    },
    hang: (_req, { emit, signal }) =>
      new Promise((_resolve, reject) => {
        emit({ started: true });
        signal.addEventListener('abort', () => {
          onAborted(signal.reason);
          reject(signal.reason);
        });
      }),
    echo: async ({ s }) => ({ s }),
  };
  const server = await serve<StreamContract>(sock, handlers);
  cleanups.unshift(() => server.close());
  return { aborted };
}

describe('streamed calls', () => {
  it('deliver every event in order, then the result; unary calls still work beside them', async () => {
    const sock = socketPath();
    await startServer(sock);
    const c = await connect<StreamContract>(sock, 'test daemon');
    const call = c.count({ n: 500 });
    const [echo, seen] = await Promise.all([
      c.echo({ s: 'beside' }),
      (async () => {
        const seen: number[] = [];
        for await (const e of call) seen.push(e.i);
        return seen;
      })(),
    ]);
    expect(echo.s).toBe('beside');
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await call.result).toEqual({ total: 500 });
    c.close();
  });

  it('cancel() aborts the handler signal and fails the call', async () => {
    const sock = socketPath();
    const { aborted } = await startServer(sock);
    const c = await connect<StreamContract>(sock, 'test daemon');
    const call = c.hang({});
    const iterated = (async () => {
      for await (const e of call) {
        expect(e).toEqual({ started: true });
        call.cancel();
      }
    })();
    // The iteration ends with the call's error, as `result` does.
    await expect(iterated).rejects.toMatchObject({ message: 'hang cancelled' });
    await expect(call.result).rejects.toMatchObject({ category: 'user', message: 'hang cancelled' });
    expect(await aborted).toMatchObject({ message: 'cancelled by the caller' });
    // The connection stays usable.
    expect(await c.echo({ s: 'after' })).toEqual({ s: 'after' });
    c.close();
  });

  it('an AbortSignal passed by the caller cancels the daemon side', async () => {
    const sock = socketPath();
    const { aborted } = await startServer(sock);
    const c = await connect<StreamContract>(sock, 'test daemon');
    const ctl = new AbortController();
    const call = c.hang({}, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expect(call.result).rejects.toMatchObject({ message: 'hang cancelled' });
    expect(await aborted).toMatchObject({ message: 'cancelled by the caller' });
    c.close();
  });

  it('a timeout cancels the daemon side too', async () => {
    const sock = socketPath();
    const { aborted } = await startServer(sock);
    const c = await connect<StreamContract>(sock, 'test daemon');
    await expect(c.hang({}, { timeoutMs: 50 }).result).rejects.toThrow(/did not answer hang within 50 ms/);
    expect(await aborted).toMatchObject({ message: 'cancelled by the caller' });
    c.close();
  });

  it('a client process that dies mid-call cancels the handler', async () => {
    const sock = socketPath();
    const { aborted } = await startServer(sock);
    // A separate process speaks the wire protocol, reports the first event, and is killed -9.
    const script = `const s=require('net').connect(${JSON.stringify(sock)});s.setEncoding('utf8');` + `s.on('connect',()=>s.write(JSON.stringify({id:1,method:'hang',params:{}})+'\\n'));s.on('data',d=>process.stdout.write(d));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.unshift(() => child.kill('SIGKILL'));
    const first = await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(String(d))));
    expect(JSON.parse(first)).toEqual({ id: 1, event: { started: true } });
    child.kill('SIGKILL');
    expect(await aborted).toMatchObject({ message: 'the caller disconnected' });
  });
});

describe('a malformed line from a daemon', () => {
  for (const [what, line] of [
    ['not JSON', 'this is not json'],
    ['JSON without an id', '{"result":{}}'],
    ['an error without a message', '{"id":1,"error":{}}'],
  ] as const) {
    it(`(${what}) fails the pending call with a clear error and the client process lives on`, async () => {
      const sock = socketPath();
      const server = net.createServer((conn) => conn.once('data', () => conn.write(line + '\n')));
      await new Promise<void>((r) => server.listen(sock, r));
      cleanups.unshift(() => server.close());
      const c = await connect<StreamContract>(sock, 'test daemon');
      await expect(c.echo({ s: 'x' })).rejects.toMatchObject({
        category: 'bug',
        message: `the test daemon sent a malformed answer: ${JSON.stringify(line)}`,
      });
      c.close();
    });
  }
});

describe('types derived from the contract', () => {
  it('a missing handler, or an event of the wrong type, does not compile; stubs return the kind the contract says', () => {
    // @ts-expect-error count is missing
    const missing: Handlers<StreamContract> = { hang: async () => ({}), echo: async ({ s }) => ({ s }) };
    const wrongEvent: Handlers<Pick<StreamContract, 'count'>> = {
      count: async ({ n }, { emit }) => {
        // @ts-expect-error events of count are {i: number}
        emit({ i: 'one' });
        return { total: n };
      },
    };
    expect([missing, wrongEvent]).toHaveLength(2);
    type C = Awaited<ReturnType<typeof connect<StreamContract>>>;
    expectTypeOf<ReturnType<C['echo']>>().toEqualTypeOf<Promise<{ s: string }>>();
    expectTypeOf<Awaited<ReturnType<C['count']>['result']>>().toEqualTypeOf<{ total: number }>();
  });
});
