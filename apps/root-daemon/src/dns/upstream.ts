// Forwarding to the original (upstream) nameserver: names that are not for the cluster go out
// byte-for-byte (only the id is rewritten), over UDP from one socket, or over TCP when the client
// asked over TCP. Boundary: workstation resolver → the system's real nameserver.
import dgram from 'node:dgram';
import type net from 'node:net';
import { randomInt } from 'node:crypto';
import { dnsTcpExchange, type Nameserver } from '@tel/dns-wire';
import { questionEnd } from './wire.js';

export type NameserverAddress = Nameserver;

export function formatAddress(a: NameserverAddress): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

export interface Upstream {
  /** The nameservers asked, "ip:port". */
  readonly servers: string[];
  /** Send a raw query, resolve with the raw response (id restored). Rejects on abort/timeout. */
  exchange(query: Buffer, opts: { tcp: boolean; signal: AbortSignal }): Promise<Buffer>;
  close(): void;
}

export interface UdpUpstreamOptions {
  servers: NameserverAddress[];
  /** Local UDP port to send from (the overriding resolver excludes it from its redirect). 0: any. */
  bindPort?: number;
  bindAddress?: string;
  /** Whether TCP may be used towards the servers. */
  tcp?: boolean;
  /** Opens TCP connections to the servers (override mode: marked ones the redirect lets pass). */
  connectTcp?: (host: string, port: number) => net.Socket;
  /** Try the next server after this long without an answer. */
  retryMs?: number;
}

interface Pending {
  resolve: (b: Buffer) => void;
  clientId: number;
  question: Buffer;
}

export class DnsUpstream implements Upstream {
  readonly servers: string[];
  private socket: dgram.Socket | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly allowed: Set<string>;

  constructor(private readonly opts: UdpUpstreamOptions) {
    if (opts.servers.length === 0) throw new Error('no upstream nameserver');
    this.servers = opts.servers.map(formatAddress);
    this.allowed = new Set(this.servers);
  }

  /** The local UDP port queries leave from (after the first exchange or `open()`). */
  get localPort(): number | undefined {
    try {
      return this.socket?.address().port;
    } catch {
      return undefined;
    }
  }

  open(): Promise<void> {
    if (this.ready) return this.ready;
    const family = this.opts.servers[0]!.ip.includes(':') ? 'udp6' : 'udp4';
    const s = dgram.createSocket({ type: family });
    this.socket = s;
    s.on('message', (msg, rinfo) => this.onMessage(msg, formatAddress({ ip: rinfo.address, port: rinfo.port })));
    s.on('error', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind({ port: this.opts.bindPort ?? 0, address: this.opts.bindAddress }, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return this.ready;
  }

  private onMessage(msg: Buffer, from: string): void {
    if (msg.length < 12 || !this.allowed.has(from)) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p) return;
    // Spoofing guard beyond the 16-bit id: the echoed question must be the one we asked.
    const end = questionEnd(msg);
    if (end < 0 || !msg.subarray(12, end).equals(p.question)) return;
    this.pending.delete(msg.readUInt16BE(0));
    const out = Buffer.from(msg);
    out.writeUInt16BE(p.clientId, 0);
    p.resolve(out);
  }

  async exchange(query: Buffer, opts: { tcp: boolean; signal: AbortSignal }): Promise<Buffer> {
    if (opts.tcp && this.opts.tcp !== false) return this.exchangeTcp(query, opts.signal);
    await this.open();
    const end = questionEnd(query);
    if (end < 0) throw new Error('malformed question');
    let id = randomInt(0, 0x10000);
    for (let i = 0; this.pending.has(id); i++) {
      if (i > 64) throw new Error('too many queries in flight');
      id = randomInt(0, 0x10000);
    }
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      let idx = 0;
      let retry: NodeJS.Timeout | undefined;
      const send = () => {
        const srv = this.opts.servers[idx % this.opts.servers.length]!;
        idx++;
        this.socket?.send(out, srv.port, srv.ip, () => undefined);
        // UDP may be lost: ask again (the next server, if any) until answered or aborted.
        retry = setTimeout(send, this.opts.retryMs ?? 1000);
      };
      const done = () => {
        clearTimeout(retry);
        opts.signal.removeEventListener('abort', onAbort);
        if (this.pending.get(id) === entry) this.pending.delete(id);
      };
      const onAbort = () => {
        done();
        reject(new Error('upstream lookup aborted'));
      };
      const entry: Pending = {
        clientId: query.readUInt16BE(0),
        question: Buffer.from(query.subarray(12, end)),
        resolve: (b) => {
          done();
          resolve(b);
        },
      };
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort);
      this.pending.set(id, entry);
      send();
    });
  }

  private async exchangeTcp(query: Buffer, signal: AbortSignal): Promise<Buffer> {
    const srv = this.opts.servers[0]!;
    return dnsTcpExchange(srv, query, signal, this.opts.connectTcp);
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
    this.ready = undefined;
    this.pending.clear();
  }
}

