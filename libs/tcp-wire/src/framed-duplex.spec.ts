// FramedDuplex against the real other end: spliceFramed joining a plain loopback socket to the
// tunnel, as the user daemon does for an intercepted connection.
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FramedDuplex } from './framed-duplex.js';
import { spliceFramed } from './splice.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** A tunnel whose far end is spliced to an echo server that upper-cases what it gets, then ends. */
async function tunnelToEcho(): Promise<{ tunnel: net.Socket; plainClosed: Promise<unknown> }> {
  const app = net.createServer({ allowHalfOpen: true }, (s) => {
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => s.end(Buffer.concat(got).toString('latin1').toUpperCase()));
  });
  let plainClosed!: Promise<unknown>;
  const tunnelServer = net.createServer({ allowHalfOpen: true }, (t) => {
    const plain = net.connect({ port: (app.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    plainClosed = once(plain, 'close');
    spliceFramed(plain, t);
  });
  await Promise.all([new Promise<void>((r) => app.listen(0, '127.0.0.1', r)), new Promise<void>((r) => tunnelServer.listen(0, '127.0.0.1', r))]);
  cleanup.push(() => app.close(), () => tunnelServer.close());
  const tunnel = net.connect({ port: (tunnelServer.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  await once(tunnel, 'connect');
  await new Promise((r) => setTimeout(r, 20));
  return { tunnel, plainClosed };
}

describe('FramedDuplex', () => {
  it('carries a half-closed exchange both ways, byte-exact, and closes cleanly', async () => {
    const { tunnel, plainClosed } = await tunnelToEcho();
    const d = new FramedDuplex(tunnel);
    const got: Buffer[] = [];
    d.on('data', (b: Buffer) => got.push(b));
    const body = Buffer.alloc(3 * 1024 * 1024, 'abc');
    d.write(body.subarray(0, 1000));
    d.end(body.subarray(1000));
    await once(d, 'close');
    expect(Buffer.concat(got).equals(Buffer.from(body.toString('latin1').toUpperCase(), 'latin1'))).toBe(true);
    await plainClosed;
    expect(tunnel.destroyed || tunnel.writableEnded).toBe(true);
  });

  it('fails when the tunnel closes before both ends, and on a frame over the limit', async () => {
    const a = await tunnelToEcho();
    const d = new FramedDuplex(a.tunnel);
    const err = once(d, 'error');
    a.tunnel.destroy();
    expect(String((await err)[0])).toMatch(/closed before both ends/);

    const b = await tunnelToEcho();
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(0xffffffff, 0);
    const d2 = new FramedDuplex(b.tunnel, bad);
    const err2 = once(d2, 'error');
    expect(d2.destroyed).toBe(true);
    expect(String((await err2)[0])).toMatch(/a frame of 4294967295 bytes/);
  });
});
