// The overriding resolver for Linux without systemd-resolved (containers, minimal hosts): an
// nftables table of its own redirects DNS sent to the system nameservers to our resolver on
// loopback. Our own upstream queries are exempt (UDP: by their one source port; TCP: by a
// firewall mark), so they reach the real nameserver. Boundary: root daemon → kernel (nftables).
import type { Runner } from '../routing/linux.js';

/** Our table (family ip); deleting it removes every rule of the overriding resolver. */
export const DNS_NFT_TABLE = 'telepresence_dns';

export interface OverridePlan {
  /** The system nameservers (IPv4) whose port 53 we take over. */
  nameservers: string[];
  /** Loopback port our resolver listens on (UDP and TCP). */
  resolverPort: number;
  /** Local UDP port our upstream forwarder sends from: exempt, or we would answer ourselves. */
  upstreamSourcePort: number;
  /** Firewall mark on our TCP connections to the nameservers: exempt as well. */
  bypassMark: number;
}

export function overrideRuleset(plan: OverridePlan): string {
  const set = plan.nameservers.join(', ');
  return [
    `table ip ${DNS_NFT_TABLE}`,
    `delete table ip ${DNS_NFT_TABLE}`,
    `table ip ${DNS_NFT_TABLE} {`,
    `  set nameservers { type ipv4_addr; elements = { ${set} } }`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    `    meta mark 0x${plan.bypassMark.toString(16)} return`,
    `    ip daddr @nameservers udp dport 53 udp sport ${plan.upstreamSourcePort} return`,
    `    ip daddr @nameservers udp dport 53 redirect to :${plan.resolverPort}`,
    `    ip daddr @nameservers tcp dport 53 redirect to :${plan.resolverPort}`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export async function installOverride(run: Runner, plan: OverridePlan): Promise<void> {
  if (plan.nameservers.length === 0) throw new Error('no IPv4 nameserver in /etc/resolv.conf to take over');
  await run('nft', ['-f', '-'], overrideRuleset(plan));
}

/** Remove our table if present (stop, and at start for what a crashed daemon left). Returns whether it existed. */
export async function removeOverride(run: Runner): Promise<boolean> {
  const tables = await run('nft', ['list', 'tables']);
  if (!tables.split('\n').some((l) => l.trim() === `table ip ${DNS_NFT_TABLE}`)) return false;
  await run('nft', ['delete', 'table', 'ip', DNS_NFT_TABLE]);
  return true;
}
