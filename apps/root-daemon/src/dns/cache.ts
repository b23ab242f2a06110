// Bounded, TTL-honouring cache of cluster answers for the workstation resolver. Entries expire
// after the smallest TTL in the answer (negative answers: the SOA's negative TTL, capped), and the
// least recently used entry goes first when full. TTLs handed out count down with the entry's age.
import type { Answer } from 'dns-packet';

export interface CachedAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
}

interface Entry {
  value: CachedAnswer;
  storedAt: number;
  expiresAt: number;
}

export interface AnswerCacheOptions {
  maxEntries?: number;
  /** Upper bound for any entry's lifetime, seconds (a long cluster TTL must not pin stale IPs). */
  maxTtlSeconds?: number;
  /** Upper bound for NXDOMAIN/NODATA lifetimes, seconds (namespaces and services come and go). */
  maxNegativeTtlSeconds?: number;
  now?: () => number;
}

export class AnswerCache {
  private readonly map = new Map<string, Entry>();
  private readonly max: number;
  private readonly maxTtl: number;
  private readonly maxNegTtl: number;
  private readonly now: () => number;

  constructor(opts: AnswerCacheOptions = {}) {
    this.max = opts.maxEntries ?? 2048;
    this.maxTtl = opts.maxTtlSeconds ?? 300;
    this.maxNegTtl = opts.maxNegativeTtlSeconds ?? 5;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  /** The answer with TTLs reduced by its age, or undefined when absent or expired. */
  get(key: string): CachedAnswer | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.expiresAt) {
      this.map.delete(key);
      return undefined;
    }
    // Refresh recency: Map keeps insertion order, so re-inserting moves it to the young end.
    this.map.delete(key);
    this.map.set(key, e);
    const age = Math.floor((now - e.storedAt) / 1000);
    if (age === 0) return e.value;
    return { rcode: e.value.rcode, answers: e.value.answers.map((a) => aged(a, age)), authorities: e.value.authorities.map((a) => aged(a, age)) };
  }

  /** Store unless the answer says not to (TTL 0, SERVFAIL and friends). */
  set(key: string, value: CachedAnswer): void {
    const ttl = cacheTtl(value, this.maxTtl, this.maxNegTtl);
    if (ttl <= 0) return;
    const now = this.now();
    this.map.delete(key);
    this.map.set(key, { value, storedAt: now, expiresAt: now + ttl * 1000 });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }
}

function aged(a: Answer, age: number): Answer {
  return 'ttl' in a && typeof a.ttl === 'number' ? ({ ...a, ttl: Math.max(0, a.ttl - age) } as Answer) : a;
}

const NOERROR = 0;
const NXDOMAIN = 3;

/** Seconds an answer may be cached: min TTL of the answers; negative: min(SOA ttl, SOA minimum). */
export function cacheTtl(v: CachedAnswer, maxTtl: number, maxNegTtl: number): number {
  if (v.rcode !== NOERROR && v.rcode !== NXDOMAIN) return 0;
  const ttls = v.answers.filter((a) => a.type !== 'OPT').map((a) => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0));
  if (v.rcode === NOERROR && ttls.length > 0) return Math.min(maxTtl, ...ttls);
  // NXDOMAIN or NODATA (RFC 2308): the SOA in the authority section bounds it; no SOA, no caching.
  const soa = v.authorities.find((a) => a.type === 'SOA');
  if (!soa || soa.type !== 'SOA') return 0;
  return Math.min(maxNegTtl, soa.ttl ?? 0, soa.data.minimum ?? 0);
}
