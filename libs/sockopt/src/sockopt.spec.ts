// Real getsockopt calls on real sockets of this process. SO_ORIGINAL_DST of a REDIRECTed
// connection needs a netns with the rule: root-daemon network.e2e and userd connect.e2e.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SockoptError, originalDestination, peerCredentials } from './index.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

/** A connected pair over `listen` (a unix path or a TCP port on loopback): [client, accepted]. */
async function pair(listen: string | number): Promise<[net.Socket, net.Socket]> {
  let accepted!: (s: net.Socket) => void;
  const got = new Promise<net.Socket>((r) => (accepted = r));
  const srv = net.createServer((s) => accepted(s));
  await new Promise<void>((r) => (typeof listen === 'string' ? srv.listen(listen, r) : srv.listen(listen, '127.0.0.1', r)));
  const c = typeof listen === 'string' ? net.connect(listen) : net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  const s = await got;
  cleanups.push(() => {
    c.destroy();
    s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return [c, s];
}

describe('sockopt', () => {
  it('peerCredentials names the process at both ends of a unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tel-sockopt-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [c, s] = await pair(join(dir, 'peer.socket'));
    const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
    expect(peerCredentials(fdOf(c))).toEqual(me);
    expect(peerCredentials(fdOf(s))).toEqual(me);
  });

  it('peerCredentials of something that is not a socket fails with its errno', () => {
    expect(() => peerCredentials(0x7fff)).toThrow(SockoptError);
    try {
      peerCredentials(0x7fff);
    } catch (err) {
      expect((err as SockoptError).errno).toBe(9); // EBADF
    }
  });

  it('originalDestination of a connection that was not redirected is the listener itself, or an error', async () => {
    const [, accepted] = await pair(0);
    const local = { ip: accepted.localAddress, port: accepted.localPort };
    let dst: { ip: string; port: number } | undefined;
    try {
      dst = originalDestination(fdOf(accepted));
    } catch (err) {
      // No conntrack entry in this namespace (nf_conntrack not loaded): ENOENT.
      expect(err).toBeInstanceOf(SockoptError);
      expect((err as SockoptError).errno).toBe(2);
    }
    if (dst) expect(dst).toEqual(local);
  });
});
