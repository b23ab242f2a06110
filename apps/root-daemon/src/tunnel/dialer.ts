// What the root daemon's UDP proxy needs from the tunnel to the traffic manager: a datagram flow
// per UDP (source, destination) pair. (TCP rides the stream tunnel: @tel/tcp-wire.)

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
  udp(ip: string, port: number): Promise<DatagramFlow>;
  /** True while the tunnel answers pings. */
  readonly healthy: boolean;
  close(): void;
}

/** The far side refused or failed to reach the destination (a non-200 answer + x-tel-error). */
export class DialError extends Error {
  constructor(
    readonly destination: string,
    readonly reason: string,
  ) {
    super(`dial ${destination} through the traffic manager: ${reason}`);
  }
}
