// The user daemon's view of Services and EndpointSlices, as the resolver answers from it: Service
// names, headless endpoints, SRV for named ports and NXDOMAIN in namespaces it holds completely.
// Anything it cannot answer for certain returns undefined, and the name takes the cluster path.
// Boundary: user daemon → root daemon (`setDnsRecords`, validated here: it comes over IPC).
import net from 'node:net';
import type { Answer } from 'dns-packet';
import type { DnsNamespaceRecords, DnsRecordsUpdate, DnsServiceRecord, DnsViewStatus } from '@tel/contracts';
import type { ClusterAnswer } from './cluster.js';
import { normalizeName } from './names.js';
import { RCODE } from './wire.js';

/** TTL of answers from the view; the root daemon flushes resolved's cache when the view changes. */
export const VIEW_TTL_SECONDS = 5;

interface Service {
  v4: string[];
  v6: string[];
  headless: boolean;
  /** Headless: ready endpoints, by label (the hostname, or the address with dashes). */
  endpoints?: { ip: string; label: string }[];
  externalName?: string;
  ports: { name: string; protocol: string; port: number }[];
}

interface Namespace {
  complete: boolean;
  reason?: string;
  services: Map<string, Service>;
}

export class ClusterView {
  private readonly namespaces = new Map<string, Namespace>();
  private fallback: string[] = [];
  private serial = 1;
  readonly stats = { answered: 0, nxdomain: 0, passed: 0 };
  /** Called after every update that was applied (the session flushes caches). */
  onChange: (() => void) | undefined;

  /** Apply a push from the user daemon. Throws on a malformed update (nothing applied then). */
  apply(update: DnsRecordsUpdate): void {
    const checked = checkUpdate(update);
    if (checked.reset) this.namespaces.clear();
    for (const ns of checked.removed ?? []) this.namespaces.delete(ns);
    for (const ns of checked.namespaces) this.namespaces.set(ns.namespace.toLowerCase(), toNamespace(ns));
    this.fallback = checked.fallback ?? [];
    this.serial++;
    this.onChange?.();
  }

  clear(): void {
    this.namespaces.clear();
    this.fallback = [];
    this.stats.answered = this.stats.nxdomain = this.stats.passed = 0;
  }

  status(): DnsViewStatus {
    let complete = 0;
    let services = 0;
    // Namespaces left out for the same reason share one line (a user without any list right
    // would otherwise get a line per namespace).
    const byReason = new Map<string, string[]>();
    for (const [name, ns] of this.namespaces) {
      if (ns.complete) {
        complete++;
        services += ns.services.size;
        continue;
      }
      const reason = ns.reason ?? 'incomplete';
      byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
    }
    const fallback = [...this.fallback];
    for (const [reason, names] of byReason) {
      const shown = names.sort().slice(0, 5).join(', ');
      fallback.push(`${reason}: ${shown}${names.length > 5 ? ` and ${names.length - 5} more namespaces` : ''}`);
    }
    const path = complete === 0 ? 'cluster' : fallback.length ? 'mixed' : 'local';
    return { path, namespaces: complete, services, fallback, stats: { ...this.stats } };
  }

  /**
   * The answer for `fqdn` (normalized, inside `clusterDomain`), or undefined when the view cannot
   * say for certain (the caller asks the cluster then).
   */
  answer(fqdn: string, type: string, clusterDomain: string): ClusterAnswer | undefined {
    const a = this.lookup(fqdn, type, normalizeName(clusterDomain));
    if (!a) this.stats.passed++;
    else if (a.rcode === RCODE.NXDOMAIN) this.stats.nxdomain++;
    else this.stats.answered++;
    return a;
  }

  private lookup(fqdn: string, type: string, cd: string): ClusterAnswer | undefined {
    const suffix = `.svc.${cd}`;
    if (!fqdn.endsWith(suffix)) return undefined;
    const labels = fqdn.slice(0, -suffix.length).split('.');
    if (labels.length < 2 || labels.length > 4) return undefined;
    const nsName = labels[labels.length - 1]!;
    const ns = this.namespaces.get(nsName);
    if (!ns?.complete) return undefined;
    const svcName = labels[labels.length - 2]!;
    const svc = ns.services.get(svcName);
    const svcFqdn = `${svcName}.${nsName}${suffix}`;
    if (labels.length === 2) {
      if (!svc) return this.negative(RCODE.NXDOMAIN, cd);
      return this.serviceAnswer(svc, svcFqdn, type, cd);
    }
    if (!svc) return labels.length === 3 && !labels[0]!.startsWith('_') ? this.negative(RCODE.NXDOMAIN, cd) : undefined;
    if (labels.length === 3) {
      // `<hostname or a-b-c-d>.<svc>.<ns>`: a headless Service's endpoint.
      const ep = svc.endpoints?.filter((e) => e.label === labels[0]);
      if (!ep?.length) return undefined;
      return this.addresses(fqdn, ep.map((e) => e.ip), type, cd);
    }
    // `_<port>._<proto>.<svc>.<ns>`: SRV for a named port.
    const [portLabel, protoLabel] = labels as [string, string];
    if (type !== 'SRV' || !portLabel.startsWith('_') || !protoLabel.startsWith('_')) return undefined;
    const port = svc.ports.find((p) => p.name === portLabel.slice(1) && p.protocol === protoLabel.slice(1));
    if (!port) return undefined;
    const targets = svc.headless ? (svc.endpoints ?? []).map((e) => `${e.label}.${svcFqdn}`) : svc.externalName ? [] : [svcFqdn];
    if (!targets.length) return undefined;
    const weight = Math.floor(100 / targets.length);
    return { rcode: RCODE.NOERROR, authorities: [], answers: targets.map((target) => ({ type: 'SRV', name: fqdn, ttl: VIEW_TTL_SECONDS, data: { priority: 0, weight, port: port.port, target } }) as Answer) };
  }

  private serviceAnswer(svc: Service, fqdn: string, type: string, cd: string): ClusterAnswer | undefined {
    if (svc.externalName !== undefined) {
      // The chain (a public name, another Service) is the cluster DNS's to resolve; a CNAME
      // question is answered here.
      if (type !== 'CNAME') return undefined;
      return { rcode: RCODE.NOERROR, authorities: [], answers: [{ type: 'CNAME', name: fqdn, ttl: VIEW_TTL_SECONDS, data: svc.externalName }] };
    }
    if (svc.headless) {
      if (!svc.endpoints?.length) return undefined;
      return this.addresses(fqdn, svc.endpoints.map((e) => e.ip), type, cd);
    }
    return this.addresses(fqdn, [...svc.v4, ...svc.v6], type, cd);
  }

  private addresses(name: string, ips: string[], type: string, cd: string): ClusterAnswer | undefined {
    if (type !== 'A' && type !== 'AAAA' && type !== 'CNAME') return undefined;
    const want = type === 'A' ? 4 : 6;
    // Every address here passed ipFamily already: a colon is what tells IPv6.
    const found = type === 'CNAME' ? [] : [...new Set(ips)].filter((ip) => (ip.includes(':') ? 6 : 4) === want);
    if (!found.length) return this.negative(RCODE.NOERROR, cd);
    return { rcode: RCODE.NOERROR, authorities: [], answers: found.map((data) => ({ type, name, ttl: VIEW_TTL_SECONDS, data }) as Answer) };
  }

  /** NXDOMAIN or NODATA with the cluster zone's SOA, so stub resolvers cache it briefly (RFC 2308). */
  private negative(rcode: number, cd: string): ClusterAnswer {
    const soa: Answer = {
      type: 'SOA',
      name: cd,
      ttl: VIEW_TTL_SECONDS,
      data: { mname: `ns.dns.${cd}`, rname: `hostmaster.${cd}`, serial: this.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: VIEW_TTL_SECONDS },
    };
    return { rcode, answers: [], authorities: [soa] };
  }
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

function toNamespace(ns: DnsNamespaceRecords): Namespace {
  const services = new Map<string, Service>();
  for (const s of ns.services) {
    const name = s.name.toLowerCase();
    // A name no DNS query can carry (malformed object) is left out: it can't be asked for anyway.
    if (!LABEL.test(name)) continue;
    services.set(name, toService(s));
  }
  return { complete: ns.complete, ...(typeof ns.reason === 'string' && ns.reason ? { reason: ns.reason } : {}), services };
}

const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'object' || typeof x === 'string') : []);
/**
 * 4, 6, or 0 for anything else. One test per address, the IPv6 one only for text with a colon:
 * net.isIPv6 is far costlier than net.isIPv4, and a push at connect carries every Service.
 */
function ipFamily(v: unknown): 0 | 4 | 6 {
  if (typeof v !== 'string') return 0;
  if (net.isIPv4(v)) return 4;
  return v.includes(':') && net.isIPv6(v) ? 6 : 0;
}

function toService(s: DnsServiceRecord): Service {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const ip of list(s.clusterIPs)) {
    const family = ipFamily(ip);
    if (family === 4) v4.push(ip);
    else if (family === 6) v6.push(ip);
  }
  const endpoints = Array.isArray(s.endpoints)
    ? list(s.endpoints)
        .filter((e) => e !== null && ipFamily(e.ip) !== 0)
        .map((e) => ({ ip: e.ip, label: typeof e.hostname === 'string' && LABEL.test(e.hostname) ? e.hostname : dashed(e.ip) }))
    : undefined;
  const ports = list(s.ports).filter((p) => p !== null && typeof p.name === 'string' && PORT_NAME.test(p.name) && PROTOCOLS.has(p.protocol) && Number.isInteger(p.port) && p.port > 0 && p.port < 65536);
  return {
    v4,
    v6,
    headless: s.headless === true,
    ...(s.headless && endpoints ? { endpoints } : {}),
    ...(typeof s.externalName === 'string' && s.externalName ? { externalName: normalizeName(s.externalName) } : {}),
    ports,
  };
}

/** CoreDNS's label for an endpoint without hostname: its address (checked already) with dashes. */
const dashed = (ip: string) => (ip.includes(':') ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-')).toLowerCase();

function checkUpdate(u: unknown): DnsRecordsUpdate {
  const bad = (what: string): never => {
    throw new Error(`setDnsRecords: ${what}`);
  };
  if (typeof u !== 'object' || u === null) bad('expected an object');
  const x = u as Record<string, unknown>;
  if (typeof x.reset !== 'boolean') bad('reset must be a boolean');
  if (!Array.isArray(x.namespaces)) bad('namespaces must be a list');
  for (const ns of x.namespaces as unknown[]) {
    const n = ns as Record<string, unknown>;
    if (typeof n !== 'object' || n === null || typeof n.namespace !== 'string' || typeof n.complete !== 'boolean' || !Array.isArray(n.services)) bad('each namespace needs {namespace, complete, services}');
    for (const s of n.services as unknown[]) if (typeof s !== 'object' || s === null || typeof (s as { name?: unknown }).name !== 'string') bad('each service needs a name');
  }
  if (x.removed !== undefined && !(Array.isArray(x.removed) && x.removed.every((r) => typeof r === 'string'))) bad('removed must be a list of names');
  if (x.fallback !== undefined && !(Array.isArray(x.fallback) && x.fallback.every((r) => typeof r === 'string'))) bad('fallback must be a list of lines');
  return u as DnsRecordsUpdate;
}
