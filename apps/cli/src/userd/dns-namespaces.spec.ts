import type { KubeConfig, V1Namespace, V1Service } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DnsNamespace } from '@tel/contracts';
import { DebouncedSender, WatchOrPoll, dnsNamespaces, isIcannPublicSuffix, isLive, startNamespaceFeed, type InformerFactory, type InformerLike } from './dns-namespaces.js';

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

describe('DebouncedSender', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = (send: (l: DnsNamespace[]) => Promise<void>, list: { v: DnsNamespace[] }) =>
    new DebouncedSender(() => list.v, send, { debounceMs: 200, maxDelayMs: 1_000, retryMs: 500 });

  it('a burst of changes becomes one send after the quiet time', async () => {
    const sent: DnsNamespace[][] = [];
    const list = { v: [{ name: 'a' }] };
    const s = make(async (l) => void sent.push(l), list);
    for (let i = 0; i < 5; i++) {
      list.v = [{ name: `n${i}` }];
      s.changed();
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual([[{ name: 'n4' }]]);
  });

  it('a change is sent within maxDelay even when changes never stop', async () => {
    const sentAt: number[] = [];
    const t0 = Date.now();
    let i = 0;
    const list = { v: [] as DnsNamespace[] };
    const s = make(async () => void sentAt.push(Date.now() - t0), list);
    for (let k = 0; k < 30; k++) {
      list.v = [{ name: `n${i++}` }];
      s.changed();
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(sentAt.length).toBeGreaterThanOrEqual(2);
    expect(sentAt[0]).toBeLessThanOrEqual(1_000);
    for (let k = 1; k < sentAt.length; k++) expect(sentAt[k]! - sentAt[k - 1]!).toBeLessThanOrEqual(1_100);
  });

  it('an unchanged list is not sent again; resend (flush(true)) sends it anyway', async () => {
    const send = vi.fn(async () => undefined);
    const list = { v: [{ name: 'a' }] };
    const s = make(send, list);
    s.changed();
    await vi.advanceTimersByTimeAsync(300);
    s.changed();
    await vi.advanceTimersByTimeAsync(300);
    expect(send).toHaveBeenCalledTimes(1);
    await s.flush(true);
    expect(send).toHaveBeenCalledTimes(2);
  });

  it('changes during a slow send are sent right after it, as the latest list', async () => {
    const sent: string[] = [];
    let release!: () => void;
    const list = { v: [{ name: 'a' }] };
    const s = make(
      (l) =>
        new Promise<void>((r) => {
          sent.push(l.map((n) => n.name).join());
          release = r;
        }),
      list,
    );
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual(['a']);
    list.v = [{ name: 'a' }, { name: 'b' }];
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    list.v = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual(['a']);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual(['a', 'a,b,c']);
    release();
  });

  it('a failed send is retried', async () => {
    let fail = true;
    const sent: DnsNamespace[][] = [];
    const errors: unknown[] = [];
    const s = new DebouncedSender(
      () => [{ name: 'a' }],
      async (l) => {
        if (fail) throw new Error('root daemon restarting');
        sent.push(l);
      },
      { debounceMs: 200, maxDelayMs: 1_000, retryMs: 500, onError: (e) => errors.push(e) },
    );
    s.changed();
    await vi.advanceTimersByTimeAsync(200);
    expect(errors).toHaveLength(1);
    fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual([[{ name: 'a' }]]);
  });

  it('stop cancels a pending send', async () => {
    const send = vi.fn(async () => undefined);
    const s = make(send, { v: [{ name: 'a' }] });
    s.changed();
    s.stop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(send).not.toHaveBeenCalled();
  });
});

/** An in-memory informer with the client-node semantics the feed relies on. */
class FakeInformer<T extends { metadata?: { name?: string } }> implements InformerLike<T> {
  items = new Map<string, T>();
  started = 0;
  stopped = false;
  failStart: unknown;
  /** start() lists only once this resolves (a slow API server). */
  gate: Promise<void> | undefined;
  private readonly cbs: Record<string, ((x?: any) => void)[]> = { add: [], update: [], delete: [], error: [] };
  on(verb: string, cb: (x?: any) => void): void {
    this.cbs[verb]!.push(cb);
  }
  async start(): Promise<void> {
    this.started++;
    this.stopped = false;
    await this.gate;
    if (this.failStart) {
      const e = this.failStart;
      this.failStart = undefined;
      this.error(e);
      return;
    }
    for (const o of this.items.values()) this.emit('add', o);
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  list(): ReadonlyArray<T> {
    return [...this.items.values()];
  }
  put(o: T): void {
    const name = o.metadata!.name!;
    const verb = this.items.has(name) ? 'update' : 'add';
    this.items.set(name, o);
    if (this.started && !this.stopped) this.emit(verb, o);
  }
  remove(name: string): void {
    const o = this.items.get(name);
    this.items.delete(name);
    if (o && this.started && !this.stopped) this.emit('delete', o);
  }
  error(e: unknown): void {
    this.stopped = true;
    for (const cb of this.cbs.error!) cb(e);
  }
  private emit(verb: string, o: T): void {
    for (const cb of this.cbs[verb]!) cb(o);
  }
}

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
    t.namespaces.failStart = Object.assign(new Error('forbidden'), { code: 403 });
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
    w.namespaces.failStart = Object.assign(new Error('forbidden'), { code: 403 });
    const feed = startNamespaceFeed(kc, async (list) => void w.delivered.push(list), { informers: w.informers, fallback: [{ name: 'mine' }] });
    const ready = feed.ready(1_000);
    await vi.advanceTimersByTimeAsync(10);
    expect(await ready).toBe(true);
    expect(w.delivered.at(-1)).toEqual([{ name: 'mine' }]);
    feed.stop();
  });
});

describe('WatchOrPoll', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('passes informer events through; when the watch is forbidden after a list, polls and reports differences', async () => {
    const inf = new FakeInformer<V1Namespace>();
    inf.items.set('default', { metadata: { name: 'default', resourceVersion: '1' } });
    let server = [{ metadata: { name: 'default', resourceVersion: '1' } }] as V1Namespace[];
    const w = new WatchOrPoll(inf as never, async () => server, 1_000);
    const events: string[] = [];
    for (const verb of ['add', 'update', 'delete'] as const) w.on(verb, (o) => events.push(`${verb} ${o.metadata!.name}`));
    const errors: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    await w.start();
    expect(events).toEqual(['add default']);
    // The API server refuses the watch (developer Role: list without watch).
    inf.error(Object.assign(new Error('Forbidden'), { statusCode: 403 }));
    expect(errors).toEqual([]);
    expect(w.isPolling).toBe(true);
    expect(w.list().map((n) => n.metadata!.name)).toEqual(['default']);
    server = [...server, { metadata: { name: 'new', resourceVersion: '5' } }];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(events).toEqual(['add default', 'add new']);
    server = [{ metadata: { name: 'new', resourceVersion: '6' } }];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(events).toEqual(['add default', 'add new', 'delete default', 'update new']);
    expect(w.list().map((n) => n.metadata!.name)).toEqual(['new']);
    await w.stop();
  });

  it('a 403 before anything was listed is an error for the owner (no permission at all)', async () => {
    const inf = new FakeInformer<V1Namespace>();
    inf.failStart = Object.assign(new Error('Forbidden'), { code: 403 });
    const w = new WatchOrPoll(inf as never, async () => [], 1_000);
    const errors: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    await w.start();
    expect(errors).toHaveLength(1);
    expect(w.isPolling).toBe(false);
  });
});
