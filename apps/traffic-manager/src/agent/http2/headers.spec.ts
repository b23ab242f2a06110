import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { passOn, requestHead } from './headers.js';

describe('requestHead', () => {
  it('reads method, decoded path and every field value in order; :authority stands in for host', () => {
    const raw = [':method', 'POST', ':path', '/a%20b/c?x=/alice/', ':authority', 'svc:80', ':scheme', 'http', 'x-dev', 'alice', 'x-dev', 'bob', 'cookie', 'a=1'];
    const parsed: http2.IncomingHttpHeaders = { ':method': 'POST', ':path': '/a%20b/c?x=/alice/', ':authority': 'svc:80', 'x-dev': 'alice, bob', cookie: 'a=1' };
    const head = requestHead(parsed, raw);
    expect(head.method).toBe('POST');
    expect(head.path).toBe('/a b/c');
    expect(head.headers.get('x-dev')).toEqual(['alice', 'bob']);
    expect(head.headers.get('host')).toEqual(['svc:80']);
    expect([...head.headers.keys()].some((k) => k.startsWith(':'))).toBe(false);
  });

  it('keeps a host field the client sent over :authority, and copes without raw headers or a path', () => {
    const head = requestHead({ ':method': 'CONNECT', ':authority': 'a:443', host: 'b' }, undefined);
    expect(head.headers.get('host')).toEqual(['b']);
    expect(head.path).toBe('');
  });
});

describe('passOn', () => {
  it('sends each field as it came, repeated fields apart, never-indexed ones still never-indexed', () => {
    const parsed = { ':status': 200, 'x-a': '1, 2', authorization: 's', [http2.sensitiveHeaders]: ['authorization'] } as unknown as http2.IncomingHttpHeaders;
    const out = passOn(parsed, [':status', '200', 'x-a', '1', 'x-a', '2', 'authorization', 's']);
    expect(Object.fromEntries(Object.entries(out))).toEqual({ ':status': '200', 'x-a': ['1', '2'], authorization: 's' });
    expect((out as Record<symbol, unknown>)[http2.sensitiveHeaders]).toEqual(['authorization']);
  });
});
