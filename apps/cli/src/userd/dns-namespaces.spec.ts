import type { KubeConfig, V1Namespace, V1Service } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeApiError } from '../kube/api.js';
import type { DnsNamespace } from '@tel/contracts';
import { isIcannPublicSuffix } from '@tel/dns-names';
import { dnsNamespaces, isLive, startNamespaceFeed } from './dns-namespaces.js';
import { FakeInformer } from './testing/fake-informer.js';
import type { InformerFactory } from './watch-or-poll.js';

describe('mapping', () => {
  it('knows ICANN public suffixes, not private ones or ordinary names', () => {
    for (const n of ['rs', 'dev', 'com', 'im', 'io']) expect(isIcannPublicSuffix(n), n).toBe(true);
    for (const n of ['default', 'kube-system', 'staging', 'github.io', 'my-app']) expect(isIcannPublicSuffix(n), n).toBe(false);
  });

  it('sorts, dedups, and carries services only for public-suffix namespaces', () => {
    const services = new Map([
      ['rs', ['web', 'api', 'web']],
      ['default', ['kubernetes']],
    ]);
    expect(dnsNamespaces(['rs', 'default', 'dev', 'default'], services)).toEqual([{ name: 'default' }, { name: 'dev', services: [] }, { name: 'rs', services: ['api', 'web'] }]);
  });

  it('a terminating namespace is not live', () => {
    expect(isLive({ metadata: { name: 'a' }, status: { phase: 'Active' } })).toBe(true);
    expect(isLive({ metadata: { name: 'a' }, status: { phase: 'Terminating' } })).toBe(false);
    expect(isLive({ metadata: { name: 'a', deletionTimestamp: new Date() } })).toBe(false);
  });
});

const ns = (name: string, phase = 'Active'): V1Namespace => ({ metadata: { name }, status: { phase } });
const svc = (name: string): V1Service => ({ metadata: { name } });

describe('startNamespaceFeed', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(opts: { fallback?: DnsNamespace[] } = {}) {
    const namespaces = new FakeInformer<V1Namespace>();
    const services = new Map<string, FakeInformer<V1Service>>();
    const informers: InformerFactory = {
      namespaces: () => namespaces,
      services: (n) => {
        const inf = services.get(n) ?? new FakeInformer<V1Service>();
        services.set(n, inf);
        return inf;
      },
    };
    const sent: { at: number; list: DnsNamespace[] }[] = [];
    const last = () => sent[sent.length - 1]?.list;
    return { namespaces, services, informers, sent, last, send: async (list: DnsNamespace[]) => void sent.push({ at: Date.now(), list }), opts };
  }
  const kc = {} as KubeConfig;

  it('sends the initial list, then each created and deleted namespace within 2 s', async () => {
    const t = setup();
    t.namespaces.items.set('default', ns('default'));
    t.namespaces.items.set('kube-system', ns('kube-system'));
    const feed = startNamespaceFeed(kc, t.send, { informers: t.informers });
    await vi.advanceTimersByTimeAsync(300);
    expect(t.last()).toEqual([{ name: 'default' }, { name: 'kube-system' }]);

    const t0 = Date.now();
    t.namespaces.put(ns('newns'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.last()).toContainEqual({ name: 'newns' });
    expect(t.sent[t.sent.length - 1]!.at - t0).toBeLessThan(2_000);

    // Terminating counts as deleted already; the final DELETED changes nothing more.
    const t1 = Date.now();
    t.namespaces.put(ns('newns', 'Terminating'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.last()).toEqual([{ name: 'default' }, { name: 'kube-system' }]);
    expect(t.sent[t.sent.length - 1]!.at - t1).toBeLessThan(2_000);
    const n = t.sent.length;
    t.namespaces.remove('newns');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(t.sent).toHaveLength(n);
    feed.stop();
    expect(t.namespaces.stopped).toBe(true);
  });

  it('watches services only in public-suffix namespaces, and follows them', async () => {
    const t = setup();
    t.namespaces.items.set('default', ns('default'));
    t.namespaces.items.set('rs', ns('rs'));
    t.services.set('rs', new FakeInformer<V1Service>());
    t.services.get('rs')!.items.set('my-svc', svc('my-svc'));
    const feed = startNamespaceFeed(kc, t.send, { informers: t.informers });
    await vi.advanceTimersByTimeAsync(1_000);
    expect([...t.services.keys()]).toEqual(['rs']);
    expect(t.last()).toEqual([{ name: 'default' }, { name: 'rs', services: ['my-svc'] }]);

    t.services.get('rs')!.put(svc('web'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.last()).toEqual([{ name: 'default' }, { name: 'rs', services: ['my-svc', 'web'] }]);

    t.namespaces.remove('rs');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.last()).toEqual([{ name: 'default' }]);
    expect(t.services.get('rs')!.stopped).toBe(true);
    feed.stop();
  });

  it('restarts a failed watch (re-listing catches what was missed)', async () => {
    const t = setup();
    t.namespaces.items.set('default', ns('default'));
    const feed = startNamespaceFeed(kc, t.send, { informers: t.informers, retryMs: 1_000 });
    await vi.advanceTimersByTimeAsync(300);
    t.namespaces.error(new Error('watch closed'));
    t.namespaces.items.set('missed', ns('missed')); // created while nobody watched
    await vi.advanceTimersByTimeAsync(1_500);
    expect(t.namespaces.started).toBe(2);
    expect(t.last()).toEqual([{ name: 'default' }, { name: 'missed' }]);
    feed.stop();
  });

  it('without permission to list namespaces, sends the fallback list', async () => {
    const t = setup();
    t.namespaces.failStart = new KubeApiError(403, { message: 'forbidden' }, 'watch');
    const feed = startNamespaceFeed(kc, t.send, { informers: t.informers, fallback: [{ name: 'default' }] });
    await vi.advanceTimersByTimeAsync(100);
    expect(t.last()).toEqual([{ name: 'default' }]);
    feed.stop();
  });

  it('resend sends the current list again (root daemon restarted)', async () => {
    const t = setup();
    t.namespaces.items.set('default', ns('default'));
    const feed = startNamespaceFeed(kc, t.send, { informers: t.informers });
    await vi.advanceTimersByTimeAsync(300);
    expect(t.sent).toHaveLength(1);
    await feed.resend();
    expect(t.sent).toHaveLength(2);
    feed.stop();
  });
});

describe('startNamespaceFeed ready(): what connect waits for', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const kc = {} as KubeConfig;

  function world() {
    const namespaces = new FakeInformer<V1Namespace>();
    const services = new Map<string, FakeInformer<V1Service>>();
    const informers: InformerFactory = { namespaces: () => namespaces, services: (n) => services.get(n) ?? services.set(n, new FakeInformer<V1Service>()).get(n)! };
    const delivered: DnsNamespace[][] = [];
    return { namespaces, services, informers, delivered };
  }

  it('resolves only once the services of public-suffix namespaces are listed and delivered, without waiting for the debounce', async () => {
    const w = world();
    w.namespaces.items.set('default', ns('default'));
    w.namespaces.items.set('dev', ns('dev'));
    const dev = new FakeInformer<V1Service>();
    dev.items.set('demo', svc('demo'));
    let listServices!: () => void;
    dev.gate = new Promise<void>((r) => (listServices = r));
    w.services.set('dev', dev);
    let sendsInFlight = 0;
    const feed = startNamespaceFeed(kc, async (list) => {
      sendsInFlight++;
      await new Promise((r) => setTimeout(r, 30)); // the root daemon applying it to resolved
      w.delivered.push(list);
      sendsInFlight--;
    }, { informers: w.informers, debounceMs: 10_000, maxDelayMs: 10_000 });
    let ready: boolean | undefined;
    void feed.ready(5_000).then((r) => (ready = r));
    await vi.advanceTimersByTimeAsync(100);
    expect(ready).toBeUndefined(); // the services of `dev` are not known yet
    listServices();
    await vi.advanceTimersByTimeAsync(5);
    expect(ready).toBeUndefined(); // known, but still being delivered
    await vi.advanceTimersByTimeAsync(40);
    expect(ready).toBe(true);
    expect(sendsInFlight).toBe(0);
    expect(w.delivered.at(-1)).toEqual([{ name: 'default' }, { name: 'dev', services: ['demo'] }]);
    feed.stop();
  });

  it('is false when the list does not arrive in time (connect goes on, the feed keeps trying)', async () => {
    const w = world();
    w.namespaces.gate = new Promise<void>(() => undefined);
    const feed = startNamespaceFeed(kc, async () => undefined, { informers: w.informers });
    const ready = feed.ready(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await ready).toBe(false);
    feed.stop();
  });

  it('is false when the root daemon refuses the list', async () => {
    const w = world();
    w.namespaces.items.set('default', ns('default'));
    const feed = startNamespaceFeed(kc, async () => Promise.reject(new Error('root daemon gone')), { informers: w.informers, retryMs: 60_000 });
    const ready = feed.ready(1_000);
    await vi.advanceTimersByTimeAsync(10);
    expect(await ready).toBe(false);
    feed.stop();
  });

  it('without permission to list namespaces: ready once the fallback is delivered', async () => {
    const w = world();
    w.namespaces.failStart = new KubeApiError(403, { message: 'forbidden' }, 'watch');
    const feed = startNamespaceFeed(kc, async (list) => void w.delivered.push(list), { informers: w.informers, fallback: [{ name: 'mine' }] });
    const ready = feed.ready(1_000);
    await vi.advanceTimersByTimeAsync(10);
    expect(await ready).toBe(true);
    expect(w.delivered.at(-1)).toEqual([{ name: 'mine' }]);
    feed.stop();
  });
});
