// The Service view's answers (pure logic), then through the real resolver on loopback sockets
// with a real zone server as cluster DNS: what the view answers never reaches the cluster, what it
// cannot answer still does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsRecordsUpdate } from '@tel/contracts';
import { directExchange, rawClusterResolver } from './cluster.js';
import { DnsServer } from './server.js';
import { startZoneServer, query, type ZoneServer } from './testing/zone-server.js';
import { ClusterView } from './view.js';
import { RCODE } from './wire.js';

const CD = 'cluster.local';
const base: DnsRecordsUpdate = {
  reset: true,
  namespaces: [
    {
      namespace: 'tshop',
      complete: true,
      services: [
        { name: 'orders', clusterIPs: ['10.96.0.20', 'fd00::20'], ports: [{ name: 'http', protocol: 'tcp', port: 80 }] },
        { name: 'db', headless: true, endpoints: [{ ip: '10.0.0.5', hostname: 'db-0' }, { ip: '10.0.0.6' }], ports: [{ name: 'pg', protocol: 'tcp', port: 5432 }] },
        { name: 'cache', headless: true },
        { name: 'ext', externalName: 'example.org' },
      ],
    },
    { namespace: 'partial', complete: false, services: [], reason: 'not allowed to list Services in this namespace' },
  ],
};

describe('ClusterView answers', () => {
  const view = new ClusterView();
  view.apply(base);
  const ask = (name: string, type = 'A') => view.answer(name, type, CD);

  it.each([
    ['orders.tshop.svc.cluster.local', 'A', ['10.96.0.20']],
    ['orders.tshop.svc.cluster.local', 'AAAA', ['fd00::20']],
    ['db.tshop.svc.cluster.local', 'A', ['10.0.0.5', '10.0.0.6']],
    ['db-0.db.tshop.svc.cluster.local', 'A', ['10.0.0.5']],
    ['10-0-0-6.db.tshop.svc.cluster.local', 'A', ['10.0.0.6']],
    ['ext.tshop.svc.cluster.local', 'CNAME', ['example.org']],
  ])('%s %s → %j', (name, type, data) => {
    const a = ask(name, type)!;
    expect(a.rcode).toBe(RCODE.NOERROR);
    expect(a.answers.map((r) => (r as { data: unknown }).data)).toEqual(data);
    expect(a.answers.every((r) => r.name === name && r.type === type)).toBe(true);
  });

  it('SRV for named ports: the Service for ClusterIP, each endpoint for headless', () => {
    const srv = ask('_http._tcp.orders.tshop.svc.cluster.local', 'SRV')!;
    expect(srv.answers.map((r) => (r as { data: { port: number; target: string } }).data)).toEqual([{ priority: 0, weight: 100, port: 80, target: 'orders.tshop.svc.cluster.local' }]);
    const hs = ask('_pg._tcp.db.tshop.svc.cluster.local', 'SRV')!;
    expect(hs.answers.map((r) => (r as { data: { target: string } }).data.target)).toEqual(['db-0.db.tshop.svc.cluster.local', '10-0-0-6.db.tshop.svc.cluster.local']);
  });

  it('NXDOMAIN (with SOA) for a missing Service of a complete namespace; NODATA for a missing family', () => {
    for (const n of ['nope.tshop.svc.cluster.local', 'x.nope.tshop.svc.cluster.local']) {
      const a = ask(n)!;
      expect(a.rcode).toBe(RCODE.NXDOMAIN);
      expect(a.authorities[0]?.type).toBe('SOA');
    }
    const nodata = ask('db.tshop.svc.cluster.local', 'AAAA')!;
    expect([nodata.rcode, nodata.answers.length, nodata.authorities[0]?.type]).toEqual([RCODE.NOERROR, 0, 'SOA']);
  });

  it.each([
    ['a namespace the view does not hold', 'orders.other.svc.cluster.local', 'A'],
    ['an incomplete namespace', 'x.partial.svc.cluster.local', 'A'],
    ['pod form', '10-0-0-5.tshop.pod.cluster.local', 'A'],
    ['headless without known endpoints', 'cache.tshop.svc.cluster.local', 'A'],
    ['ExternalName chain', 'ext.tshop.svc.cluster.local', 'A'],
    ['an unknown endpoint label', 'db-9.db.tshop.svc.cluster.local', 'A'],
    ['an unknown port name', '_nope._tcp.orders.tshop.svc.cluster.local', 'SRV'],
    ['a type the view does not hold', 'orders.tshop.svc.cluster.local', 'TXT'],
    ['the namespace itself', 'tshop.svc.cluster.local', 'A'],
    ['outside the cluster domain', 'orders.tshop', 'A'],
  ])('%s goes to the cluster path', (_why, name, type) => {
    expect(ask(name, type)).toBeUndefined();
  });

  it('deltas replace namespaces, removed ones leave, reset clears; status says which path and why', () => {
    const v = new ClusterView();
    v.apply(base);
    expect(v.status()).toMatchObject({ path: 'mixed', namespaces: 1, services: 4, fallback: ['not allowed to list Services in this namespace: partial'] });
    v.apply({ reset: false, namespaces: [{ namespace: 'tshop', complete: true, services: [{ name: 'orders', headless: true, endpoints: [{ ip: '10.0.0.9' }] }] }], removed: ['partial'] });
    expect(v.answer('orders.tshop.svc.cluster.local', 'A', CD)!.answers.map((r) => (r as { data: string }).data)).toEqual(['10.0.0.9']);
    expect(v.answer('db.tshop.svc.cluster.local', 'A', CD)!.rcode).toBe(RCODE.NXDOMAIN);
    expect(v.status().path).toBe('local');
    v.apply({ reset: true, namespaces: [], fallback: ['not allowed to list Services cluster-wide'] });
    expect(v.answer('orders.tshop.svc.cluster.local', 'A', CD)).toBeUndefined();
    expect(v.status()).toMatchObject({ path: 'cluster', fallback: ['not allowed to list Services cluster-wide'] });
  });

  it('malformed updates are refused whole; malformed Services are left out, never answered wrongly', () => {
    const v = new ClusterView();
    expect(() => v.apply({ reset: 'yes' } as never)).toThrow(/reset must be a boolean/);
    expect(() => v.apply({ reset: true, namespaces: [{ namespace: 'a', complete: true, services: [{}] }] } as never)).toThrow(/each service needs a name/);
    v.apply({
      reset: true,
      namespaces: [
        {
          namespace: 'odd',
          complete: true,
          services: [
            { name: 'Bad_Name', clusterIPs: ['10.96.0.1'] },
            { name: 'noports', clusterIPs: ['not-an-ip', '10.96.0.2'], ports: [{ name: 'x'.repeat(30), protocol: 'tcp', port: 1 }, null as never] },
            { name: 'v6only', clusterIPs: ['fd00::1'] },
            // Text with a colon or dots that is no address: left out of both families.
            { name: 'colons', clusterIPs: ['fd00::zz', '10.96.0.3:53', '::1::2', '10.96.0.256', 7 as never, 'fd00::3'] },
            { name: 'hl', headless: true, endpoints: [{ ip: 'fd00::9' }, { ip: 'fd00:::9' }, { ip: '10.0.0.1.1' }] },
            { name: 'junk', clusterIPs: 'nope' as never, endpoints: 7 as never },
          ],
        },
      ],
    });
    expect(v.answer('noports.odd.svc.cluster.local', 'A', CD)!.answers.map((r) => (r as { data: string }).data)).toEqual(['10.96.0.2']);
    expect(v.answer('v6only.odd.svc.cluster.local', 'A', CD)!.answers).toEqual([]);
    expect(v.answer('v6only.odd.svc.cluster.local', 'AAAA', CD)!.answers.map((r) => (r as { data: string }).data)).toEqual(['fd00::1']);
    expect(v.answer('junk.odd.svc.cluster.local', 'A', CD)!.answers).toEqual([]);
    const data = (name: string, type: string) => v.answer(name, type, CD)!.answers.map((r) => (r as { data: string }).data);
    expect(data('colons.odd.svc.cluster.local', 'A')).toEqual([]);
    expect(data('colons.odd.svc.cluster.local', 'AAAA')).toEqual(['fd00::3']);
    expect(data('hl.odd.svc.cluster.local', 'AAAA')).toEqual(['fd00::9']);
    expect(data('hl.odd.svc.cluster.local', 'A')).toEqual([]);
    expect(data('fd00--9.hl.odd.svc.cluster.local', 'AAAA')).toEqual(['fd00::9']);
  });
});

describe('the resolver answers from the view (real sockets, real cluster DNS for the rest)', () => {
  let cluster: ZoneServer;
  let server: DnsServer;
  let addr: { host: string; port: number };
  const view = new ClusterView();

  beforeAll(async () => {
    cluster = await startZoneServer({
      zone: CD,
      records: [
        { type: 'A', name: 'orders.other.svc.cluster.local', ttl: 5, data: '10.96.9.9' },
        { type: 'CNAME', name: 'ext.tshop.svc.cluster.local', ttl: 5, data: 'orders.other.svc.cluster.local' },
        { type: 'A', name: '10-0-0-5.tshop.pod.cluster.local', ttl: 5, data: '10.0.0.5' },
      ],
    });
    server = new DnsServer({
      host: '127.0.0.1',
      port: 0,
      rules: { connectedNamespace: 'tshop', clusterDomain: CD, includeSuffixes: [], excludeSuffixes: [], reverseZones: [] },
      namespaces: [{ name: 'tshop' }, { name: 'other' }],
      cluster: rawClusterResolver(directExchange({ ip: cluster.host, port: cluster.port })),
      view,
    });
    view.apply(base);
    addr = await server.listen();
  });
  afterAll(async () => {
    await server?.close();
    await cluster?.close();
  });

  it('short and full forms from the view; other names, pod forms and ExternalName chains from the cluster', async () => {
    const before = server.stats.cluster;
    for (const name of ['orders', 'orders.tshop', 'orders.tshop.svc', 'orders.tshop.svc.cluster.local']) {
      const r = await query(addr, name, 'A');
      expect(r.rcode, name).toBe('NOERROR');
      expect(r.answers?.map((a) => [a.name, (a as { data: unknown }).data])).toEqual([[name, '10.96.0.20']]);
    }
    expect((await query(addr, 'missing.tshop', 'A')).rcode).toBe('NXDOMAIN');
    expect(server.stats.cluster).toBe(before);
    expect((await query(addr, 'orders.other', 'A')).answers?.map((a) => (a as { data: unknown }).data)).toEqual(['10.96.9.9']);
    expect((await query(addr, '10-0-0-5.tshop.pod.cluster.local', 'A')).answers?.map((a) => (a as { data: unknown }).data)).toEqual(['10.0.0.5']);
    const chain = await query(addr, 'ext.tshop', 'A');
    expect(chain.answers?.map((a) => a.type)).toEqual(['CNAME', 'A']);
    expect(server.stats.cluster).toBe(before + 3);
  });

  it('follows the view at once: a deleted Service is NXDOMAIN on the next query', async () => {
    view.apply({ reset: false, namespaces: [{ namespace: 'tshop', complete: true, services: [] }] });
    expect((await query(addr, 'orders.tshop', 'A')).rcode).toBe('NXDOMAIN');
    view.apply(base);
    expect((await query(addr, 'orders.tshop', 'A')).rcode).toBe('NOERROR');
  });
});
