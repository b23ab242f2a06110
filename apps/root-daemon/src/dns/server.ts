// The workstation's DNS server (UDP + TCP on one address:port, tel0's address in production):
// cluster names are mapped to their FQDN and asked through a ClusterResolver (cached), everything
// else is forwarded to the upstream nameserver. Every query is answered within lookupTimeout
// (SERVFAIL when nobody answered); malformed input is answered FORMERR or dropped, never a crash.
import dgram from 'node:dgram';
import net from 'node:net';
import type { DecodedPacket, Question } from 'dns-packet';
import type { DnsNamespace, DnsStatus } from '@tel/contracts';
import { DnsTcpDeframer, frameDnsTcp } from '@tel/dns-wire';
import type { Logger } from '@tel/logging';
import { AnswerCache } from './cache.js';
import type { ClusterAnswer, ClusterResolver } from './cluster.js';
import { NamespaceTable, normalizeName, route, type NameRules, type Route } from './names.js';
import type { Upstream } from './upstream.js';
import type { ClusterView } from './view.js';
import { encodeResponse, findOpt, isResponse, RCODE, rawErrorResponse, tryDecode } from './wire.js';

export const DEFAULT_LOOKUP_TIMEOUT_MS = 8_000;

export interface DnsServerOptions {
  /** Address to listen on (tel0's address; 127.0.0.1 in override mode). */
  host: string;
  /** Port; 0 lets the kernel pick one free for both UDP and TCP. */
  port: number;
  rules: NameRules;
  namespaces: DnsNamespace[];
  cluster: ClusterResolver;
  /** Where non-cluster names go; without one they are answered REFUSED. */
  upstream?: Upstream;
  lookupTimeoutMs?: number;
  log?: Logger;
  /** Queries handled at once; beyond this, SERVFAIL right away (bounded memory under floods). */
  maxInFlight?: number;
  cache?: AnswerCache;
  /** The user daemon's view of Services: names it covers are answered without asking the cluster. */
  view?: ClusterView;
}

type Stats = DnsStatus['stats'];
type Transport = 'udp' | 'tcp';

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 256;
const TCP_MAX_PENDING_PER_CONNECTION = 32;

export class DnsServer {
  readonly stats: Stats = { queries: 0, cluster: 0, upstream: 0, cacheHits: 0, servfail: 0, formerr: 0 };
  private rules: NameRules;
  private namespaceList: DnsNamespace[];
  private namespaces: NamespaceTable;
  private readonly cache: AnswerCache;
  private readonly lookupTimeoutMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  /** Identical concurrent cluster lookups share one request (resolved sends duplicates). */
  private readonly coalesce = new Map<string, Promise<ClusterAnswer>>();
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private boundPort = 0;

  constructor(private readonly opts: DnsServerOptions) {
    this.rules = opts.rules;
    this.namespaceList = opts.namespaces;
    this.namespaces = new NamespaceTable(opts.namespaces, opts.rules.excludeSuffixes);
    this.cache = opts.cache ?? new AnswerCache();
    this.lookupTimeoutMs = opts.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
    this.maxInFlight = opts.maxInFlight ?? 2048;
  }

  get address(): { host: string; port: number } {
    return { host: this.opts.host, port: this.boundPort };
  }

  get namespaceTable(): NamespaceTable {
    return this.namespaces;
  }

  get nameRules(): NameRules {
    return this.rules;
  }

  /** Replace the namespace list (from the caller's namespace watch); takes effect for the next query. */
  setNamespaces(list: DnsNamespace[]): void {
    this.namespaceList = list;
    this.namespaces = new NamespaceTable(list, this.rules.excludeSuffixes);
    this.cache.clear();
  }

  /** Forget cached cluster answers (the view changed: a cached answer may contradict it). */
  clearCache(): void {
    this.cache.clear();
  }

  setRules(rules: Partial<NameRules>): void {
    this.rules = { ...this.rules, ...rules };
    this.namespaces = new NamespaceTable(this.namespaceList, this.rules.excludeSuffixes);
    this.cache.clear();
  }

  /** Bind UDP and TCP on the same port (retrying when a kernel-picked UDP port is taken for TCP). */
  async listen(): Promise<{ host: string; port: number }> {
    for (let attempt = 0; ; attempt++) {
      // Our own address literal: a colon tells IPv6 (net.isIPv6 compiles a costly pattern on first use).
      const udp = dgram.createSocket({ type: this.opts.host.includes(':') ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.opts.port, this.opts.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = net.createServer({ pauseOnConnect: false }, (s) => this.onTcp(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: this.opts.host, port, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        if (this.opts.port !== 0 || attempt >= 5) throw err;
        continue;
      }
      tcp.on('error', (e) => this.opts.log?.warn('dns tcp server error', { err: String(e) }));
      tcp.maxConnections = TCP_MAX_CONNECTIONS;
      udp.on('error', (e) => this.opts.log?.warn('dns udp socket error', { err: String(e) }));
      udp.on('message', (msg, rinfo) => {
        void this.handle(msg, 'udp').then((res) => {
          if (res && this.udp) this.udp.send(res, rinfo.port, rinfo.address, () => undefined);
        });
      });
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return this.address;
    }
  }

  private onTcp(sock: net.Socket): void {
    this.conns.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('close', () => this.conns.delete(sock));
    const deframer = new DnsTcpDeframer();
    let pending = 0;
    sock.on('data', (chunk: Buffer) => {
      deframer.push(chunk, (msg) => {
        if (sock.destroyed) return;
        if (++pending > TCP_MAX_PENDING_PER_CONNECTION) {
          sock.destroy();
          return;
        }
        void this.handle(Buffer.from(msg), 'tcp').then((res) => {
          pending--;
          if (!res || sock.destroyed) return;
          sock.write(frameDnsTcp(res));
        });
      });
    });
  }

  /**
   * Answer one raw query (the whole server minus sockets; used by the fuzz test and benchmarks).
   * Resolves to the raw response, or undefined when nothing should be sent. Never rejects.
   */
  async handle(msg: Buffer, transport: Transport): Promise<Buffer | undefined> {
    try {
      return await this.handleUnsafe(msg, transport);
    } catch (err) {
      this.opts.log?.error('dns: unexpected failure answering a query (this is a bug)', { err: String(err) });
      this.stats.servfail++;
      return msg.length >= 12 ? rawErrorResponse(msg, RCODE.SERVFAIL) : undefined;
    }
  }

  private async handleUnsafe(msg: Buffer, transport: Transport): Promise<Buffer | undefined> {
    // Too short for a header, or a response (answering those would let two servers ping-pong).
    if (msg.length < 12 || isResponse(msg)) return undefined;
    this.stats.queries++;
    const q = tryDecode(msg);
    if (!q) {
      this.stats.formerr++;
      return rawErrorResponse(msg, RCODE.FORMERR);
    }
    if (((q as { opcode?: string }).opcode ?? 'QUERY') !== 'QUERY') return encodeResponse(q, { rcode: RCODE.NOTIMP }, transport);
    const question = q.questions?.[0];
    if (!question || q.questions!.length !== 1 || (question.class ?? 'IN') !== 'IN' && question.class !== 'ANY') {
      this.stats.formerr++;
      return encodeResponse(q, { rcode: RCODE.FORMERR }, transport);
    }
    const opt = findOpt(q);
    if (opt && opt.ednsVersion > 0) return encodeResponse(q, { rcode: 0, extendedRcode: 1 /* BADVERS */ }, transport);
    // Fast path: a cached cluster answer needs no timer, no abort controller, no await.
    const r = route(question.name, this.rules, this.namespaces);
    if (r.to === 'cluster') {
      // The view first: it follows every change within the user daemon's push, a cache does not.
      const local = this.opts.view?.answer(r.fqdn, question.type, this.rules.clusterDomain);
      // A tentative name (public-suffix namespace) the cluster doesn't know may be a public one.
      if (local && !(r.fallback && isNegative(local))) return this.clusterResponse(q, question, r.fqdn, local, transport);
      const hit = this.cache.get(cacheKey(r.fqdn, question.type));
      if (hit && !(r.fallback && isNegative(hit))) {
        this.stats.cacheHits++;
        return this.clusterResponse(q, question, r.fqdn, hit, transport);
      }
    }
    if (this.inFlight >= this.maxInFlight) {
      this.stats.servfail++;
      return encodeResponse(q, { rcode: RCODE.SERVFAIL }, transport);
    }
    this.inFlight++;
    const ac = new AbortController();
    // Answer a little before lookupTimeout so the client has our SERVFAIL before it gives up.
    const deadline = this.lookupTimeoutMs - Math.min(250, this.lookupTimeoutMs / 10);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadline);
    });
    try {
      const res = await Promise.race([this.resolve(msg, q, question, r, transport, ac.signal), timeout]);
      if (res === 'timeout') {
        ac.abort();
        this.stats.servfail++;
        this.opts.log?.debug(`dns: ${question.name} ${question.type} timed out`);
        return encodeResponse(q, { rcode: RCODE.SERVFAIL }, transport);
      }
      return res;
    } finally {
      clearTimeout(timer);
      this.inFlight--;
    }
  }

  private async resolve(raw: Buffer, q: DecodedPacket, question: Question, r: Route, transport: Transport, signal: AbortSignal): Promise<Buffer> {
    if (r.to === 'upstream') return this.forward(raw, q, transport, signal);
    // A cached negative answer for a tentative name lands here (not on the fast path): use it.
    let ans: ClusterAnswer | undefined = this.cache.get(cacheKey(r.fqdn, question.type));
    try {
      ans ??= await this.askCluster({ name: r.fqdn, type: question.type, class: 'IN' }, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      this.stats.servfail++;
      this.opts.log?.debug(`dns: cluster lookup of ${r.fqdn} failed`, { err: String(err) });
      return r.fallback ? this.forward(raw, q, transport, signal) : encodeResponse(q, { rcode: RCODE.SERVFAIL }, transport);
    }
    // A tentative mapping (public-suffix namespace with unknown services) that the cluster doesn't
    // know is not final: the name may well be a public one (docs.rs).
    if (r.fallback && isNegative(ans)) return this.forward(raw, q, transport, signal);
    return this.clusterResponse(q, question, r.fqdn, ans, transport);
  }

  /** Records for the FQDN are answered under the name that was asked (`svc.ns` → `svc.ns.svc.cluster.local`). */
  private clusterResponse(q: DecodedPacket, question: Question, fqdnIn: string, ans: ClusterAnswer, transport: Transport): Buffer {
    const fqdn = normalizeName(fqdnIn);
    const answers = ans.answers.map((a) => (normalizeName(a.name) === fqdn ? { ...a, name: question.name } : a));
    return encodeResponse(q, { rcode: ans.rcode, answers, authorities: ans.authorities }, transport);
  }

  private async askCluster(question: Question, signal: AbortSignal): Promise<ClusterAnswer> {
    const key = cacheKey(question.name, question.type);
    this.stats.cluster++;
    let p = this.coalesce.get(key);
    if (!p) {
      // The shared lookup gets its own deadline so one aborted client can't cancel the others'.
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), this.lookupTimeoutMs);
      p = this.opts.cluster.resolve(question, ac.signal).finally(() => {
        clearTimeout(t);
        this.coalesce.delete(key);
      });
      p.then((a) => this.cache.set(key, a)).catch(() => undefined);
      this.coalesce.set(key, p);
    }
    return abortable(p, signal);
  }

  private async forward(raw: Buffer, q: DecodedPacket, transport: Transport, signal: AbortSignal): Promise<Buffer> {
    this.stats.upstream++;
    if (!this.opts.upstream) return encodeResponse(q, { rcode: RCODE.REFUSED }, transport);
    try {
      const res = await this.opts.upstream.exchange(raw, { tcp: transport === 'tcp', signal });
      return res;
    } catch (err) {
      if (signal.aborted) throw err;
      this.stats.servfail++;
      return encodeResponse(q, { rcode: RCODE.SERVFAIL }, transport);
    }
  }

  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.conns) c.destroy();
    udp?.close();
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
}

const cacheKey = (name: string, type: string) => `${normalizeName(name)}|${type}`;
const isNegative = (a: ClusterAnswer) => a.rcode === RCODE.NXDOMAIN || (a.rcode === RCODE.NOERROR && a.answers.length === 0);

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
