import { describe, expect, it } from 'vitest';
import { matches, parseFilter } from '@tel/agent-config';
import { autoHeader, filterFromFlags, personalFilter } from './filter-flags.js';

const flags = (extra: Partial<Parameters<typeof filterFromFlags>[0]> = {}) => ({ httpHeader: [], ...extra });

describe('filter flags', () => {
  it('no --http-* flag: a global intercept', () => {
    expect(filterFromFlags(flags())).toBeUndefined();
  });

  it('takes the 2.x flags as given, and refuses a bad one in one line with how to fix it', () => {
    expect(filterFromFlags(flags({ httpHeader: ['x-dev=alice', 'x-b=.*'], httpPathPrefix: '/api' }))).toEqual({ headers: ['x-dev=alice', 'x-b=.*'], pathPrefix: '/api' });
    expect(() => filterFromFlags(flags({ httpHeader: ['x-dev=(a'] }))).toThrow(expect.objectContaining({ message: expect.stringMatching(/^--http-header "x-dev=\(a": .*Unterminated group$/), hint: expect.stringContaining('\\ before a literal') }));
    expect(() => filterFromFlags(flags({ httpHeader: ['x dev=a'] }))).toThrow(/not a valid header name/);
    expect(() => filterFromFlags(flags({ httpPathEqual: 'api' }))).toThrow(/a path starts with \//);
    expect(() => filterFromFlags(flags({ httpPathEqual: '/a', httpPathRegex: '/b' }))).toThrow(expect.objectContaining({ hint: expect.stringMatching(/^use only one of/) }));
  });

  it('auto becomes a header unique to the intercept, matched literally', () => {
    expect(filterFromFlags(flags({ httpHeader: ['auto'] }))).toEqual({ headers: ['auto'] });
    const f = personalFilter({ headers: ['auto'], pathPrefix: '/' }, '1234-ab', 'orders.shop');
    expect(f).toEqual({ headers: ['x-telepresence-intercept-id=1234-ab:orders\\.shop'], pathPrefix: '/' });
    expect(autoHeader(f)).toEqual({ name: 'x-telepresence-intercept-id', value: '1234-ab:orders.shop' });
    const parsed = parseFilter(f);
    if ('error' in parsed) throw new Error(parsed.error);
    const req = (v: string) => ({ method: 'GET', path: '/x', headers: new Map([['x-telepresence-intercept-id', [v]]]) });
    expect(matches(parsed.filter, req('1234-ab:orders.shop'))).toBe(true);
    expect(matches(parsed.filter, req('1234-ab:ordersXshop'))).toBe(false);
    expect(autoHeader({ headers: ['x-dev=a'] })).toBeUndefined();
  });
});
