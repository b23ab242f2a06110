// The one grammar for subnets (`--also-proxy`, `--never-proxy`, the kubeconfig `telepresence.io`
// extension, the cluster's pod/service subnets, the root daemon's routing config) and the IPv4
// arithmetic the routing plan needs. Pure; shared by the CLI, the user daemon and the root daemon.
import ipaddr from 'ipaddr.js';

/** An IPv4 subnet. IPv6 is refused at parse time: the root daemon routes IPv4 only. */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits zero). */
  base: number;
  /** Prefix length, 0-32. */
  bits: number;
}

/**
 * Why an IPv6 subnet is refused, word for word the same wherever a subnet is read (flags,
 * kubeconfig extension, routing config); the caller's message names where the value came from.
 */
export const IPV6_NOT_SUPPORTED = 'IPv6 is not supported yet (only IPv4 subnets are routed); remove it or use an IPv4 subnet';

export type CidrResult =
  | { ok: true; cidr: Cidr }
  /** `ipv6` marks a well-formed IPv6 subnet: valid text, refused because IPv6 is not routed. */
  | { ok: false; reason: string; ipv6?: true };

/** Thrown by the throwing parsers; `message` is the reason alone (callers add what and where). */
export class CidrError extends Error {
  constructor(
    message: string,
    /** True for a well-formed IPv6 value. */
    readonly ipv6 = false,
  ) {
    super(message);
    this.name = 'CidrError';
  }
}

/**
 * A dotted-quad IPv4 address as an unsigned integer, or undefined. Only four decimal parts without
 * leading zeros: ipaddr.js' plain parser also takes hex, octal and fewer parts (`10.1` is
 * 10.0.0.1 to inet_aton), none of which a person means in a subnet list.
 */
function ipv4Value(text: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return ipaddr.IPv4.parse(text).toByteArray().reduce((n, octet) => n * 256 + octet, 0);
}

/** A well-formed IPv6 address without a zone (a zone names a link, never part of a route). */
function isIpv6(text: string): boolean {
  return !text.includes('%') && ipaddr.IPv6.isValid(text);
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parse `address/prefix`; host bits are cleared (as Go's net.ParseCIDR does for 2.x configs). */
export function checkCidr(text: string): CidrResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  const slash = text.lastIndexOf('/');
  if (slash < 0) {
    if (isIpv6(text)) return { ok: false, reason: IPV6_NOT_SUPPORTED, ipv6: true };
    return { ok: false, reason: 'missing /prefix (write a single address as /32)' };
  }
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const base = ipv4Value(address);
  if (base === undefined) {
    if (isIpv6(address)) return { ok: false, reason: IPV6_NOT_SUPPORTED, ipv6: true };
    return { ok: false, reason: `${JSON.stringify(address)} is not an ${address.includes(':') ? 'IPv6' : 'IPv4'} address` };
  }
  if (!/^(0|[1-9]\d*)$/.test(prefixText)) return { ok: false, reason: `prefix ${JSON.stringify(prefixText)} is not a number` };
  const bits = Number(prefixText);
  if (bits > 32) return { ok: false, reason: `prefix length ${bits} exceeds 32 for IPv4` };
  return { ok: true, cidr: { base: (base & mask(bits)) >>> 0, bits } };
}

/** {@link checkCidr} for callers that wrap failures themselves: throws a {@link CidrError}. */
export function parseCidr(text: string): Cidr {
  const r = checkCidr(text);
  if (!r.ok) throw new CidrError(r.reason, r.ipv6 === true);
  return r.cidr;
}

/** A single IPv4 address as an unsigned integer; throws a {@link CidrError} otherwise. */
export function parseIp(text: string): number {
  const v = ipv4Value(text);
  if (v !== undefined) return v;
  if (isIpv6(text)) throw new CidrError(IPV6_NOT_SUPPORTED, true);
  throw new CidrError(`${JSON.stringify(text)} is not an IPv4 address`);
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

/** Canonical text of a subnet (host bits cleared), or throws a {@link CidrError}. */
export function canonicalCidr(text: string): string {
  return formatCidr(parseCidr(text));
}

/**
 * A single address as a host subnet (`/32`); undefined for an IPv6 address (nothing IPv6 is routed,
 * so nothing IPv6 needs excluding) and for anything that is not an address.
 */
export function hostCidr(address: string): string | undefined {
  const v = ipv4Value(address);
  return v === undefined ? undefined : formatCidr({ base: v, bits: 32 });
}

/**
 * The smallest subnet holding every IPv4 address given (IPv6 and non-addresses are skipped);
 * undefined when none is IPv4. The manager's guess when the cluster does not declare a range.
 */
export function coveringCidr(addresses: string[]): string | undefined {
  const v4 = addresses.map(ipv4Value).filter((v): v is number => v !== undefined);
  if (v4.length === 0) return undefined;
  const lo = Math.min(...v4);
  const hi = Math.max(...v4);
  let bits = 32;
  while (bits > 0 && ((lo & mask(bits)) >>> 0) !== ((hi & mask(bits)) >>> 0)) bits--;
  return formatCidr({ base: (lo & mask(bits)) >>> 0, bits });
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && ((inner.base & mask(outer.bits)) >>> 0) === outer.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}

/**
 * `from` minus `cut`, as the fewest CIDRs: halve `from` repeatedly, keeping the half that doesn't
 * hold `cut` — a /32 cut out of a /16 yields 16 prefixes (/17 … /32).
 */
function subtractOne(from: Cidr, cut: Cidr): Cidr[] {
  if (!overlaps(from, cut)) return [from];
  if (contains(cut, from)) return [];
  const out: Cidr[] = [];
  let cur = from;
  while (cur.bits < cut.bits) {
    const bits = cur.bits + 1;
    const low: Cidr = { base: cur.base, bits };
    const high: Cidr = { base: (cur.base + size(low)) >>> 0, bits };
    if (contains(low, cut)) {
      out.push(high);
      cur = low;
    } else {
      out.push(low);
      cur = high;
    }
  }
  return out;
}

/** Merge duplicates and prefixes nested in others; sorted by address. */
export function normalize(list: Cidr[]): Cidr[] {
  const sorted = [...list].sort((a, b) => a.base - b.base || a.bits - b.bits);
  const out: Cidr[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && contains(last, c)) continue;
    out.push(c);
  }
  return out;
}

/** Every address of `include` not in `exclude`, as a sorted list of non-overlapping CIDRs. */
export function subtract(include: Cidr[], exclude: Cidr[]): Cidr[] {
  let result = normalize(include);
  for (const cut of normalize(exclude)) result = result.flatMap((c) => subtractOne(c, cut));
  return normalize(result);
}
