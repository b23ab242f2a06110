// The three network namespaces (node, workstation, inet) and the veths between them. Links are
// created from inside the namespaces (`ip -n`), so nothing ever appears in the host namespace.
import { existsSync, readdirSync } from 'node:fs';
import { NET, type Layout, netnsPath } from './layout.js';
import { run } from './proc.js';

/** `ip -batch` scripts, one per namespace, in the order they must run. */
export function netnsScripts(l: Layout): Array<{ ns: string; script: string }> {
  const { node, ws, inet } = l.netns;
  return [
    {
      ns: node,
      script: [
        'link set lo up',
        `link add to-ws type veth peer name to-node netns ${ws}`,
        `link add to-inet type veth peer name to-node netns ${inet}`,
        `addr add ${NET.nodeIp}/30 dev to-ws`,
        `addr add ${NET.nodeInetIp}/30 dev to-inet`,
        'link set to-ws up',
        'link set to-inet up',
        // The node's way out is the "internet"; pods reach the inet DNS server through it.
        `route add default via ${NET.inetNodeSideIp}`,
      ].join('\n'),
    },
    {
      ns: ws,
      script: [
        'link set lo up',
        `link add to-inet type veth peer name to-ws netns ${inet}`,
        `addr add ${NET.wsIp}/30 dev to-node`,
        `addr add ${NET.wsInetIp}/30 dev to-inet`,
        'link set to-node up',
        'link set to-inet up',
        // Like a laptop: a default route to the internet, the cluster's API at a routable address,
        // and no route at all to pod or service addresses (that is Telepresence's job).
        `route add default via ${NET.inetWsSideIp}`,
      ].join('\n'),
    },
    {
      ns: inet,
      script: [
        'link set lo up',
        `addr add ${NET.inetNodeSideIp}/30 dev to-node`,
        `addr add ${NET.inetWsSideIp}/30 dev to-ws`,
        'link set to-node up',
        'link set to-ws up',
        `route add local ${NET.inetPublicCidr} dev lo`,
        // Replies to pods (CoreDNS forwarding upstream); inet itself never forwards.
        `route add ${NET.podCidr} via ${NET.nodeInetIp}`,
      ].join('\n'),
    },
  ];
}

/** Per-namespace sysctls (net.* is per network namespace; none of these touch the host's). */
export function netnsSysctls(l: Layout): Array<{ ns: string; key: string; value: string }> {
  const s: Array<{ ns: string; key: string; value: string }> = [];
  for (const ns of [l.netns.node, l.netns.ws, l.netns.inet]) {
    s.push({ ns, key: 'net.ipv6.conf.all.disable_ipv6', value: '1' });
    s.push({ ns, key: 'net.ipv6.conf.default.disable_ipv6', value: '1' });
  }
  s.push({ ns: l.netns.node, key: 'net.ipv4.ip_forward', value: '1' });
  s.push({ ns: l.netns.node, key: 'net.bridge.bridge-nf-call-iptables', value: '1' });
  s.push({ ns: l.netns.ws, key: 'net.ipv4.ip_forward', value: '0' });
  s.push({ ns: l.netns.inet, key: 'net.ipv4.ip_forward', value: '0' });
  return s;
}

export function ourNetns(l: Layout): string[] {
  const dir = '/var/run/netns';
  if (!existsSync(dir)) return [];
  const ours = new Set(Object.values(l.netns));
  return readdirSync(dir).filter((n) => ours.has(n));
}

export async function createNetns(l: Layout): Promise<void> {
  for (const ns of Object.values(l.netns)) await run('ip', ['netns', 'add', ns]);
  for (const { ns, script } of netnsScripts(l)) await run('ip', ['-n', ns, '-batch', '-'], { input: script + '\n' });
  // nsenter (not `ip netns exec`): only the network namespace changes, /proc/sys/net follows it.
  await Promise.all(
    netnsSysctls(l).map(({ ns, key, value }) => run('nsenter', [`--net=${netnsPath(ns)}`, 'sysctl', '-qw', `${key}=${value}`])),
  );
}

export async function deleteNetns(l: Layout): Promise<void> {
  for (const ns of ourNetns(l)) await run('ip', ['netns', 'delete', ns], { allowFail: true });
}

/** Runs a command with only the network namespace switched (cgroups stay visible). */
export function inNetns(ns: string, cmd: string, args: string[]): [string, string[]] {
  return ['nsenter', [`--net=${netnsPath(ns)}`, '--', cmd, ...args]];
}
