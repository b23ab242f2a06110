import { describe, expect, it } from 'vitest';
import { IPV6_NOT_SUPPORTED, formatCidr } from '@tel/cidr';
import type { NetworkConfig } from '@tel/contracts';
import { TUN_ADDRESS_CANDIDATES, planRouting } from './session.js';

const base = { managerSocket: '/tmp/m.sock', tcpTunnelSocket: '/tmp/mt.sock', subnets: ['10.96.0.0/12', '10.244.0.0/16'], excluded: [] };

describe('planRouting', () => {
  it('routes the subnets as given when nothing is excluded', () => {
    const p = planRouting(base);
    expect(p.routed.map(formatCidr)).toEqual(['10.96.0.0/12', '10.244.0.0/16']);
    expect(p.tunAddress).toBe(TUN_ADDRESS_CANDIDATES[0]);
  });

  it('picks a default tel0 address outside the routed subnets (the test cluster routes 198.18.128.0/17 and 198.19.0.0/16)', () => {
    expect(planRouting({ ...base, subnets: ['198.18.128.0/17', '198.19.0.0/16'] }).tunAddress).toBe('198.18.127.254');
  });

  it('cuts never-proxy and API-server addresses out, and normalizes what it reports', () => {
    const p = planRouting({
      ...base,
      excluded: [
        { cidr: '10.96.0.1/32', reason: 'api-server' },
        { cidr: '10.244.0.0/17', reason: 'never-proxy' },
      ],
    });
    const routed = p.routed.map(formatCidr);
    expect(routed).not.toContain('10.96.0.0/12');
    expect(routed).toHaveLength(20 + 1);
    expect(routed).toContain('10.96.0.0/32');
    expect(routed).toContain('10.244.128.0/17');
    expect(p.excluded).toEqual([
      { cidr: '10.96.0.1/32', reason: 'api-server' },
      { cidr: '10.244.0.0/17', reason: 'never-proxy' },
    ]);
  });

  it.each([
    [{ ...base, subnets: ['10.0.0.0/33'] }, 'subnet "10.0.0.0/33": prefix length 33 exceeds 32 for IPv4'],
    [{ ...base, excluded: [{ cidr: 'nope', reason: 'never-proxy' as const }] }, 'never-proxy exclusion "nope": missing /prefix (write a single address as /32)'],
    [{ ...base, tunAddress: '1.2.3' }, /invalid TUN address/],
    [{ ...base, subnets: ['fd00:10::/64'] }, `subnet "fd00:10::/64": ${IPV6_NOT_SUPPORTED}`],
    [{ ...base, tunAddress: '10.96.0.5' }, /TUN address 10.96.0.5 lies inside 10.96.0.0\/12/],
    [{ ...base, subnets: ['198.18.0.0/15'] }, /no free address for tel0/],
  ] as [NetworkConfig, string | RegExp][])('rejects bad input with a config error (%#)', (cfg, message) => {
    expect(() => planRouting(cfg)).toThrow(message);
  });
});
