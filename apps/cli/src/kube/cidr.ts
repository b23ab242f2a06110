// CIDR parsing for the subnets the user daemon hands to the root daemon (also-proxy, never-proxy,
// cluster subnets). Strict: a value is `address/prefix`, IPv4 dotted-quad or IPv6 (RFC 4291 text).

export interface Cidr {
  family: 4 | 6;
  /** Network address with the host bits cleared. */
  network: bigint;
  prefix: number;
}

/** Why a string is not a CIDR; undefined when it is one. */
export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

export function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // No signs, no hex, no leading zeros (ambiguous: octal in some parsers).
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

export function parseIPv6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined; // zones make no sense in a route
  let groups: number[] = [];
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parseHalf = (h: string, allowV4Tail: boolean): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const items = h.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (allowV4Tail && i === items.length - 1 && it.includes('.')) {
        const v4 = parseIPv4(it);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  if (halves.length === 2) {
    const head = parseHalf(halves[0]!, false);
    const tail = parseHalf(halves[1]!, true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseHalf(s, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parse `address/prefix`; host bits are cleared (as Go's net.ParseCIDR does for 2.x configs). */
export function parseCidr(s: string): CidrResult {
  if (typeof s !== 'string') return { ok: false, reason: 'not a string' };
  const slash = s.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'missing /prefix (write a single address as /32 or /128)' };
  const addr = s.slice(0, slash);
  const prefixText = s.slice(slash + 1);
  const family: 4 | 6 = addr.includes(':') ? 6 : 4;
  const value = family === 4 ? parseIPv4(addr) : parseIPv6(addr);
  if (value === undefined) return { ok: false, reason: `${JSON.stringify(addr)} is not an IPv${family} address` };
  const bits = family === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d*)$/.test(prefixText)) return { ok: false, reason: `prefix ${JSON.stringify(prefixText)} is not a number` };
  const prefix = Number(prefixText);
  if (prefix > bits) return { ok: false, reason: `prefix length ${prefix} exceeds ${bits} for IPv${family}` };
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  return { ok: true, cidr: { family, network: value & ~hostMask & ((1n << BigInt(bits)) - 1n), prefix } };
}

export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.family, c.network)}/${c.prefix}`;
}

export function formatAddress(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Canonical text of a CIDR string, or throws with the reason (callers wrap it with context). */
export function canonicalCidr(s: string): string {
  const r = parseCidr(s);
  if (!r.ok) throw new Error(r.reason);
  return formatCidr(r.cidr);
}

/** A single address as a host CIDR (/32 or /128). */
export function hostCidr(address: string): string | undefined {
  const family: 4 | 6 = address.includes(':') ? 6 : 4;
  const v = family === 4 ? parseIPv4(address) : parseIPv6(address);
  return v === undefined ? undefined : formatCidr({ family, network: v, prefix: family === 4 ? 32 : 128 });
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const shift = BigInt(bits - outer.prefix);
  return inner.network >> shift === outer.network >> shift;
}
