import { describe, expect, it } from 'vitest';
import { CidrError, IPV6_NOT_SUPPORTED, canonicalCidr, checkCidr, contains, formatCidr, hostCidr, parseCidr, parseIp, subtract, coveringCidr } from './index.js';

describe('checkCidr', () => {
  it.each([
    ['10.10.8.9/32', '10.10.8.9/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['198.18.128.0/17', '198.18.128.0/17'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['255.255.255.255/32', '255.255.255.255/32'],
    ['255.255.255.255/1', '128.0.0.0/1'],
  ])('accepts %s as %s', (input, canonical) => {
    expect(canonicalCidr(input)).toBe(canonical);
  });

  it.each([
    ['10.10.8.9', 'missing /prefix (write a single address as /32)'],
    ['', 'missing /prefix (write a single address as /32)'],
    ['10.10.8/24', '"10.10.8" is not an IPv4 address'],
    ['10.10.8.256/32', '"10.10.8.256" is not an IPv4 address'],
    ['010.1.1.1/32', '"010.1.1.1" is not an IPv4 address'],
    ['0x0a.1.1.1/32', '"0x0a.1.1.1" is not an IPv4 address'],
    ['167772161/32', '"167772161" is not an IPv4 address'],
    [' 10.0.0.0/8', '" 10.0.0.0" is not an IPv4 address'],
    ['10.0.0.0/8/1', '"10.0.0.0/8" is not an IPv4 address'],
    ['10.0.0.0/33', 'prefix length 33 exceeds 32 for IPv4'],
    ['10.0.0.0/-1', 'prefix "-1" is not a number'],
    ['10.0.0.0/08', 'prefix "08" is not a number'],
    ['10.0.0.0/', 'prefix "" is not a number'],
    ['fd00:::1/64', '"fd00:::1" is not an IPv6 address'],
    ['1::2::3/64', '"1::2::3" is not an IPv6 address'],
    ['1:2:3:4:5:6:7:8:9/64', '"1:2:3:4:5:6:7:8:9" is not an IPv6 address'],
    ['fe80::1%eth0/64', '"fe80::1%eth0" is not an IPv6 address'],
    ['12345::/16', '"12345::" is not an IPv6 address'],
    ['example.com/32', '"example.com" is not an IPv4 address'],
  ])('rejects %j: %s', (input, reason) => {
    expect(checkCidr(input)).toEqual({ ok: false, reason });
  });

  it.each(['fd00::/64', 'FD00::/8', '::/0', '::1/128', '::ffff:10.0.0.1/128', '2001:db8::/200', 'fd00::1'])('refuses the IPv6 subnet %s with the one IPv6 message', (input) => {
    expect(checkCidr(input)).toEqual({ ok: false, reason: IPV6_NOT_SUPPORTED, ipv6: true });
  });

  it('states in one line that IPv6 is not supported and what to do', () => {
    expect(IPV6_NOT_SUPPORTED).not.toContain('\n');
    expect(IPV6_NOT_SUPPORTED).toMatch(/IPv6 is not supported yet.*remove it or use an IPv4 subnet/);
  });
});

describe('throwing parsers', () => {
  it('parseCidr throws a CidrError with the reason and marks IPv6', () => {
    expect(() => parseCidr('10.0.0.0/40')).toThrow(new CidrError('prefix length 40 exceeds 32 for IPv4'));
    expect(() => parseCidr('fd00::/64')).toThrow(expect.objectContaining({ name: 'CidrError', message: IPV6_NOT_SUPPORTED, ipv6: true }));
    expect(parseCidr('10.1.2.3/16')).toEqual({ base: 0x0a010000, bits: 16 });
  });
  it.each([
    ['198.18.0.1', 0xc6120001],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
  ])('parseIp(%s) = %d', (text, value) => expect(parseIp(text)).toBe(value));
  it.each([
    ['1.2.3', '"1.2.3" is not an IPv4 address'],
    ['fd00::1', IPV6_NOT_SUPPORTED],
    ['10.0.0.1/32', '"10.0.0.1/32" is not an IPv4 address'],
  ])('parseIp(%j) throws %s', (text, message) => expect(() => parseIp(text)).toThrow(message));
});

describe('hostCidr', () => {
  it.each([
    ['198.18.0.1', '198.18.0.1/32'],
    ['fd00::1', undefined],
    ['nope', undefined],
  ])('%s → %s', (address, want) => expect(hostCidr(address)).toBe(want));
});

describe('contains', () => {
  const c = parseCidr;
  it.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', '11.0.0.0/16', false],
    ['0.0.0.0/0', '255.255.255.255/32', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
  ])('%s ⊇ %s: %s', (outer, inner, want) => expect(contains(c(outer), c(inner))).toBe(want));
});

describe('subtract', () => {
  const sub = (inc: string[], exc: string[]) => subtract(inc.map(parseCidr), exc.map(parseCidr)).map(formatCidr);
  it.each<[string, string[], string[], string[]]>([
    ['no exclusions', ['198.19.0.0/16'], [], ['198.19.0.0/16']],
    ['disjoint exclusion', ['198.19.0.0/16'], ['198.18.0.1/32'], ['198.19.0.0/16']],
    ['whole subnet excluded', ['198.19.1.0/24'], ['198.19.0.0/16'], []],
    ['exact match', ['198.19.1.0/24'], ['198.19.1.0/24'], []],
    ['upper half', ['198.19.0.0/16'], ['198.19.128.0/17'], ['198.19.0.0/17']],
    [
      'a /32 out of a /24',
      ['198.19.1.0/24'],
      ['198.19.1.20/32'],
      ['198.19.1.0/28', '198.19.1.16/30', '198.19.1.21/32', '198.19.1.22/31', '198.19.1.24/29', '198.19.1.32/27', '198.19.1.64/26', '198.19.1.128/25'],
    ],
    ['duplicates and nesting merged', ['198.19.0.0/16', '198.19.1.0/24', '198.19.0.0/16'], [], ['198.19.0.0/16']],
    ['two cuts', ['198.19.0.0/30'], ['198.19.0.1/32', '198.19.0.2/32'], ['198.19.0.0/32', '198.19.0.3/32']],
  ])('%s', (_name, inc, exc, want) => expect(sub(inc, exc)).toEqual(want));

  it('a /32 out of a /16 leaves 16 prefixes that cover everything else', () => {
    const out = subtract([parseCidr('198.19.0.0/16')], [parseCidr('198.19.1.20/32')]);
    expect(out).toHaveLength(16);
    expect(out.reduce((n, c) => n + 2 ** (32 - c.bits), 0)).toBe(65535);
  });
});

describe('coveringCidr', () => {
  it.each([
    [['10.0.0.1'], '10.0.0.1/32'],
    [['10.0.0.1', '10.0.0.2'], '10.0.0.0/30'],
    [['198.19.0.1', '198.19.0.10', '198.19.200.3'], '198.19.0.0/16'],
    [['10.0.0.1', '192.168.0.1'], '0.0.0.0/0'],
    [['fd00::1'], undefined],
  ])('%j → %s', (ips, want) => expect(coveringCidr(ips)).toBe(want));
});
