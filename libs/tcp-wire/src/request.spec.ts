import { describe, expect, it } from 'vitest';
import { encodeRequest, MAX_REQUEST_LINE, parseRequest, TCP_REQUEST_PREFIX } from './index.js';

describe('encodeRequest / parseRequest', () => {
  it('encodes the request line and parses it back (IPv4 and IPv6)', () => {
    expect(encodeRequest('10.1.2.3', 8080).toString()).toBe('TEL-TCP/1 10.1.2.3 8080\n');
    expect(encodeRequest('fd00::1', 53).toString()).toBe('TEL-TCP/1 fd00::1 53\n');
    expect(parseRequest('TEL-TCP/1 10.1.2.3 8080')).toEqual({ host: '10.1.2.3', port: 8080, family: 4 });
    expect(parseRequest('TEL-TCP/1 fd00::1 53')).toEqual({ host: 'fd00::1', port: 53, family: 6 });
    expect(parseRequest('TEL-TCP/1 ::ffff:1.2.3.4 1')).toEqual({ host: '::ffff:1.2.3.4', port: 1, family: 6 });
    expect(parseRequest('TEL-TCP/1 1.2.3.4 65535\n')).toEqual({ host: '1.2.3.4', port: 65535, family: 4 });
    const longest = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    expect(parseRequest(encodeRequest(longest, 65535).toString())).toEqual({ host: longest, port: 65535, family: 6 });
    expect(TCP_REQUEST_PREFIX).toBe('TEL-TCP/1');
  });

  it.each([
    '',
    'TEL-TCP/1',
    'TEL-TCP/2 1.2.3.4 80',
    'tel-tcp/1 1.2.3.4 80',
    'TEL-TCP/1  1.2.3.4 80',
    'TEL-TCP/1 1.2.3.4  80',
    'TEL-TCP/1 1.2.3.4 80 ',
    ' TEL-TCP/1 1.2.3.4 80',
    'TEL-TCP/1\t1.2.3.4 80',
    'TEL-TCP/1 1.2.3.4',
    'TEL-TCP/1 1.2.3.4 80\r',
    'TEL-TCP/1 1.2.3.4 80\n\n',
    'TEL-TCP/1 example.com 80',
    'TEL-TCP/1 [fd00::1] 80',
    'TEL-TCP/1 1.2.3 80',
    'TEL-TCP/1 1.2.3.4 0',
    'TEL-TCP/1 1.2.3.4 65536',
    'TEL-TCP/1 1.2.3.4 080',
    'TEL-TCP/1 1.2.3.4 8.0',
    'TEL-TCP/1 1.2.3.4 -1',
    'TEL-TCP/1 1.2.3.4 0x50',
    'TEL-TCP/1 1.2.3.4 123456',
  ])('rejects %j', (line) => {
    const r = parseRequest(line);
    expect(r).toHaveProperty('error');
    expect((r as { error: string }).error).not.toMatch(/\n/);
  });

  it('refuses to encode what the manager would refuse', () => {
    expect(() => encodeRequest('example.com', 80)).toThrow(/IP literal/);
    expect(() => encodeRequest('[::1]', 80)).toThrow(/IP literal/);
    expect(() => encodeRequest('1.2.3.4', 0)).toThrow(/port/);
    expect(() => encodeRequest('1.2.3.4', 65536)).toThrow(/port/);
    expect(() => encodeRequest('1.2.3.4', 1.5)).toThrow(/port/);
    expect(encodeRequest('ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 65535).length).toBeLessThanOrEqual(MAX_REQUEST_LINE);
  });
});
