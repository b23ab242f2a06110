import { describe, expect, it } from 'vitest';
import { formatCidr, parseCidr, subtract } from './cidr.js';

const sub = (inc: string[], exc: string[]) => subtract(inc.map(parseCidr), exc.map(parseCidr)).map(formatCidr);

describe('parseCidr', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['198.19.1.10', '198.19.1.10/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/32', '255.255.255.255/32'],
  ])('%s → %s', (text, want) => expect(formatCidr(parseCidr(text))).toBe(want));

  it.each(['10.0.0.0/33', '10.0.0/8', '256.0.0.0/8', 'fe80::/10', '10.0.0.0/', '10.0.0.0/8/1', ''])('rejects %j', (text) => {
    expect(() => parseCidr(text)).toThrow(/IPv4/);
  });
});

describe('subtract', () => {
  it.each<[string, string[], string[], string[]]>([
    ['no exclusions', ['198.19.0.0/16'], [], ['198.19.0.0/16']],
    ['disjoint exclusion', ['198.19.0.0/16'], ['198.18.0.1/32'], ['198.19.0.0/16']],
    ['whole subnet excluded', ['198.19.1.0/24'], ['198.19.0.0/16'], []],
    ['exact match', ['198.19.1.0/24'], ['198.19.1.0/24'], []],
    ['upper half', ['198.19.0.0/16'], ['198.19.128.0/17'], ['198.19.0.0/17']],
    [
      'a /32 out of a /24',
      ['198.19.1.0/24'],
      ['198.19.1.20'],
      [
        '198.19.1.0/28',
        '198.19.1.16/30',
        '198.19.1.21/32',
        '198.19.1.22/31',
        '198.19.1.24/29',
        '198.19.1.32/27',
        '198.19.1.64/26',
        '198.19.1.128/25',
      ],
    ],
    ['duplicates and nesting merged', ['198.19.0.0/16', '198.19.1.0/24', '198.19.0.0/16'], [], ['198.19.0.0/16']],
    ['two cuts', ['198.19.0.0/30'], ['198.19.0.1', '198.19.0.2'], ['198.19.0.0/32', '198.19.0.3/32']],
  ])('%s', (_name, inc, exc, want) => expect(sub(inc, exc)).toEqual(want));

  it('a /32 out of a /16 leaves 16 prefixes that cover everything else', () => {
    const out = subtract([parseCidr('198.19.0.0/16')], [parseCidr('198.19.1.20')]);
    expect(out).toHaveLength(16);
    const total = out.reduce((n, c) => n + 2 ** (32 - c.bits), 0);
    expect(total).toBe(65535);
  });
});
