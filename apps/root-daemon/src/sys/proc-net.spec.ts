import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkListenerOwner, listenerUids } from './proc-net.js';

const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 100 0 0 10 0
`;

describe('listenerUids', () => {
  it('finds the owner of a loopback or wildcard listener, ignoring connected sockets', () => {
    expect(listenerUids(TABLE, 8080)).toEqual([1000]);
    expect(listenerUids(TABLE, 22)).toEqual([0]);
    expect(listenerUids(TABLE, 8081)).toEqual([]); // only an established socket there
    expect(listenerUids('', 8080)).toEqual([]);
  });

  it('checkListenerOwner says who owns the port when it is not the session user', () => {
    expect(() => checkListenerOwner(8080, 1000, () => TABLE)).not.toThrow();
    expect(() => checkListenerOwner(8080, 0, () => TABLE)).toThrow('127.0.0.1:8080 is listened on by uid 1000, not by the session\'s user (uid 0)');
    expect(() => checkListenerOwner(9, 0, () => TABLE)).toThrow('nothing listens on 127.0.0.1:9');
    expect(() => checkListenerOwner(null as unknown as number, 0, () => TABLE)).toThrow('tcpListenerPort null is not a TCP port');
  });

  it('reads the real table: a listener of ours is owned by our uid', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(() => checkListenerOwner(port, process.getuid!())).not.toThrow();
      expect(() => checkListenerOwner(port, process.getuid!() + 1)).toThrow(/not by the session's user/);
    } finally {
      server.close();
    }
  });
});
