// A small authoritative DNS server for tests and benchmarks (stands in for the cluster DNS and for
// the upstream nameserver): answers from a record table, NXDOMAIN with an SOA otherwise, echoes
// EDNS, and can be told to stay silent for some names (to test timeouts). UDP and TCP.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { DnsTcpDeframer, frameDnsTcp } from '@tel/dns-wire';

export interface ZoneServer {
  host: string;
  port: number;
  /** Questions received, "name TYPE". */
  readonly seen: string[];
  records: Answer[];
  /** Names (lower case) that get no answer at all. */
  silent: Set<string>;
  close(): Promise<void>;
}

export async function startZoneServer(opts: { host?: string; port?: number; zone: string; records: Answer[]; ttlNegative?: number }): Promise<ZoneServer> {
  const host = opts.host ?? '127.0.0.1';
  const state = { records: opts.records, silent: new Set<string>(), seen: [] as string[] };
  const answer = (q: DecodedPacket, overUdp = false): Buffer | undefined => {
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    if (state.seen.length < 100_000) state.seen.push(`${name} ${question.type}`);
    if (state.silent.has(name)) return undefined;
    const byName = state.records.filter((r) => r.name.toLowerCase() === name);
    const cname = byName.find((r) => r.type === 'CNAME');
    let answers = byName.filter((r) => r.type === question.type);
    if (answers.length === 0 && cname && question.type !== 'CNAME') {
      const target = String((cname as { data: string }).data).toLowerCase();
      answers = [cname, ...state.records.filter((r) => r.name.toLowerCase() === target && r.type === question.type)];
    }
    const exists = byName.length > 0;
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT');
    const res = dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (exists ? 0 : 3),
      questions: q.questions,
      answers,
      authorities:
        answers.length === 0
          ? [{ type: 'SOA', name: opts.zone, ttl: 30, data: { mname: `ns.${opts.zone}`, rname: `admin.${opts.zone}`, serial: 1, refresh: 60, retry: 60, expire: 60, minimum: opts.ttlNegative ?? 5 } }]
          : [],
      additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    });
    // Over UDP, too big for the client: header + question only, TC set (the client retries over TCP).
    const limit = opt ? Math.min(1232, Math.max(512, (opt as { udpPayloadSize: number }).udpPayloadSize)) : 512;
    if (overUdp && res.length > limit) {
      return dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED), questions: q.questions });
    }
    return res;
  };
  const decode = (b: Buffer) => {
    try {
      return dnsPacket.decode(b);
    } catch {
      return undefined;
    }
  };
  // UDP and TCP on one port; when the kernel's UDP pick is taken for TCP, try another.
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  let port = 0;
  for (let attempt = 0; !tcp; attempt++) {
    const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(opts.port ?? 0, host, () => resolve());
    });
    const p = u.address().port;
    const t = net.createServer((s) => onTcp(s));
    const ok = await new Promise<boolean>((resolve) => {
      t.once('error', () => resolve(false));
      t.listen(p, host, () => resolve(true));
    });
    if (!ok) {
      u.close();
      if (opts.port || attempt >= 10) throw new Error(`zone server: TCP port ${p} is taken`);
      continue;
    }
    udp = u;
    tcp = t;
    port = p;
  }
  const udpSock = udp!;
  udpSock.on('message', (m, r) => {
    const q = decode(m);
    const res = q && q.type === 'query' ? answer(q, true) : undefined;
    if (res) udpSock.send(res, r.port, r.address);
  });
  function onTcp(s: net.Socket) {
    s.on('error', () => undefined);
    const deframer = new DnsTcpDeframer();
    s.on('data', (c: Buffer) =>
      deframer.push(c, (m) => {
        const q = decode(m);
        const res = q ? answer(q) : undefined;
        if (res) s.write(frameDnsTcp(res));
      }),
    );
  }
  const tcpServer = tcp;
  return {
    host,
    port,
    get seen() {
      return state.seen;
    },
    get records() {
      return state.records;
    },
    set records(r: Answer[]) {
      state.records = r;
    },
    silent: state.silent,
    close: async () => {
      udpSock.close();
      await new Promise<void>((resolve) => tcpServer.close(() => resolve()));
    },
  };
}

/** Ask a DNS server one question over UDP (or TCP); resolves with the decoded response. */
export function query(server: { host: string; port: number }, name: string, type: dnsPacket.RecordType = 'A', opts: { edns?: boolean; tcp?: boolean; timeoutMs?: number } = {}): Promise<DecodedPacket & { rcode?: string }> {
  const id = Math.floor(Math.random() * 65536);
  const msg = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no answer for ${name} within ${opts.timeoutMs ?? 5000} ms`));
    }, opts.timeoutMs ?? 5000);
    let cleanup = () => clearTimeout(timer);
    if (opts.tcp) {
      const s = net.connect(server.port, server.host);
      cleanup = () => {
        clearTimeout(timer);
        s.destroy();
      };
      let buf = Buffer.alloc(0);
      s.on('error', (e) => {
        cleanup();
        reject(e);
      });
      s.on('connect', () => {
        const h = Buffer.alloc(2);
        h.writeUInt16BE(msg.length);
        s.write(Buffer.concat([h, msg]));
      });
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          cleanup();
          resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as DecodedPacket & { rcode?: string });
        }
      });
      return;
    }
    const s = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    cleanup = () => {
      clearTimeout(timer);
      s.close();
    };
    s.on('message', (m) => {
      const p = dnsPacket.decode(m);
      if (p.id !== id) return;
      cleanup();
      resolve(p as DecodedPacket & { rcode?: string });
    });
    s.send(msg, server.port, server.host);
  });
}
