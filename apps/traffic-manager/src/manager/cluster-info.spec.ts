import { describe, expect, it } from 'vitest';
import { parseDestination } from './address.js';
import { clusterDomainFromResolvConf, parseServiceRangeError } from './cluster-info.js';

describe('parseServiceRangeError', () => {
  it.each([
    [
      'Service "x" is invalid: spec.clusterIPs: Invalid value: []string{"1.1.1.1"}: failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid range. The range of valid IPs is 198.19.0.0/16',
      ['198.19.0.0/16'],
    ],
    ['failed to allocated ip:1.1.1.1 with error:provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12', ['10.96.0.0/12']],
    ['The range of valid IPs is 10.96.0.0/12 ... The range of valid IPs is fd00:10:96::/112', ['10.96.0.0/12', 'fd00:10:96::/112']],
    ['forbidden', []],
  ])('%s', (msg, want) => expect(parseServiceRangeError(msg)).toEqual(want));
});


describe('clusterDomainFromResolvConf', () => {
  it('reads the domain from the search path', () => {
    expect(clusterDomainFromResolvConf('nameserver 10.96.0.10\nsearch ambassador.svc.corp.example svc.corp.example corp.example\noptions ndots:5\n')).toBe('corp.example');
    expect(clusterDomainFromResolvConf('nameserver 1.1.1.1\n')).toBeUndefined();
  });
});

describe('parseDestination', () => {
  it.each([
    ['10.0.0.1:80', { host: '10.0.0.1', port: 80, family: 4 }],
    ['[fd00::1]:53', { host: 'fd00::1', port: 53, family: 6 }],
    ['example.com:80', undefined],
    ['10.0.0.1:0', undefined],
    ['10.0.0.1:65536', undefined],
    ['10.0.0.1', undefined],
    ['', undefined],
  ])('%j', (s, want) => expect(parseDestination(s)).toEqual(want));
});
