import { describe, expect, it } from 'vitest';
import type { HttpFilterSpec as FilterSpec } from '@tel/contracts';
import { matches, notHttpReason, parseFilter, targetPath, type Filter, type RequestHead } from './http-filter.js';

function req(path: string, headers: Record<string, string | string[]> = {}): RequestHead {
  const m = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) m.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  return { method: 'GET', path, headers: m };
}

function filter(spec: FilterSpec): Filter {
  const r = parseFilter(spec);
  if ('error' in r) throw new Error(r.error);
  return r.filter;
}

describe('parseFilter', () => {
  it.each([
    [{ headers: ['x-dev'] }, /expected NAME=VALUE/],
    [{ headers: ['=alice'] }, /expected NAME=VALUE/],
    [{ headers: ['x dev=alice'] }, /not a valid header name/],
    [{ headers: ['x-dev=(alice'] }, /--http-header "x-dev=\(alice": .*fix the regular expression/],
    [{ pathRegex: '/api/[' }, /--http-path-regex "\/api\/\[": .*fix the regular expression/],
    [{ pathEqual: '/a', pathPrefix: '/b' }, /--http-path-equal and --http-path-prefix given together/],
    [{ pathPrefix: 'api' }, /a path starts with \//],
    [{}, /needs a filter/],
  ] as [FilterSpec, RegExp][])('%j → one clear line', (spec, msg) => {
    const r = parseFilter(spec);
    expect('error' in r && r.error).toMatch(msg);
    if ('error' in r) expect(r.error).not.toContain('\n');
  });
});

describe('matches', () => {
  it.each([
    // header values are regular expressions for the whole value; names are case-insensitive
    [{ headers: ['X-Dev=alice'] }, req('/', { 'x-dev': 'alice' }), true],
    [{ headers: ['x-dev=alice'] }, req('/', { 'X-DEV': 'alice' }), true],
    [{ headers: ['x-dev=alice'] }, req('/', { 'x-dev': 'alice2' }), false],
    [{ headers: ['x-dev=alice'] }, req('/', { 'x-dev': 'malice' }), false],
    [{ headers: ['x-dev=ali.*'] }, req('/', { 'x-dev': 'alicia' }), true],
    [{ headers: ['x-dev=a|b'] }, req('/', { 'x-dev': 'ab' }), false],
    [{ headers: ['x-dev=a|b'] }, req('/', { 'x-dev': 'b' }), true],
    [{ headers: ['x-dev=alice'] }, req('/', {}), false],
    [{ headers: ['x-dev=alice'] }, req('/', { 'x-dev': ['bob', 'alice'] }), true],
    [{ headers: ['x-dev=alice', 'x-team=blue'] }, req('/', { 'x-dev': 'alice' }), false],
    [{ headers: ['x-dev=alice', 'x-team=blue'] }, req('/', { 'x-dev': 'alice', 'x-team': 'blue' }), true],
    [{ headers: ['x-dev='] }, req('/', { 'x-dev': '' }), true],
    [{ headers: ['x-q=a=b'] }, req('/', { 'x-q': 'a=b' }), true],
    [{ pathEqual: '/api' }, req('/api'), true],
    [{ pathEqual: '/api' }, req('/api/'), false],
    [{ pathPrefix: '/api/' }, req('/api/users'), true],
    [{ pathPrefix: '/api/' }, req('/apix'), false],
    [{ pathRegex: '/users/[0-9]+' }, req('/users/42'), true],
    [{ pathRegex: '/users/[0-9]+' }, req('/users/42/x'), false],
    [{ headers: ['x-dev=alice'], pathPrefix: '/api' }, req('/web', { 'x-dev': 'alice' }), false],
    [{ headers: ['x-dev=alice'], pathPrefix: '/api' }, req('/api/1', { 'x-dev': 'alice' }), true],
  ] as [FilterSpec, RequestHead, boolean][])('%j on %j → %s', (spec, r, want) => {
    expect(matches(filter(spec), r)).toBe(want);
  });
});

describe('targetPath', () => {
  it.each([
    ['/a/b?x=1', '/a/b'],
    ['/a%20b#frag', '/a b'],
    ['/bad%zz', '/bad%zz'],
    ['http://example.com:8080/p/q?z', '/p/q'],
    ['http://example.com', '/'],
    ['example.com:443', 'example.com:443'],
    ['*', '*'],
  ])('%s → %s', (t, want) => expect(targetPath(t)).toBe(want));
});

describe('notHttpReason', () => {
  it('takes declared and undeclared HTTP ports', () => {
    expect(notHttpReason({})).toBeUndefined();
    expect(notHttpReason({ servicePortName: 'http' })).toBeUndefined();
    expect(notHttpReason({ servicePortName: 'web' })).toBeUndefined();
    expect(notHttpReason({ servicePortName: 'grpc-api' })).toBeUndefined();
    expect(notHttpReason({ appProtocol: 'kubernetes.io/h2c' })).toBeUndefined();
    expect(notHttpReason({ appProtocol: 'HTTP', servicePortName: 'tcp-x' })).toBeUndefined();
  });
  it('refuses ports declared TLS or another protocol', () => {
    expect(notHttpReason({ servicePortName: 'https' })).toMatch(/https, not HTTP/);
    expect(notHttpReason({ servicePortName: 'tcp-db' })).toMatch(/tcp-db says tcp/);
    expect(notHttpReason({ appProtocol: 'mysql' })).toMatch(/appProtocol is mysql/);
    expect(notHttpReason({ appProtocol: 'kubernetes.io/wss', servicePortName: 'http' })).toMatch(/wss/);
  });
});
