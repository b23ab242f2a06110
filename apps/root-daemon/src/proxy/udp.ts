// Transparent UDP proxy: one IP_TRANSPARENT socket receives what TPROXY diverted, with each
// datagram's original destination (IP_ORIGDSTADDR); every (source, destination) pair becomes one
// tunnel flow, and replies leave from a transparent socket bound to that destination, so the
// client sees them come from the address it sent to.
import type { Logger } from '@tel/logging';
import {
  DatagramReceiver,
  closeFd,
  localAddress,
  pollReadable,
  sendTo,
  transparentUdpSocket,
  type SockAddrIn,
} from '../sys/libc.js';
import type { DatagramFlow, Dialer } from '../tunnel/dialer.js';

const IDLE_MS = 60_000;
/** Datagrams read per readiness callback before yielding to the event loop. */
const BATCH = 64;
/** Datagrams held per flow while its tunnel stream opens. */
const MAX_QUEUED = 64;

interface Flow {
  client: SockAddrIn;
  destination: SockAddrIn;
  tunnel?: DatagramFlow;
  queued: Buffer[];
  lastActive: number;
  closed: boolean;
}

const key = (a: SockAddrIn) => `${a.ip}:${a.port}`;

export class UdpProxy {
  private fd = -1;
  private receiver: DatagramReceiver | undefined;
  private poller: { close(): void } | undefined;
  private readonly flows = new Map<string, Flow>();
  /** Reply sockets by destination, with the number of flows using each. */
  private readonly replySockets = new Map<string, { fd: number; users: number }>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly dialer: Dialer,
    private readonly log: Logger,
  ) {}

  get active(): number {
    return this.flows.size;
  }

  /** Bind the transparent socket on 127.0.0.1 (port picked by the kernel); returns the port. */
  listen(): number {
    this.fd = transparentUdpSocket({ ip: '127.0.0.1', port: 0 }, { recvOrigDst: true });
    this.receiver = new DatagramReceiver(this.fd);
    this.poller = pollReadable(this.fd, () => this.drain());
    this.sweeper = setInterval(() => this.sweep(), 10_000);
    this.sweeper.unref();
    return localAddress(this.fd).port;
  }

  private drain(): void {
    const receiver = this.receiver;
    if (!receiver) return;
    for (let i = 0; i < BATCH; i++) {
      let d;
      try {
        d = receiver.receive();
      } catch (err) {
        this.log.warn('udp receive failed', { err: String(err) });
        return;
      }
      if (!d) return;
      this.forward(d.from, d.origDst, d.payload);
    }
  }

  private forward(client: SockAddrIn, destination: SockAddrIn, payload: Buffer): void {
    const k = `${key(client)}>${key(destination)}`;
    let flow = this.flows.get(k);
    if (!flow) {
      flow = { client, destination, queued: [], lastActive: Date.now(), closed: false };
      this.flows.set(k, flow);
      this.open(k, flow);
    }
    flow.lastActive = Date.now();
    if (flow.tunnel) flow.tunnel.send(payload);
    else if (flow.queued.length < MAX_QUEUED) flow.queued.push(payload);
  }

  private open(k: string, flow: Flow): void {
    this.dialer.udp(flow.destination.ip, flow.destination.port).then(
      (tunnel) => {
        if (flow.closed) {
          tunnel.close();
          return;
        }
        let reply: number;
        try {
          reply = this.acquireReplySocket(flow.destination);
        } catch (err) {
          this.log.warn(`udp ${key(flow.destination)}: no reply socket`, { err: String(err) });
          tunnel.close();
          this.end(k, flow);
          return;
        }
        flow.tunnel = tunnel;
        tunnel.onMessage((payload) => {
          flow.lastActive = Date.now();
          sendTo(reply, payload, flow.client);
        });
        tunnel.onClose(() => this.end(k, flow));
        for (const p of flow.queued) tunnel.send(p);
        flow.queued = [];
      },
      (err: unknown) => {
        this.log.debug(`udp ${key(flow.destination)} refused`, { err: String(err) });
        this.end(k, flow);
      },
    );
  }

  private acquireReplySocket(destination: SockAddrIn): number {
    const k = key(destination);
    let entry = this.replySockets.get(k);
    if (!entry) {
      // Unconnected, so TPROXY's lookup for established sockets ignores it: it only ever sends.
      entry = { fd: transparentUdpSocket(destination, { recvOrigDst: false }), users: 0 };
      this.replySockets.set(k, entry);
    }
    entry.users++;
    return entry.fd;
  }

  private releaseReplySocket(destination: SockAddrIn): void {
    const k = key(destination);
    const entry = this.replySockets.get(k);
    if (!entry) return;
    if (--entry.users <= 0) {
      closeFd(entry.fd);
      this.replySockets.delete(k);
    }
  }

  private end(k: string, flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    if (this.flows.get(k) === flow) this.flows.delete(k);
    if (flow.tunnel) {
      flow.tunnel.close();
      this.releaseReplySocket(flow.destination);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [k, flow] of this.flows) if (flow.lastActive < cutoff) this.end(k, flow);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const [k, flow] of [...this.flows]) this.end(k, flow);
    this.poller?.close();
    this.poller = undefined;
    this.receiver = undefined;
    if (this.fd >= 0) closeFd(this.fd);
    this.fd = -1;
    for (const { fd } of this.replySockets.values()) closeFd(fd);
    this.replySockets.clear();
  }
}
