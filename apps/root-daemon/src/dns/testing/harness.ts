// Benchmark/test hook: our resolver on loopback in front of given DNS servers (a cluster DNS and
// an upstream), without any system integration. `bench/dns/bench.ts` drives it.
import type { DnsNamespace } from '@tel/contracts';
import { rawClusterResolver } from '../cluster.js';
import { DnsServer } from '../server.js';
import { DnsUpstream, type NameserverAddress } from '../upstream.js';

export interface ResolverHarnessOptions {
  /** Stands in for the cluster DNS (reached directly instead of through the tunnel). */
  clusterDns: NameserverAddress;
  upstream: NameserverAddress;
  namespaces?: DnsNamespace[];
  connectedNamespace?: string;
  lookupTimeoutMs?: number;
  host?: string;
}

export async function startResolverHarness(opts: ResolverHarnessOptions): Promise<{ host: string; port: number; server: DnsServer; close(): Promise<void> }> {
  const upstream = new DnsUpstream({ servers: [opts.upstream] });
  // The cluster DNS over one pooled UDP socket (production goes through the tunnel instead).
  const clusterPool = new DnsUpstream({ servers: [opts.clusterDns] });
  const server = new DnsServer({
    host: opts.host ?? '127.0.0.1',
    port: 0,
    rules: { connectedNamespace: opts.connectedNamespace ?? 'default', clusterDomain: 'cluster.local', includeSuffixes: [], excludeSuffixes: [], reverseZones: [] },
    namespaces: opts.namespaces ?? [{ name: 'default' }],
    cluster: rawClusterResolver((query, signal) => clusterPool.exchange(query, { tcp: false, signal })),
    upstream,
    lookupTimeoutMs: opts.lookupTimeoutMs ?? 5_000,
  });
  const addr = await server.listen();
  return {
    ...addr,
    server,
    close: async () => {
      await server.close();
      upstream.close();
      clusterPool.close();
    },
  };
}
