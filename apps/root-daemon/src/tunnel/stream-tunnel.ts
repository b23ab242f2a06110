// TCP through the manager's stream tunnel, carried by the root daemon: the fallback when the user
// daemon offers no TCP listener of its own (NetworkConfig.tcpListenerPort). Each workstation
// connection rides a connection to the user daemon's tunnel socket, which it turns into one
// port-forward stream pair; finished ones are reused (@tel/tcp-wire TcpCarrier). The socket must
// be served by the session's user.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@tel/logging';
import { TcpCarrier } from '@tel/tcp-wire';

export interface StreamTunnelOptions {
  socketPath: string;
  log: Logger;
  /** Called with the fd of each connection to `socketPath` before a byte is sent; throwing refuses it (see Http2DialerOptions). */
  verifyServer?: (fd: number) => void;
  answerTimeoutMs?: number;
}

export class StreamTunnel extends TcpCarrier {
  constructor(opts: StreamTunnelOptions) {
    super({
      log: opts.log,
      ...(opts.answerTimeoutMs ? { answerTimeoutMs: opts.answerTimeoutMs } : {}),
      dial: () =>
        new Promise<Duplex>((resolve, reject) => {
          // highWaterMark: frames are batched per event-loop turn; Node's 16 KiB would trip on a batch.
          const s = net.connect({ path: opts.socketPath, allowHalfOpen: true, highWaterMark: 1 << 20 } as net.NetConnectOpts);
          s.once('error', (err) => reject(new Error(`tunnel socket ${opts.socketPath}: ${err.message}`)));
          s.once('connect', () => {
            try {
              const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
              if (opts.verifyServer) {
                if (typeof fd !== 'number' || fd < 0) throw new Error('connected socket has no fd');
                opts.verifyServer(fd);
              }
              resolve(s);
            } catch (err) {
              s.destroy();
              reject(err);
            }
          });
        }),
    });
  }
}
