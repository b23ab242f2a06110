import { describe, expect, it } from 'vitest';
import { canonicalCidr, cidrContains, hostCidr, parseCidr, type Cidr } from './cidr.js';

describe('parseCidr', () => {
  it.each([
    ['10.10.8.9/32', '10.10.8.9/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['198.18.128.0/17', '198.18.128.0/17'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['255.255.255.255/32', '255.255.255.255/32'],
    ['fd00::/8', 'fd00::/8'],
    ['FD00:0:0:0:0:0:0:1/128', 'fd00::1/128'],
    ['2001:db8::1:0:0:1/64', '2001:db8::/64'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['::/0', '::/0'],
    ['::1/128', '::1/128'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
    ['1:2:3:4:5:6:7:8/128', '1:2:3:4:5:6:7:8/128'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(canonicalCidr(input)).toBe(canonical);
  });

  it.each([
    ['10.10.8.9', 'missing /prefix (write a single address as /32 or /128)'],
    ['10.10.8/24', '"10.10.8" is not an IPv4 address'],
    ['10.10.8.256/32', '"10.10.8.256" is not an IPv4 address'],
    ['010.1.1.1/32', '"010.1.1.1" is not an IPv4 address'],
    ['10.0.0.0/33', 'prefix length 33 exceeds 32 for IPv4'],
    ['10.0.0.0/-1', 'prefix "-1" is not a number'],
    ['10.0.0.0/08', 'prefix "08" is not a number'],
    ['10.0.0.0/', 'prefix "" is not a number'],
    ['fd00::/129', 'prefix length 129 exceeds 128 for IPv6'],
    ['fd00:::1/64', '"fd00:::1" is not an IPv6 address'],
    ['1::2::3/64', '"1::2::3" is not an IPv6 address'],
    ['1:2:3:4:5:6:7:8:9/64', '"1:2:3:4:5:6:7:8:9" is not an IPv6 address'],
    ['1:2:3:4:5:6:7/64', '"1:2:3:4:5:6:7" is not an IPv6 address'],
    ['fe80::1%eth0/64', '"fe80::1%eth0" is not an IPv6 address'],
    ['12345::/16', '"12345::" is not an IPv6 address'],
    ['example.com/32', '"example.com" is not an IPv4 address'],
  ])('rejects %s: %s', (input, reason) => {
    expect(parseCidr(input)).toEqual({ ok: false, reason });
  });
});

describe('helpers', () => {
  const c = (s: string): Cidr => {
    const r = parseCidr(s);
    if (!r.ok) throw new Error(r.reason);
    return r.cidr;
  };
  it('hostCidr makes /32 and /128', () => {
    expect(hostCidr('198.18.0.1')).toBe('198.18.0.1/32');
    expect(hostCidr('fd00::1')).toBe('fd00::1/128');
    expect(hostCidr('nope')).toBeUndefined();
  });
  it('cidrContains compares families and prefixes', () => {
    expect(cidrContains(c('10.0.0.0/8'), c('10.1.0.0/16'))).toBe(true);
    expect(cidrContains(c('10.1.0.0/16'), c('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(c('10.0.0.0/8'), c('11.0.0.0/16'))).toBe(false);
    expect(cidrContains(c('::/0'), c('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(c('fd00::/8'), c('fd12::/16'))).toBe(true);
  });
});
