import { describe, expect, it } from 'vitest';
import type { Answer } from 'dns-packet';
import { AnswerCache, cacheTtl } from './cache.js';

const a = (ttl: number, ip = '10.96.0.1'): Answer => ({ type: 'A', name: 'x.default.svc.cluster.local', ttl, data: ip });
const soa = (ttl: number, minimum: number): Answer => ({ type: 'SOA', name: 'cluster.local', ttl, data: { mname: 'ns', rname: 'h', minimum } });

describe('AnswerCache', () => {
  it('honours the smallest TTL and counts TTLs down', () => {
    let now = 1_000_000;
    const c = new AnswerCache({ now: () => now });
    c.set('k', { rcode: 0, answers: [a(30), a(10, '10.96.0.2')], authorities: [] });
    now += 4_000;
    expect(c.get('k')?.answers.map((x) => (x as { ttl: number }).ttl)).toEqual([26, 6]);
    now += 6_000;
    expect(c.get('k')).toBeUndefined();
  });

  it('never caches TTL 0 or SERVFAIL; caps long TTLs and negative answers', () => {
    const c = new AnswerCache();
    c.set('zero', { rcode: 0, answers: [a(0)], authorities: [] });
    c.set('fail', { rcode: 2, answers: [], authorities: [] });
    expect(c.size).toBe(0);
    expect(cacheTtl({ rcode: 0, answers: [a(86400)], authorities: [] }, 300, 5)).toBe(300);
    expect(cacheTtl({ rcode: 3, answers: [], authorities: [soa(30, 60)] }, 300, 5)).toBe(5);
    expect(cacheTtl({ rcode: 3, answers: [], authorities: [soa(30, 2)] }, 300, 5)).toBe(2);
    expect(cacheTtl({ rcode: 3, answers: [], authorities: [] }, 300, 5)).toBe(0);
    expect(cacheTtl({ rcode: 0, answers: [], authorities: [soa(30, 3)] }, 300, 5)).toBe(3); // NODATA
  });

  it('is bounded: the least recently used entry goes first', () => {
    const c = new AnswerCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) c.set(k, { rcode: 0, answers: [a(30)], authorities: [] });
    c.get('a');
    c.set('d', { rcode: 0, answers: [a(30)], authorities: [] });
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    for (let i = 0; i < 10_000; i++) c.set(`k${i}`, { rcode: 0, answers: [a(30)], authorities: [] });
    expect(c.size).toBe(3);
  });
});
