import { describe, expect, it } from 'vitest';
import { NamespaceTable, hasSuffix, reverseZones, route, systemDomains, type NameRules } from './names.js';

const rules: NameRules = {
  connectedNamespace: 'default',
  clusterDomain: 'cluster.local',
  includeSuffixes: ['.corp.example'],
  excludeSuffixes: ['.com', '.io'],
  reverseZones: ['96.10.in-addr.arpa'],
};
const nss = new NamespaceTable([{ name: 'default' }, { name: 'kube-system' }, { name: 'rs', services: ['my-svc'] }, { name: 'im' }, { name: 'shop.com' }]);

describe('route', () => {
  it.each([
    // [query name, expected route, fqdn]
    ['my-svc', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['my-svc.', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['My-Svc.Default', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['my-svc.default', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['my-svc.default.svc', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['my-svc.default.svc.cluster.local', 'cluster', 'my-svc.default.svc.cluster.local'],
    ['kube-dns.kube-system', 'cluster', 'kube-dns.kube-system.svc.cluster.local'],
    ['_dns._udp.kube-dns.kube-system', 'cluster', '_dns._udp.kube-dns.kube-system.svc.cluster.local'],
    ['10-244-0-5.default.pod.cluster.local', 'cluster', '10-244-0-5.default.pod.cluster.local'],
    ['x.unknown-ns.svc.cluster.local', 'cluster', 'x.unknown-ns.svc.cluster.local'],
    ['5.0.96.10.in-addr.arpa', 'cluster', '5.0.96.10.in-addr.arpa'],
    ['api.corp.example', 'cluster', 'api.corp.example'],
    ['my-svc.rs', 'cluster', 'my-svc.rs.svc.cluster.local'],
    ['_http._tcp.my-svc.rs', 'cluster', '_http._tcp.my-svc.rs.svc.cluster.local'],
    ['docs.rs', 'upstream', undefined],
    ['www.docs.rs', 'upstream', undefined],
    ['anything.im', 'cluster', 'anything.im.svc.cluster.local'], // tentative: falls back upstream
    ['example.com', 'upstream', undefined], // excluded
    ['a.default.com', 'upstream', undefined], // excluded, even though "default" is a namespace label
    ['5.0.0.192.in-addr.arpa', 'upstream', undefined],
    ['example.org', 'upstream', undefined],
    ['unknown-ns-label.nowhere', 'upstream', undefined],
    ['.', 'upstream', undefined],
  ])('%s → %s %s', (name, to, fqdn) => {
    const r = route(name, rules, nss);
    expect(r.to).toBe(to);
    if (r.to === 'cluster') expect(r.fqdn).toBe(fqdn);
  });

  it('marks tentative public-suffix mappings for upstream fallback', () => {
    expect(route('anything.im', rules, nss)).toMatchObject({ to: 'cluster', fallback: true });
    expect(route('my-svc.rs', rules, nss)).toMatchObject({ to: 'cluster', fallback: false });
    expect(route('my-svc.default', rules, nss)).toMatchObject({ fallback: false });
  });

  it('includes win over excludes', () => {
    const r = { ...rules, includeSuffixes: ['internal.io'] };
    expect(route('db.internal.io', r, nss).to).toBe('cluster');
    expect(route('github.io', r, nss).to).toBe('upstream');
  });

  it('an excluded namespace is left out with a reason', () => {
    const t = new NamespaceTable([{ name: 'io' }, { name: 'Bad_Name' }], ['.io']);
    expect(t.names).toEqual([]);
    expect(t.leftOut.map((l) => l.reason)).toEqual(['excluded', 'invalid-label']);
  });
});

describe('public suffix decisions', () => {
  it('public-suffix namespaces are left out of plain mapping, with why', () => {
    const t = new NamespaceTable([{ name: 'rs', services: ['my-svc'] }, { name: 'dev' }, { name: 'default' }]);
    expect([...t.plain]).toEqual(['default']);
    expect(t.leftOut).toEqual([
      expect.objectContaining({ namespace: 'rs', reason: 'public-suffix' }),
      expect.objectContaining({ namespace: 'dev', reason: 'public-suffix' }),
    ]);
  });
});

describe('helpers', () => {
  it('suffixes are label aligned', () => {
    expect(hasSuffix('docs.rs', 'rs')).toBe(true);
    expect(hasSuffix('xrs', 'rs')).toBe(false);
    expect(hasSuffix('rs', 'rs')).toBe(true);
  });
  it.each([
    ['10.96.0.0/12', 16, '96.10.in-addr.arpa', '111.10.in-addr.arpa'],
    ['10.244.0.0/16', 1, '244.10.in-addr.arpa', '244.10.in-addr.arpa'],
    ['10.244.1.0/24', 1, '1.244.10.in-addr.arpa', '1.244.10.in-addr.arpa'],
    ['10.244.1.128/25', 1, '1.244.10.in-addr.arpa', '1.244.10.in-addr.arpa'],
    ['10.0.0.0/8', 1, '10.in-addr.arpa', '10.in-addr.arpa'],
    ['198.18.0.0/15', 2, '18.198.in-addr.arpa', '19.198.in-addr.arpa'],
  ])('reverse zones of %s', (cidr, n, first, last) => {
    const z = reverseZones([cidr]);
    expect(z.length).toBe(n);
    expect(z[0]).toBe(first);
    expect(z[z.length - 1]).toBe(last);
  });
});

describe('systemDomains', () => {
  it('routes the cluster domain, svc, namespaces, public-suffix services, include suffixes and reverse zones', () => {
    const { routing, search } = systemDomains(rules, nss);
    expect(routing).toEqual(expect.arrayContaining(['cluster.local', 'svc', 'default', 'kube-system', 'my-svc.rs', 'corp.example', '96.10.in-addr.arpa']));
    // Namespaces named like an ICANN public suffix never become a routing domain of their own.
    expect(routing).not.toContain('rs');
    expect(routing).not.toContain('im');
    expect(search).toEqual(['default']);
  });
});
