// The root daemon's handoff against a real receiver: a wrong-user server is refused up front,
// a handed-over connection lives on at the receiver, and a vanished receiver means "carry it here".
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FdReceiver } from '@tel/fdpass';
import { createLogger } from '@tel/logging';
import { servedBy } from '../sys/libc.js';
import { FdHandoff } from './fd-handoff.js';

const log = createLogger(undefined);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tel-handoff-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'tcp-handoff.socket');
}

/** A server whose accepted (paused) connections are offered to `take`. */
async function acceptor(take: (s: net.Socket) => void): Promise<number> {
  const socks: net.Socket[] = [];
  const srv = net.createServer({ pauseOnConnect: true }, (s) => (socks.push(s), take(s)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of socks) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return (srv.address() as net.AddressInfo).port;
}

describe('FdHandoff', () => {
  it('refuses a handoff socket served by another user than the session owner', () => {
    const path = socketPath();
    const rx = new FdReceiver(path, () => undefined);
    cleanups.push(() => rx.close());
    expect(() => new FdHandoff(path, servedBy(4242, 'handoff socket'), log)).toThrow(/the handoff socket is served by uid 0 .*not by the session's user \(uid 4242\)/);
  });

  it('hands a connection over (the receiver answers on it) and falls back once the receiver is gone', async () => {
    const path = socketPath();
    const rx = new FdReceiver(path, (fd, payload) => {
      const s = new net.Socket({ fd, readable: true, writable: true });
      s.once('data', (d) => s.end(`${payload} got ${d}`));
    });
    const h = new FdHandoff(path, servedBy(process.getuid!(), 'handoff socket'), log);
    cleanups.push(() => h.close());
    const results: boolean[] = [];
    const port = await acceptor((s) => {
      const ok = h.handOver(s, '198.19.0.7', 80);
      results.push(ok);
      if (!ok) s.end('carried here');
    });
    const talk = () =>
      new Promise<string>((resolve) => {
        const c = net.connect(port, '127.0.0.1');
        let got = '';
        c.on('connect', () => c.write('hi'));
        c.on('data', (d) => (got += d));
        c.on('close', () => resolve(got));
        c.on('error', () => undefined);
      });
    expect(await talk()).toBe('198.19.0.7 80 got hi');
    rx.close();
    expect(await talk()).toBe('carried here');
    expect(results).toEqual([true, false]);
    expect(h.handedOver).toBe(1);
    expect(h.fallbacks).toBe(1);
  });
});
