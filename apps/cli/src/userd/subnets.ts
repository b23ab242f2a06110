// What the session asks the root daemon to route: the cluster's pod and service subnets plus
// also-proxy, minus never-proxy and the API server's own addresses (so kubectl keeps working).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClusterInfo, ExclusionReason } from '@tel/contracts';
import { clusterError, userError } from '@tel/errors';
import { checkCidr, contains, formatCidr, hostCidr, type Cidr } from '@tel/cidr';

export interface NetworkPlan {
  subnets: string[];
  excluded: { cidr: string; reason: ExclusionReason }[];
}

export interface PlanInput {
  cluster: Pick<ClusterInfo, 'podSubnets' | 'serviceSubnets'>;
  /** Canonical CIDRs (kubeconfig extension and --also-proxy). */
  alsoProxy: string[];
  /** Canonical CIDRs (kubeconfig extension and --never-proxy). */
  neverProxy: string[];
  /** Addresses the API server host resolves to. */
  apiServerAddresses: string[];
}

export function planNetwork(input: PlanInput): NetworkPlan {
  const parsed: Cidr[] = [];
  const add = (s: string, origin: string) => {
    const r = checkCidr(s);
    // A dual-stack cluster reports an IPv6 pod or service subnet too: route its IPv4 half, since
    // only IPv4 is routed (the user's own lists refuse IPv6 up front, in mergeCidrs and the extension).
    if (!r.ok && r.ipv6 && origin !== 'also-proxy subnet') return;
    if (!r.ok) throw clusterError(`the traffic manager reported an invalid ${origin} ${JSON.stringify(s)}: ${r.reason}`, 'check that the traffic manager matches this client version');
    parsed.push(r.cidr);
  };
  for (const s of input.cluster.podSubnets) add(s, 'pod subnet');
  for (const s of input.cluster.serviceSubnets) add(s, 'service subnet');
  for (const s of input.alsoProxy) add(s, 'also-proxy subnet');
  // Drop duplicates and subnets already covered by a wider one: one route each.
  const subnets = parsed.filter((c, i) => !parsed.some((o, j) => j !== i && contains(o, c) && (o.bits < c.bits || j < i)));
  const excluded: NetworkPlan['excluded'] = [];
  const exclude = (cidr: string, reason: ExclusionReason) => {
    if (!excluded.some((e) => e.cidr === cidr)) excluded.push({ cidr, reason });
  };
  for (const s of input.neverProxy) exclude(s, 'never-proxy');
  for (const a of input.apiServerAddresses) {
    // Undefined for an IPv6 address: nothing IPv6 is routed, so there is nothing to keep it out of.
    const c = hostCidr(a);
    if (c) exclude(c, 'api-server');
  }
  return { subnets: subnets.map(formatCidr), excluded };
}

/** Merge the extension's lists with the flag's values (canonical, deduplicated). */
export function mergeCidrs(fromExtension: string[], fromFlags: string[], flag: string): string[] {
  const out = [...fromExtension];
  for (const v of fromFlags) {
    const r = checkCidr(v.trim());
    if (!r.ok && r.ipv6) throw userError(`${flag} ${JSON.stringify(v)}: ${r.reason}`, `for example ${flag} 10.10.8.0/24`);
    if (!r.ok) throw userError(`${flag} ${JSON.stringify(v)} is not a CIDR: ${r.reason}`, `pass ${flag} as address/prefix, e.g. 10.10.8.9/32`);
    const c = formatCidr(r.cidr);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** The addresses of the kubeconfig server's host (an IP literal, or what DNS answers). */
export async function apiServerAddresses(server: string): Promise<string[]> {
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    return [];
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIP(host)) return [host];
  try {
    return [...new Set((await lookup(host, { all: true })).map((a) => a.address))];
  } catch {
    return [];
  }
}
