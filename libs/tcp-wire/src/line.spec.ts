// readLine over real loopback TCP connections.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readLine } from './index.js';

const open: net.Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

/** A connected loopback pair: [client, accepted], both half-open capable, accepted paused. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const s = await accepted;
  await new Promise((r) => (client.connecting ? client.once('connect', r) : r(undefined)));
  server.close();
  open.push(client, s);
  return [client, s];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('readLine', () => {
  it('reads a line split across reads and keeps the bytes after it, leaving the socket paused', async () => {
    const [c, s] = await pair();
    const p = readLine(s, 128, 2000);
    c.write('TEL-');
    await sleep(20);
    c.write('TCP/1 1.2.');
    await sleep(20);
    c.write('3.4 80\nEARLY');
    const { line, rest } = await p;
    expect(line).toBe('TEL-TCP/1 1.2.3.4 80');
    expect(rest.toString()).toBe('EARLY');
    expect(s.listenerCount('data')).toBe(0);
    expect(s.isPaused()).toBe(true);
    // Bytes arriving later wait in the socket for whoever reads next.
    c.end('LATER');
    await sleep(50);
    const later: Buffer[] = [];
    s.on('data', (d: Buffer) => later.push(d));
    s.resume();
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(later).toString()).toBe('LATER');
  });

  it('returns an empty rest when the line ends the read', async () => {
    const [c, s] = await pair();
    const p = readLine(s, 128, 2000);
    c.write('OK\n');
    expect(await p).toEqual({ line: 'OK', rest: Buffer.alloc(0) });
  });

  it('accepts a line of exactly maxLen bytes and rejects one byte more', async () => {
    const [c1, s1] = await pair();
    const p1 = readLine(s1, 16, 2000);
    c1.write('x'.repeat(15) + '\n');
    expect((await p1).line).toBe('x'.repeat(15));

    const [c2, s2] = await pair();
    const p2 = readLine(s2, 16, 2000);
    c2.write('x'.repeat(10));
    await sleep(20);
    c2.write('x'.repeat(6) + '\n');
    await expect(p2).rejects.toThrow(/longer than 16 bytes/);
    expect(s2.listenerCount('data')).toBe(0);
  });

  it('rejects a line without newline once too long', async () => {
    const [c, s] = await pair();
    const p = readLine(s, 128, 2000);
    c.write('y'.repeat(300));
    await expect(p).rejects.toThrow(/longer than 128 bytes/);
  });

  it('rejects on timeout', async () => {
    const [c, s] = await pair();
    const p = readLine(s, 128, 50);
    c.write('TEL-TCP/1 ');
    await expect(p).rejects.toThrow(/within 50 ms/);
    expect(s.isPaused()).toBe(true);
  });

  it('rejects when the peer ends or resets first', async () => {
    const [c1, s1] = await pair();
    const p1 = readLine(s1, 128, 2000);
    c1.end('partial');
    await expect(p1).rejects.toThrow(/ended before the first line/);

    const [c2, s2] = await pair();
    const p2 = readLine(s2, 128, 2000);
    c2.resetAndDestroy();
    await expect(p2).rejects.toThrow(/before the first line/);
  });
});
