import { describe, expect, it } from 'vitest';
import { IPV6_NOT_SUPPORTED } from '@tel/cidr';
import { apiServerAddresses, mergeCidrs, planNetwork } from './subnets.js';

const cluster = { podSubnets: ['198.18.128.0/17'], serviceSubnets: ['198.19.0.0/16'] };

describe('planNetwork', () => {
  it.each([
    [
      'cluster subnets; the API server address is excluded',
      { cluster, alsoProxy: [], neverProxy: [], apiServerAddresses: ['198.18.0.1'] },
      { subnets: ['198.18.128.0/17', '198.19.0.0/16'], excluded: [{ cidr: '198.18.0.1/32', reason: 'api-server' }] },
    ],
    [
      'also-proxy added, never-proxy excluded before the API server; its IPv6 address needs no exclusion',
      { cluster, alsoProxy: ['10.20.0.0/16'], neverProxy: ['198.18.128.7/32'], apiServerAddresses: ['198.18.0.1', 'fd00::1'] },
      {
        subnets: ['198.18.128.0/17', '198.19.0.0/16', '10.20.0.0/16'],
        excluded: [
          { cidr: '198.18.128.7/32', reason: 'never-proxy' },
          { cidr: '198.18.0.1/32', reason: 'api-server' },
        ],
      },
    ],
    [
      'a dual-stack cluster: its IPv4 subnets are routed, its IPv6 ones left alone',
      { cluster: { podSubnets: ['10.244.0.0/16', 'fd00:10:244::/56'], serviceSubnets: ['fd00:10:96::/112', '10.96.0.0/12'] }, alsoProxy: [], neverProxy: [], apiServerAddresses: [] },
      { subnets: ['10.244.0.0/16', '10.96.0.0/12'], excluded: [] },
    ],
    [
      'duplicates and covered subnets collapse into the wider one',
      { cluster: { podSubnets: ['10.0.1.0/24', '10.0.2.0/24'], serviceSubnets: ['10.96.0.0/12'] }, alsoProxy: ['10.0.0.0/16', '10.96.0.0/12'], neverProxy: [], apiServerAddresses: [] },
      { subnets: ['10.96.0.0/12', '10.0.0.0/16'], excluded: [] },
    ],
    [
      'an address both never-proxy and API server is listed once, as never-proxy',
      { cluster, alsoProxy: [], neverProxy: ['198.18.0.1/32'], apiServerAddresses: ['198.18.0.1'] },
      { subnets: ['198.18.128.0/17', '198.19.0.0/16'], excluded: [{ cidr: '198.18.0.1/32', reason: 'never-proxy' }] },
    ],
  ])('%s', (_name, input, expected) => {
    expect(planNetwork(input)).toEqual(expected);
  });

  it('blames the manager for a subnet it reported wrongly', () => {
    expect(() => planNetwork({ cluster: { podSubnets: ['10.0.0.0/99'], serviceSubnets: [] }, alsoProxy: [], neverProxy: [], apiServerAddresses: [] })).toThrow(
      expect.objectContaining({ category: 'cluster', message: 'the traffic manager reported an invalid pod subnet "10.0.0.0/99": prefix length 99 exceeds 32 for IPv4' }),
    );
  });
});

describe('mergeCidrs', () => {
  it('adds flag values to the extension list, canonical and once', () => {
    expect(mergeCidrs(['10.10.8.9/32'], ['10.10.8.9/32', '192.168.7.7/16'], '--never-proxy')).toEqual(['10.10.8.9/32', '192.168.0.0/16']);
  });
  it.each(['fd00::/64', 'FD00::1/128', '::ffff:10.0.0.1/128'])('refuses the IPv6 subnet %s up front, with the one IPv6 message', (v) => {
    expect(() => mergeCidrs([], ['10.0.0.0/8', v], '--also-proxy')).toThrow(
      expect.objectContaining({ category: 'user', message: `--also-proxy ${JSON.stringify(v)}: ${IPV6_NOT_SUPPORTED}`, hint: 'for example --also-proxy 10.10.8.0/24' }),
    );
  });
  it('names the flag and the value', () => {
    expect(() => mergeCidrs([], ['10.0.0.0/33'], '--also-proxy')).toThrow(
      expect.objectContaining({ category: 'user', message: '--also-proxy "10.0.0.0/33" is not a CIDR: prefix length 33 exceeds 32 for IPv4', hint: 'pass --also-proxy as address/prefix, e.g. 10.10.8.9/32' }),
    );
  });
});

describe('apiServerAddresses', () => {
  it('takes IP literals as they are and resolves names', async () => {
    expect(await apiServerAddresses('https://198.18.0.1:6443')).toEqual(['198.18.0.1']);
    expect(await apiServerAddresses('https://[fd00::1]:6443')).toEqual(['fd00::1']);
    expect(await apiServerAddresses('https://localhost:6443')).toContain('127.0.0.1');
    expect(await apiServerAddresses('not a url')).toEqual([]);
  });
});
