// The kernel-facing commands, checked against a recording runner (nothing is executed).
import { describe, expect, it } from 'vitest';
import { parseCidr } from '@tel/cidr';
import { configureLink, findLeftovers, installRedirects, nftRuleset, removeAll, type Runner } from './linux.js';

function recorder(outputs: Record<string, string> = {}) {
  const calls: string[] = [];
  const run: Runner = async (cmd, args, stdin) => {
    const line = [cmd, ...args].join(' ');
    calls.push(stdin === undefined ? line : `${line} <<${stdin}`);
    return outputs[line] ?? '';
  };
  return { calls, run };
}

const LEFTOVER_STATE = {
  'ip -o link show': '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n7: tel0: <POINTOPOINT,NOARP> mtu 1500\n',
  'nft list tables': 'table ip filter\ntable ip telepresence\n',
  'ip rule show': '0:\tfrom all lookup local\n7210:\tfrom all fwmark 0x7e10 lookup 7210\n7210:\tfrom all fwmark 0x7e10 lookup 7210\n32766:\tfrom all lookup main\n',
  'ip route show table 7210': 'local default dev lo scope host \n',
};

describe('routing on Linux', () => {
  it('nftRuleset redirects TCP and marks UDP only for routed prefixes, in one transaction that fails if the table exists', () => {
    const text = nftRuleset({ routes: [parseCidr('198.19.0.0/17'), parseCidr('198.19.128.0/17')], tcpPort: 4000, udpPort: 4001 });
    expect(text.split('\n').slice(0, 2)).toEqual(['create table ip telepresence', 'table ip telepresence {']);
    expect(text).not.toContain('delete');
    expect(text).toContain('elements = { 198.19.0.0/17, 198.19.128.0/17 }');
    expect(text).toContain('ip daddr @routed meta l4proto tcp redirect to :4000');
    expect(text).toContain('ip daddr @routed meta l4proto udp meta mark set 0x7e10');
    expect(text).toContain('iifname "lo" meta mark 0x7e10 meta l4proto udp tproxy to 127.0.0.1:4001 accept');
  });

  it('configureLink uses one ip -batch for tel0, its routes and the fwmark rule + table, adding (never replacing)', async () => {
    const { calls, run } = recorder();
    await configureLink(run, { address: '198.18.255.254', routes: [parseCidr('198.19.0.0/17')] });
    expect(calls).toEqual([
      'ip -batch - <<address add 198.18.255.254/32 dev tel0\nlink set dev tel0 up\nroute add 198.19.0.0/17 dev tel0 src 198.18.255.254\n' +
        'route add local 0.0.0.0/0 dev lo table 7210\nrule add fwmark 0x7e10 lookup 7210 priority 7210\n',
    ]);
  });

  it('installRedirects is one nft process; its failure is one line naming the table', async () => {
    const { calls, run } = recorder();
    await installRedirects(run, { routes: [parseCidr('198.19.0.0/17')], tcpPort: 4000, udpPort: 4001 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^nft -f - <<create table ip telepresence\n/);
    const exists: Runner = async () => {
      throw new Error('nft -f -: /dev/stdin:1:17-28: Error: Could not process rule: File exists\ncreate table ip telepresence\n                ^^^^^^^^^^^^');
    };
    await expect(installRedirects(exists, { routes: [], tcpPort: 1, udpPort: 2 })).rejects.toThrow(/^nftables table ip telepresence: Error: Could not process rule: File exists$/);
  });

  it('a leftover fwmark rule or local table route is named by its batch line', async () => {
    const run: Runner = async () => {
      throw new Error('ip -batch -: RTNETLINK answers: File exists\nCommand failed -:5');
    };
    await expect(configureLink(run, { address: '198.18.255.254', routes: [parseCidr('198.19.0.0/17')] })).rejects.toThrow(
      /^rule add fwmark 0x7e10 lookup 7210 priority 7210: RTNETLINK answers: File exists$/,
    );
  });

  it('names the route that clashes with one the host already has', async () => {
    const run: Runner = async () => {
      throw new Error('ip -batch -: RTNETLINK answers: File exists\nCommand failed -:4');
    };
    const routes = [parseCidr('198.19.0.0/17'), parseCidr('198.19.128.0/17')];
    await expect(configureLink(run, { address: '198.18.255.254', routes })).rejects.toThrow(
      'cannot route 198.19.128.0/17 into tel0: this host already has a route for exactly that prefix (RTNETLINK answers: File exists); add it to never-proxy or remove the host\'s route',
    );
  });

  it('finds leftovers of a killed daemon, including duplicated rules', async () => {
    const { run } = recorder(LEFTOVER_STATE);
    expect(await findLeftovers(run)).toEqual({ link: true, nftTable: true, rules: 2, tableRoutes: 1 });
  });

  it('removes exactly what it found, and nothing when there is nothing', async () => {
    const dirty = recorder(LEFTOVER_STATE);
    await removeAll(dirty.run);
    expect(dirty.calls.slice(4)).toEqual([
      'nft delete table ip telepresence',
      'ip rule del priority 7210 lookup 7210',
      'ip rule del priority 7210 lookup 7210',
      'ip route flush table 7210',
      'ip link del tel0',
    ]);
    const clean = recorder({ 'ip -o link show': '1: lo: <LOOPBACK>\n', 'nft list tables': 'table ip filter\n', 'ip rule show': '0:\tfrom all lookup local\n' });
    await removeAll(clean.run);
    expect(clean.calls).toHaveLength(4); // the four reads, no writes
  });
});
