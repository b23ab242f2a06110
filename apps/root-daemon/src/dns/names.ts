// Which names belong to the cluster, and under which fully qualified name the cluster DNS knows
// them. Pure logic shared by the resolver (per query) and the system hooks (routing domains).
import type { DnsLeftOutReason, DnsNamespace } from '@tel/contracts';
import { isDns1123Label, isIcannPublicSuffix } from '@tel/dns-names';

export interface NameRules {
  connectedNamespace: string;
  clusterDomain: string;
  includeSuffixes: string[];
  excludeSuffixes: string[];
  /** Reverse zones (`96.10.in-addr.arpa`) whose PTR names belong to the cluster. */
  reverseZones: string[];
}

/**
 * Where a query goes.
 * - `cluster`: ask the cluster for `fqdn`; when `fallback` is set, a cluster NXDOMAIN/NODATA is
 *   not final and the upstream nameserver is asked instead (a guess, e.g. a public-suffix namespace
 *   whose service list is unknown).
 * - `upstream`: not a cluster name; forward unchanged to the original nameserver.
 */
export type Route = { to: 'cluster'; fqdn: string; fallback: boolean; why: string } | { to: 'upstream'; why: string };

/** Lower-case, no trailing dot; the root is "". */
export function normalizeName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

export function normalizeSuffix(s: string): string {
  return normalizeName(s.startsWith('.') ? s.slice(1) : s);
}

/** True when `name` is `suffix` or ends with `.suffix` (label-aligned, never `xrs` for `rs`). */
export function hasSuffix(name: string, suffix: string): boolean {
  if (suffix === '') return true;
  return name === suffix || name.endsWith('.' + suffix);
}

/**
 * The namespaces the resolver maps names for, with the public-suffix treatment:
 * a namespace named like an ICANN public suffix (`rs`, `dev`) only claims `<service>.<ns>`
 * for its known services; with no service list it claims names tentatively (cluster first,
 * upstream on NXDOMAIN) and never gets a routing domain of its own.
 */
export class NamespaceTable {
  /** Ordinary namespaces: every `x.<ns>` is a cluster name. */
  readonly plain = new Set<string>();
  /** Public-suffix namespaces → known service names (undefined: unknown). */
  readonly publicSuffix = new Map<string, Set<string> | undefined>();
  readonly leftOut: { namespace: string; reason: DnsLeftOutReason; detail: string }[] = [];

  constructor(namespaces: DnsNamespace[], excludeSuffixes: string[] = []) {
    const excl = excludeSuffixes.map(normalizeSuffix);
    for (const ns of namespaces) {
      const name = normalizeName(ns.name);
      if (!isDns1123Label(name)) {
        this.leftOut.push({ namespace: ns.name, reason: 'invalid-label', detail: 'not a DNS-1123 label' });
        continue;
      }
      const ex = excl.find((s) => hasSuffix(name, s));
      if (ex !== undefined) {
        this.leftOut.push({ namespace: name, reason: 'excluded', detail: `matches exclude suffix .${ex}; names in it resolve upstream` });
        continue;
      }
      if (isIcannPublicSuffix(name)) {
        const services = ns.services?.map(normalizeName).filter(isDns1123Label);
        this.publicSuffix.set(name, services ? new Set(services) : undefined);
        this.leftOut.push({
          namespace: name,
          reason: 'public-suffix',
          detail: services
            ? `".${name}" is a public suffix: routed per service (${services.length} services), other *.${name} names resolve upstream`
            : `".${name}" is a public suffix and its services are unknown: *.${name} names try the cluster, then upstream`,
        });
        continue;
      }
      this.plain.add(name);
    }
  }

  has(ns: string): boolean {
    return this.plain.has(ns) || this.publicSuffix.has(ns);
  }

  get names(): string[] {
    return [...this.plain, ...this.publicSuffix.keys()].sort();
  }
}

/**
 * Decide the route for a query name. Order (first match wins):
 * 1. PTR names inside the cluster's reverse zones → cluster (an address match, not a guess);
 * 2. include suffixes → cluster, name unchanged (includes win over excludes);
 * 3. exclude suffixes → upstream;
 * 4. `*.<clusterDomain>` → cluster as is;
 * 5. `*.<ns>.svc` → append the cluster domain; `*.<ns>` → append `svc.<clusterDomain>`;
 *    for a public-suffix namespace only known services (or, with no service list, tentatively);
 * 6. a single label → `<label>.<connectedNamespace>.svc.<clusterDomain>`;
 * 7. anything else → upstream.
 */
export function route(qname: string, rules: NameRules, nss: NamespaceTable): Route {
  const name = normalizeName(qname);
  if (name === '') return { to: 'upstream', why: 'root' };
  const cd = normalizeName(rules.clusterDomain);

  if (name.endsWith('.arpa')) {
    const zone = rules.reverseZones.find((z) => hasSuffix(name, z));
    if (zone) return { to: 'cluster', fqdn: name, fallback: false, why: `reverse zone ${zone}` };
  }
  const inc = rules.includeSuffixes.map(normalizeSuffix).find((s) => hasSuffix(name, s));
  if (inc !== undefined) return { to: 'cluster', fqdn: name, fallback: false, why: `include suffix .${inc}` };
  const exc = rules.excludeSuffixes.map(normalizeSuffix).find((s) => hasSuffix(name, s));
  if (exc !== undefined) return { to: 'upstream', why: `exclude suffix .${exc}` };
  if (hasSuffix(name, cd)) return { to: 'cluster', fqdn: name, fallback: false, why: 'cluster domain' };

  const labels = name.split('.');
  const last = labels[labels.length - 1] as string;
  if (labels.length >= 3 && last === 'svc') {
    const ns = labels[labels.length - 2] as string;
    if (nss.has(ns)) return { to: 'cluster', fqdn: `${name}.${cd}`, fallback: false, why: `namespace ${ns} (.svc)` };
  }
  if (labels.length >= 2 && nss.has(last)) {
    const fqdn = `${name}.svc.${cd}`;
    if (nss.plain.has(last)) return { to: 'cluster', fqdn, fallback: false, why: `namespace ${last}` };
    // Public-suffix namespace: the service is the label right before the namespace
    // (`svc.rs`, `_http._tcp.svc.rs`, `pod-host.svc.rs` all have it there).
    const services = nss.publicSuffix.get(last);
    const svc = labels[labels.length - 2] as string;
    if (services === undefined) return { to: 'cluster', fqdn, fallback: true, why: `public-suffix namespace ${last}, services unknown` };
    if (services.has(svc)) return { to: 'cluster', fqdn, fallback: false, why: `service ${svc} in public-suffix namespace ${last}` };
    return { to: 'upstream', why: `${svc} is not a service in public-suffix namespace ${last}` };
  }
  if (labels.length === 1) {
    return { to: 'cluster', fqdn: `${name}.${normalizeName(rules.connectedNamespace)}.svc.${cd}`, fallback: false, why: 'single label: connected namespace' };
  }
  return { to: 'upstream', why: 'not a cluster name' };
}

/**
 * Reverse zones covering IPv4 CIDRs, octet-aligned: 10.96.0.0/12 → 96.10.in-addr.arpa … 111.10.in-addr.arpa.
 * Prefixes shorter than /8 are widened to their /8s; at most `limit` zones (wider prefixes first).
 */
export function reverseZones(cidrs: string[], limit = 256): string[] {
  const zones = new Set<string>();
  for (const c of cidrs) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(c.trim());
    if (!m) continue;
    const octets = m.slice(1, 5).map(Number);
    const bits = Number(m[5]);
    const zoneBits = Math.max(8, Math.min(24, Math.ceil(bits / 8) * 8));
    const base = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const first = (base & mask) >>> 0;
    const step = 2 ** (32 - zoneBits);
    const n = bits >= zoneBits ? 1 : 2 ** (zoneBits - bits);
    for (let i = 0; i < n && zones.size < limit; i++) {
      const a = (first + i * step) >>> 0;
      const parts = [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255].slice(0, zoneBits / 8);
      zones.add(`${parts.reverse().join('.')}.in-addr.arpa`);
    }
  }
  return [...zones];
}

/**
 * The domains the system resolver should send to us (routing domains) and the search domain.
 * - the cluster domain, one per ordinary namespace, include suffixes and reverse zones;
 * - a public-suffix namespace never gets `~<ns>` (that would take the whole TLD): each known
 *   service gets `~<svc>.<ns>` instead; with no service list it gets nothing (reachable as
 *   `svc.ns.svc.<clusterDomain>` and through the search domain);
 * - search: the connected namespace, or `<ns>.svc.<clusterDomain>` when that namespace is a
 *   public suffix (a search domain is a routing domain too).
 */
export function systemDomains(rules: NameRules, nss: NamespaceTable): { routing: string[]; search: string[] } {
  const cd = normalizeName(rules.clusterDomain);
  const routing = new Set<string>([cd]);
  // `name.ns.svc` is a documented short form; resolved only applies search domains to single
  // labels, so without `~svc` such names would go upstream and fail. `svc` is no ICANN TLD.
  if (!isIcannPublicSuffix('svc')) routing.add('svc');
  for (const ns of nss.plain) routing.add(ns);
  for (const [ns, services] of nss.publicSuffix) for (const s of services ?? []) routing.add(`${s}.${ns}`);
  for (const s of rules.includeSuffixes) routing.add(normalizeSuffix(s));
  for (const z of rules.reverseZones) routing.add(normalizeName(z));
  const connected = normalizeName(rules.connectedNamespace);
  const search = nss.publicSuffix.has(connected) ? [`${connected}.svc.${cd}`] : [connected];
  return { routing: [...routing].filter((d) => d !== ''), search };
}
