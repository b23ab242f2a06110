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
