// Hands accepted workstation TCP connections to the user daemon (fd + original destination over
// its SOCK_SEQPACKET socket, @tel/fdpass), which carries the bytes over the manager's stream
// tunnel: the root daemon keeps the privileged half of the transparent proxy (rules, accept,
// SO_ORIGINAL_DST) and leaves the data path. Used when the user daemon offers it
// (NetworkConfig.tcpHandoffSocket); anything it can't take falls back to StreamTunnel.
import type net from 'node:net';
import { FdSender } from '@tel/fdpass';
import type { Logger } from '@tel/logging';

export class FdHandoff {
  private sender: FdSender | undefined;
  handedOver = 0;
  fallbacks = 0;
  lastError: string | undefined;

  /** Connects, then `verifyServer` (throwing refuses: see servedBy) checks who serves the socket. */
  constructor(
    readonly socketPath: string,
    verifyServer: (fd: number) => void,
    private readonly log: Logger,
  ) {
    const sender = new FdSender(socketPath);
    try {
      verifyServer(sender.fd);
    } catch (err) {
      sender.close();
      throw err;
    }
    this.sender = sender;
  }

  /**
   * Hand `sock` (accepted paused, nothing read) over; true when the user daemon has it, and our
   * copy is then closed. False: keep carrying it here.
   */
  handOver(sock: net.Socket, ip: string, port: number): boolean {
    const s = this.sender;
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (!s || typeof fd !== 'number' || fd < 0) return false;
    try {
      if (!s.send(fd, Buffer.from(`${ip} ${port}`, 'latin1'))) {
        this.fallbacks++; // its queue is full right now
        return false;
      }
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.log.warn('user daemon no longer takes TCP connections; carrying them here', { err: this.lastError });
      this.close();
      this.fallbacks++;
      return false;
    }
    this.handedOver++;
    sock.destroy(); // our copy of the fd; the connection lives on in the user daemon
    return true;
  }

  close(): void {
    this.sender?.close();
    this.sender = undefined;
  }
}
