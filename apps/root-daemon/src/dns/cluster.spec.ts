// The root daemon's cluster resolvers against real servers: POST /dns through the manager-side
// handler of @tel/dns-wire (real HTTP/2 server) to a real DNS server standing in for CoreDNS.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsHandler } from '@tel/dns-wire';
import { directExchange, managerDnsExchange, rawClusterResolver } from './cluster.js';
import { startZoneServer, type ZoneServer } from './testing/zone-server.js';

let coredns: ZoneServer;
let manager: http2.Http2Server;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  coredns = await startZoneServer({ zone: 'cluster.local', records: [{ type: 'A', name: 'my-svc.default.svc.cluster.local', ttl: 5, data: '10.96.0.10' }] });
  coredns.silent.add('slow.default.svc.cluster.local');
  const dns = createDnsHandler({ nameservers: [{ ip: coredns.host, port: coredns.port }], timeoutMs: 300 });
  manager = http2.createServer();
  manager.on('stream', (stream, headers) => {
    if (!dns(stream, headers)) stream.respond({ ':status': 404 }, { endStream: true });
  });
  await new Promise<void>((r) => manager.listen(0, '127.0.0.1', r));
  session = http2.connect(`http://127.0.0.1:${(manager.address() as AddressInfo).port}`);
});

afterAll(async () => {
  session?.close();
  await new Promise((r) => manager?.close(r));
  await coredns?.close();
});

describe('managerDnsExchange (POST /dns)', () => {
  const resolver = () => rawClusterResolver(managerDnsExchange(async () => session));

  it('resolves through the manager, NXDOMAIN included', async () => {
    const ok = await resolver().resolve({ name: 'my-svc.default.svc.cluster.local', type: 'A' }, new AbortController().signal);
    expect(ok.rcode).toBe(0);
    expect(ok.answers.map((a) => (a as { data: unknown }).data)).toEqual(['10.96.0.10']);
    const nx = await resolver().resolve({ name: 'nope.default.svc.cluster.local', type: 'A' }, new AbortController().signal);
    expect(nx.rcode).toBe(3);
  });

  it('rejects with the manager error when the cluster DNS is silent, and on abort', async () => {
    await expect(resolver().resolve({ name: 'slow.default.svc.cluster.local', type: 'A' }, new AbortController().signal)).rejects.toThrow(/cluster DNS/);
    const ac = new AbortController();
    const p = resolver().resolve({ name: 'slow.default.svc.cluster.local', type: 'A' }, ac.signal);
    ac.abort();
    await expect(p).rejects.toThrow();
  });
});
