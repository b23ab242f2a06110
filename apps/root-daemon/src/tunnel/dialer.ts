// What the root daemon's proxies need from the tunnel to the traffic manager: a byte stream per TCP
// connection and a datagram flow per UDP (source, destination) pair. Tests plug in their own.
import type { Duplex } from 'node:stream';

/** One UDP flow through the tunnel: datagrams keep their boundaries in both directions. */
export interface DatagramFlow {
  /** Send one datagram towards the destination (dropped if the flow is closed). */
  send(payload: Buffer): void;
  /** Called for every datagram the destination sends back. */
  onMessage(listener: (payload: Buffer) => void): void;
  /** Called once when the flow ends (either side, or the tunnel dropped). */
  onClose(listener: () => void): void;
  close(): void;
}

export interface Dialer {
  /**
   * A connected stream to ip:port in the cluster; rejects with DialError when the manager can't
   * reach it. `onStream`, when given, gets the stream as soon as it is opened, before the manager
   * answers, so the client's first bytes can travel with the dial instead of a round trip later.
   */
  tcp(ip: string, port: number, opts?: { onStream?: (stream: Duplex) => void }): Promise<Duplex>;
  udp(ip: string, port: number): Promise<DatagramFlow>;
  /** True while the tunnel answers pings. */
  readonly healthy: boolean;
  close(): void;
}

/** The far side refused or failed to reach the destination (the manager's 502 + x-tel-error). */
export class DialError extends Error {
  constructor(
    readonly destination: string,
    readonly reason: string,
  ) {
    super(`dial ${destination} through the traffic manager: ${reason}`);
  }
}
