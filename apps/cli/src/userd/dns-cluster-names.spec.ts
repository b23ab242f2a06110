// The Service view's logic with in-memory informers: records from objects, pushes as deltas, and
// every way the view falls back (forbidden cluster-wide → per namespace; forbidden or broken →
// the cluster path, said in `fallback`). The real informers run in the e2e suite.
import type { KubeConfig, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeApiError } from '../kube/api.js';
import type { DnsRecordsUpdate } from '@tel/contracts';
import { startClusterNames, type RecordInformers } from './dns-cluster-names.js';
import { diffRecords, namespaceRecords, readyEndpoints, serviceRecord, slim } from './dns-records.js';
import { FakeInformer } from './testing/fake-informer.js';

const svc = (namespace: string, name: string, spec: V1Service['spec']): V1Service => ({ metadata: { namespace, name, resourceVersion: '1' }, spec });
const slice = (namespace: string, name: string, service: string, endpoints: NonNullable<V1EndpointSlice['endpoints']>): V1EndpointSlice => ({
  metadata: { namespace, name, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints,
});

describe('records', () => {
  it('ClusterIP, headless (ready endpoints only, hostnames), ExternalName, named ports', () => {
    const eps = readyEndpoints([
      slice('a', 'db-1', 'db', [{ addresses: ['10.0.0.5'], hostname: 'db-0', conditions: { ready: true } }, { addresses: ['10.0.0.7'], conditions: { ready: false } }]),
      slice('a', 'db-2', 'db', [{ addresses: ['10.0.0.6'] }]),
    ]);
    expect(serviceRecord(svc('a', 'web', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'], ports: [{ name: 'http', port: 80 }, { port: 81 }] }), eps)).toEqual({
      name: 'web',
      clusterIPs: ['10.96.0.1', 'fd00::1'],
      ports: [{ name: 'http', protocol: 'tcp', port: 80 }],
    });
    expect(serviceRecord(svc('a', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }), eps)).toEqual({
      name: 'db',
      headless: true,
      endpoints: [{ ip: '10.0.0.5', hostname: 'db-0' }, { ip: '10.0.0.6' }],
      ports: [{ name: 'pg', protocol: 'tcp', port: 5432 }],
    });
    expect(serviceRecord(svc('a', 'db', { clusterIP: 'None' }), undefined)).toEqual({ name: 'db', headless: true });
    expect(serviceRecord(svc('a', 'ext', { type: 'ExternalName', externalName: 'example.org' }), eps)).toEqual({ name: 'ext', externalName: 'example.org' });
  });

  it('slim keeps what records and the informer need, drops the rest', () => {
    const s: V1Service = {
      metadata: { namespace: 'a', name: 'web', resourceVersion: '7', labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000) }, managedFields: [{ manager: 'kubectl' }] },
      spec: { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }] },
      status: { loadBalancer: {} },
    };
    const before = serviceRecord(s, undefined);
    slim(s);
    expect(s).toEqual({ metadata: { namespace: 'a', name: 'web', resourceVersion: '7', labels: { app: 'web' } }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'http', port: 80 }] } });
    expect(serviceRecord(s, undefined)).toEqual(before);
    const sl = slice('a', 'web-x', 'web', [{ addresses: ['10.0.0.5'], hostname: 'h', nodeName: 'n', zone: 'z', targetRef: { kind: 'Pod', name: 'p' }, conditions: { ready: true } }]);
    slim(sl);
    expect(sl.endpoints).toEqual([{ addresses: ['10.0.0.5'], hostname: 'h', conditions: { ready: true } }]);
    expect(readyEndpoints([sl]).get('web')).toEqual([{ ip: '10.0.0.5', hostname: 'h' }]);
  });

  it('a Service without an address makes its namespace incomplete (never a wrong NXDOMAIN)', () => {
    const r = namespaceRecords('a', [svc('a', 'web', { clusterIP: '10.96.0.1' }), svc('a', 'new', {})], undefined);
    expect(r).toMatchObject({ complete: false, services: [], reason: 'Service new has no address yet' });
  });

  it('diff: changed and removed namespaces only; nothing when equal; everything on reset', () => {
    const sent = new Map<string, string>();
    const a = namespaceRecords('a', [svc('a', 'web', { clusterIP: '10.96.0.1' })], undefined);
    const b = namespaceRecords('b', [svc('b', 'api', { clusterIP: '10.96.0.2' })], undefined);
    expect(diffRecords(sent, new Map([['a', a], ['b', b]]), [], true, undefined)).toEqual({ reset: true, namespaces: [a, b] });
    expect(diffRecords(sent, new Map([['a', a], ['b', b]]), [], false, '[]')).toBeUndefined();
    const b2 = namespaceRecords('b', [], undefined);
    expect(diffRecords(sent, new Map([['b', b2]]), ['why'], false, '[]')).toEqual({ reset: false, namespaces: [b2], removed: ['a'], fallback: ['why'] });
  });
});

/** Run fake time in small steps until `p` settles (ready() polls with timers). */
async function settle<T>(p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true));
  while (!done) await vi.advanceTimersByTimeAsync(5);
  return p;
}

class ForbiddenInformer<T extends { metadata?: { name?: string } }> extends FakeInformer<T> {
  override async start(): Promise<void> {
    this.started++;
    this.error(new KubeApiError(403, { message: 'forbidden' }, 'watch'));
  }
}

describe('startClusterNames', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const kc = {} as KubeConfig;

  function setup(opts: { servicesForbidden?: boolean; slicesForbidden?: boolean; forbiddenNs?: string[] } = {}) {
    const made: { services: Map<string, FakeInformer<V1Service>>; slices: Map<string, FakeInformer<V1EndpointSlice>> } = { services: new Map(), slices: new Map() };
    const make = <T extends { metadata?: { name?: string } }>(map: Map<string, FakeInformer<T>>, ns: string | undefined, forbidden: boolean) => {
      const key = ns ?? '*';
      const inf = map.get(key) ?? (forbidden || opts.forbiddenNs?.includes(key) ? new ForbiddenInformer<T>() : new FakeInformer<T>());
      map.set(key, inf);
      return inf;
    };
    const informers: RecordInformers = {
      services: (ns) => make(made.services, ns, !ns && !!opts.servicesForbidden),
      endpointSlices: (ns) => make(made.slices, ns, !ns && !!opts.slicesForbidden),
    };
    // The cluster-wide informers exist before start (tests fill them first).
    informers.services();
    informers.endpointSlices();
    const pushes: DnsRecordsUpdate[] = [];
    const view = new Map<string, DnsRecordsUpdate['namespaces'][number]>();
    let fallback: string[] = [];
    const send = async (u: DnsRecordsUpdate) => {
      pushes.push(u);
      if (u.reset) view.clear();
      for (const r of u.removed ?? []) view.delete(r);
      for (const n of u.namespaces) view.set(n.namespace, n);
      fallback = u.fallback ?? [];
    };
    return { made, informers, pushes, view, fallback: () => fallback, send };
  }

  it('cluster-wide: the first push is the whole view; a created Service follows within 150 ms, a namespace whose last Service goes leaves', async () => {
    const t = setup();
    t.made.services.get('*')!.items.set('web', svc('a', 'web', { clusterIP: '10.96.0.1' }));
    t.made.services.get('*')!.items.set('db', svc('b', 'db', { clusterIP: 'None' }));
    t.made.slices.get('*')!.items.set('db-x', slice('b', 'db-x', 'db', [{ addresses: ['10.0.0.5'] }]));
    const names = startClusterNames(kc, t.send, { informers: t.informers });
    expect(await settle(names.ready(1_000))).toBe(true);
    expect(t.pushes[0]!.reset).toBe(true);
    expect(t.view.get('a')).toEqual({ namespace: 'a', complete: true, services: [{ name: 'web', clusterIPs: ['10.96.0.1'] }] });
    expect(t.view.get('b')!.services).toEqual([{ name: 'db', headless: true, endpoints: [{ ip: '10.0.0.5' }] }]);
    const n = t.pushes.length;
    t.made.services.get('*')!.put(svc('a', 'api', { clusterIP: '10.96.0.2' }));
    await vi.advanceTimersByTimeAsync(150);
    expect(t.pushes.length).toBe(n + 1);
    expect(t.pushes[n]).toMatchObject({ reset: false, namespaces: [{ namespace: 'a' }] });
    expect(t.view.get('a')!.services.map((s) => s.name)).toEqual(['api', 'web']);
    t.made.services.get('*')!.remove('db');
    await vi.advanceTimersByTimeAsync(150);
    expect(t.pushes[t.pushes.length - 1]!.removed).toEqual(['b']);
    names.stop();
  });

  it('Services forbidden cluster-wide: one watch per namespace; a forbidden namespace is incomplete with its reason', async () => {
    const t = setup({ servicesForbidden: true, forbiddenNs: ['secret'] });
    const names = startClusterNames(kc, t.send, { informers: t.informers, forbiddenRetryMs: 60_000 });
    names.setNamespaces(['a', 'empty', 'secret']);
    await vi.advanceTimersByTimeAsync(50);
    t.made.services.get('a')!.put(svc('a', 'web', { clusterIP: '10.96.0.1' }));
    expect(await settle(names.ready(1_000))).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.view.get('a')).toMatchObject({ complete: true, services: [{ name: 'web' }] });
    expect(t.view.get('empty')).toEqual({ namespace: 'empty', complete: true, services: [] });
    expect(t.view.get('secret')).toMatchObject({ complete: false, reason: 'not allowed to list Services in this namespace' });
    expect(t.fallback()).toContain('not allowed to list Services cluster-wide: watching 3 namespaces one by one');
    names.setNamespaces(['a']);
    await vi.advanceTimersByTimeAsync(200);
    expect([...t.view.keys()]).toEqual(['a']);
    expect(t.made.services.get('secret')!.stopped).toBe(true);
    names.stop();
  });

  it('nothing readable: no namespace in the view, and the reasons say so', async () => {
    const t = setup({ servicesForbidden: true, slicesForbidden: true, forbiddenNs: ['a'] });
    const names = startClusterNames(kc, t.send, { informers: t.informers });
    names.setNamespaces(['a']);
    expect(await settle(names.ready(1_000))).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.view.get('a')).toMatchObject({ complete: false });
    expect(t.fallback()).toEqual(['not allowed to list Services cluster-wide: watching 1 namespaces one by one', 'not allowed to list EndpointSlices cluster-wide: watched per namespace with headless Services']);
    names.stop();
  });

  it('EndpointSlices forbidden: headless Services carry no endpoints (cluster path); per-namespace slices where headless ones are', async () => {
    const t = setup({ slicesForbidden: true });
    t.made.services.get('*')!.items.set('db', svc('b', 'db', { clusterIP: 'None' }));
    t.made.services.get('*')!.items.set('web', svc('a', 'web', { clusterIP: '10.96.0.1' }));
    const names = startClusterNames(kc, t.send, { informers: t.informers });
    expect(await settle(names.ready(1_000))).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect([...t.made.slices.keys()].sort()).toEqual(['*', 'b']);
    expect(t.view.get('b')!.services).toEqual([{ name: 'db', headless: true, endpoints: [] }]);
    t.made.slices.get('b')!.put(slice('b', 'db-x', 'db', [{ addresses: ['10.0.0.9'] }]));
    await vi.advanceTimersByTimeAsync(200);
    expect(t.view.get('b')!.services).toEqual([{ name: 'db', headless: true, endpoints: [{ ip: '10.0.0.9' }] }]);
    names.stop();
  });

  it('a watch that breaks takes every namespace off the view until it is back', async () => {
    const t = setup();
    const all = t.made.services.get('*')!;
    all.items.set('web', svc('a', 'web', { clusterIP: '10.96.0.1' }));
    const names = startClusterNames(kc, t.send, { informers: t.informers, retryMs: 2_000 });
    expect(await settle(names.ready(1_000))).toBe(true);
    expect(t.view.has('a')).toBe(true);
    all.error(new KubeApiError(500, { message: 'connection reset' }, 'watch'));
    await vi.advanceTimersByTimeAsync(200);
    expect(t.view.size).toBe(0);
    expect(t.fallback()[0]).toMatch(/^the watch of Services cluster-wide broke .*: every cluster name resolves through the cluster DNS$/);
    await vi.advanceTimersByTimeAsync(2_200);
    expect(all.started).toBe(2);
    expect(t.view.get('a')).toMatchObject({ complete: true });
    expect(t.fallback()).toEqual([]);
    names.stop();
  });

  it('a failed push is retried as a reset', async () => {
    const t = setup();
    t.made.services.get('*')!.items.set('web', svc('a', 'web', { clusterIP: '10.96.0.1' }));
    let fail = true;
    const names = startClusterNames(kc, async (u) => {
      if (fail) throw new Error('root daemon gone');
      await t.send(u);
    }, { informers: t.informers, retryMs: 500 });
    expect(await settle(names.ready(300))).toBe(false);
    fail = false;
    await vi.advanceTimersByTimeAsync(800);
    expect(t.pushes[0]).toMatchObject({ reset: true, namespaces: [{ namespace: 'a' }] });
    names.stop();
  });
});
