import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Method } from '@tel/contracts';
import { TelError, userError } from '@tel/errors';
import { NotRunningError, connect, serve, type Handlers } from './index.js';

interface TestContract {
  add: Method<{ a: number; b: number }, { sum: number }>;
  fail: Method<{}, {}>;
  crash: Method<{}, {}>;
  slow: Method<{ ms: number }, {}>;
  nothing: Method<{}, { x: number } | null>;
}

const handlers: Handlers<TestContract> = {
  add: async ({ a, b }) => ({ sum: a + b }),
  fail: async () => {
    throw userError('bad thing', 'do the other thing');
  },
  crash: async () => {
    throw new TypeError('oops');
  },
  slow: ({ ms }) => new Promise((r) => setTimeout(() => r({}), ms)),
  nothing: async () => null,
};

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

function tmp() {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
function track(s: Server) {
  cleanups.unshift(() => s.close());
  return s;
}

describe('ipc over a unix socket', () => {
  it('round-trips typed calls, concurrently, in order of completion', async () => {
    const sock = join(tmp(), 'sub', 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    const c = await connect<TestContract>(sock, 'test daemon');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.add({ a: i, b: 1 })));
    expect(results.map((r) => r.sum)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    c.close();
  });

  it('creates the socket 0600 in a 0700 directory', async () => {
    const dir = join(tmp(), 'private');
    const sock = join(dir, 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('carries user errors with their hint and marks unexpected ones as bugs', async () => {
    const sock = join(tmp(), 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    const c = await connect<TestContract>(sock, 'test daemon');
    await expect(c.fail({})).rejects.toMatchObject({ category: 'user', message: 'bad thing', hint: 'do the other thing' });
    const err = await c.crash({}).catch((e) => e);
    expect(err).toBeInstanceOf(TelError);
    expect(err).toMatchObject({ category: 'bug', message: 'oops' });
    c.close();
  });

  it('times out a call that does not answer', async () => {
    const sock = join(tmp(), 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    const c = await connect<TestContract>(sock, 'test daemon');
    await expect(c.slow({ ms: 500 }, { timeoutMs: 50 })).rejects.toThrow(/did not answer slow within 50 ms/);
    c.close();
  });

  it('reports a missing daemon as not running, and replaces a stale socket file', async () => {
    const sock = join(tmp(), 'd.socket');
    await expect(connect<TestContract>(sock, 'test daemon')).rejects.toBeInstanceOf(NotRunningError);
    writeFileSync(sock, '');
    await expect(connect<TestContract>(sock, 'test daemon')).rejects.toBeInstanceOf(NotRunningError);
    track(await serve<TestContract>(sock, handlers));
    const c = await connect<TestContract>(sock, 'test daemon');
    expect((await c.add({ a: 1, b: 2 })).sum).toBe(3);
    c.close();
  });

  it('keeps a null result null', async () => {
    const sock = join(tmp(), 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    const c = await connect<TestContract>(sock, 'test daemon');
    expect(await c.nothing({})).toBeNull();
    c.close();
  });

  it('answers every request of an unauthorized peer with a permission error', async () => {
    const sock = join(tmp(), 'd.socket');
    let seenFd = -1;
    const peer = { pid: 4321, uid: 65534, gid: 65534 };
    track(
      await serve<TestContract>(sock, handlers, {
        peerCredentials: (fd) => ((seenFd = fd), peer),
        authorize: (p) => p.uid === 0,
      }),
    );
    const c = await connect<TestContract>(sock, 'test daemon');
    await expect(c.add({ a: 1, b: 2 })).rejects.toMatchObject({
      category: 'user',
      message: `permission denied: the daemon on ${sock} serves only root and the user who started it, not uid 65534`,
    });
    expect(seenFd).toBeGreaterThan(0);
    c.close();
    peer.uid = 0;
    const ok = await connect<TestContract>(sock, 'test daemon');
    expect((await ok.add({ a: 1, b: 2 })).sum).toBe(3);
    ok.close();
  });

  it('refuses to authorize without a way to read peer credentials', async () => {
    await expect(serve<TestContract>(join(tmp(), 'd.socket'), handlers, { authorize: () => true })).rejects.toThrow(/authorize needs peerCredentials/);
  });

  it('refuses to take over a live socket', async () => {
    const sock = join(tmp(), 'd.socket');
    track(await serve<TestContract>(sock, handlers));
    await expect(serve<TestContract>(sock, handlers)).rejects.toThrow(/another daemon is already listening/);
  });
});
