// Child process of bench/dns/bench.ts, so the load generator, the DNS servers and our resolver
// each get their own event loop: `zones` starts the cluster DNS and upstream stand-ins,
// `resolver <clusterPort> <upstreamPort>` our resolver in front of them. Prints one JSON line.
import { startResolverHarness } from '../../apps/root-daemon/src/dns/testing/harness.js';
import { startZoneServer } from '../../apps/root-daemon/src/dns/testing/zone-server.js';

const [role, a, b] = process.argv.slice(2);
if (role === 'zones') {
  const cluster = await startZoneServer({
    zone: 'cluster.local',
    records: [
      { type: 'A', name: 'cached.default.svc.cluster.local', ttl: 300, data: '10.96.0.10' },
      { type: 'A', name: 'uncached.default.svc.cluster.local', ttl: 0, data: '10.96.0.11' },
    ],
  });
  const upstream = await startZoneServer({ zone: 'example.com', records: [{ type: 'A', name: 'www.example.com', ttl: 300, data: '198.18.8.8' }] });
  console.log(JSON.stringify({ cluster: cluster.port, upstream: upstream.port }));
} else if (role === 'resolver') {
  const r = await startResolverHarness({ clusterDns: { ip: '127.0.0.1', port: Number(a) }, upstream: { ip: '127.0.0.1', port: Number(b) } });
  console.log(JSON.stringify({ port: r.port }));
} else {
  console.error('usage: serve.ts zones | resolver <clusterPort> <upstreamPort>');
  process.exit(2);
}
// Exit with the parent.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
