// IPv4 CIDR arithmetic for the routing plan: which prefixes go into tel0 once the never-proxy and
// API-server exclusions are cut out. Pure; no I/O.

export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits zero). */
  base: number;
  bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(ip: string): number {
  const m = IPV4.exec(ip);
  if (!m) throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
    n = n * 256 + octet;
  }
  return n;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** "10.0.0.0/8" or a bare address (taken as /32). Host bits are cleared. */
export function parseCidr(text: string): Cidr {
  const [ip, len, ...rest] = text.trim().split('/');
  const bits = len === undefined ? 32 : Number(len);
  if (rest.length || !Number.isInteger(bits) || bits < 0 || bits > 32 || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`not an IPv4 CIDR: ${JSON.stringify(text)}`);
  }
  return { base: (parseIp(ip ?? '') & mask(bits)) >>> 0, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
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
