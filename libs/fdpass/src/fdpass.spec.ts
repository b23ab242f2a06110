// Real SCM_RIGHTS over a real SOCK_SEQPACKET socket, in one process: a TCP connection accepted
// here is handed over by fd and used on the other side as a Node socket.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FdReceiver, FdSender, FdPassError, peerCredentials } from './index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tel-fdpass-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'handoff.socket');
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('fd passing', () => {
  it('hands accepted TCP connections over with their payload; the receiver talks on them', async () => {
    const path = tempPath();
    const got: { fd: number; payload: string }[] = [];
    const rx = new FdReceiver(path, (fd, payload) => got.push({ fd, payload: payload.toString() }));
    cleanups.push(() => rx.close());
    const tx = new FdSender(path);
    cleanups.push(() => tx.close());

    // Accepted here (paused: nothing read), handed over, closed here.
    let sent = 0;
    const server = net.createServer({ pauseOnConnect: true }, (sock) => {
      const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
      expect(tx.send(fd, Buffer.from(`198.19.0.1 ${8080 + sent++}`))).toBe(true);
      sock.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as net.AddressInfo).port;

    const replies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => c.write(`hello ${i}`));
      c.on('data', (d) => replies.push(d.toString()));
      cleanups.push(() => c.destroy());
    }
    await until(() => got.length === 3);
    expect(got.map((g) => g.payload).sort()).toEqual(['198.19.0.1 8080', '198.19.0.1 8081', '198.19.0.1 8082']);
    // The received fds are live sockets: read the client's bytes, answer on them.
    for (const g of got) {
      const s = new net.Socket({ fd: g.fd, readable: true, writable: true });
      s.once('data', (d) => s.end(`echo ${d}`));
      cleanups.push(() => s.destroy());
    }
    await until(() => replies.length === 3);
    expect(replies.sort()).toEqual(['echo hello 0', 'echo hello 1', 'echo hello 2']);
  });

  it('lets the receiver refuse a peer, and reports a vanished receiver to the sender', async () => {
    const path = tempPath();
    const refused: { uid: number; pid: number }[] = [];
    const rx = new FdReceiver(path, () => undefined, (peerFd) => (refused.push(peerCredentials(peerFd)), false));
    const tx = new FdSender(path);
    cleanups.push(() => tx.close());
    await until(() => refused.length === 1);
    // Both ends see who the other is: here, this very process.
    expect(refused[0]).toMatchObject({ uid: process.getuid!(), pid: process.pid });
    expect(peerCredentials(tx.fd)).toMatchObject({ uid: process.getuid!(), pid: process.pid });
    rx.close();
    expect(() => tx.send(0, Buffer.from('x'))).toThrow(FdPassError);
    expect(() => new FdSender(path)).toThrow(/connect failed/);
  });
});
