// Starting a server of either role: listen, fail with the bind error (a port in use is the usual
// one), and answer the port really bound (tests ask for port 0).
import type { Server } from 'node:net';

export function listen(server: Pick<Server, 'listen' | 'once' | 'off' | 'address'>, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Stops accepting and ends the connections still open (which `close` alone would wait for). */
export function closeServer(server: Pick<Server, 'close'>, sockets: Iterable<{ destroy(): void }>): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}
