// The user daemon's namespace feed for cluster DNS: watches the cluster's namespaces (list + watch,
// re-listed after errors) and, for namespaces whose name is an ICANN public suffix (`rs`, `dev`),
// their services; sends the full list to the root daemon (`setDnsNamespaces`) shortly after each
// change. Boundary: user daemon ← kube API (its own credentials), → root daemon (a callback).
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache, type V1Namespace, type V1Service } from '@kubernetes/client-node';
import type { DnsNamespace } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { parse } from 'tldts';

/** Quiet time after a change before the list is sent (bursts of changes become one send). */
export const DEFAULT_DEBOUNCE_MS = 200;
/** A change is sent at most this long after it was seen, however busy the watch (bound: 2 s). */
export const DEFAULT_MAX_DELAY_MS = 1_000;
/** Wait before restarting a watch that failed, and before retrying a failed send. */
export const DEFAULT_RETRY_MS = 2_000;
/** List interval when we may list but not watch (RBAC without `watch`). */
export const DEFAULT_POLL_MS = 1_000;

/**
 * True when `name` is itself an ICANN public suffix (`rs`, `im`, `dev`, `com`): the root daemon
 * routes such a namespace per service, so it needs the service names. Same rule as the root
 * daemon's dns/psl.ts: ICANN section only, tldts' implicit `*` rule doesn't count.
 */
export function isIcannPublicSuffix(name: string): boolean {
  const r = parse(`x.${name}`, { allowPrivateDomains: false, detectIp: false, extractHostname: false, validateHostname: false });
  return r.isIcann === true && r.publicSuffix === name;
}

/** The list the root daemon gets: sorted by name; services (sorted) only for public-suffix names. */
export function dnsNamespaces(names: Iterable<string>, services: ReadonlyMap<string, Iterable<string>>, isPublicSuffix = isIcannPublicSuffix): DnsNamespace[] {
  return [...new Set(names)].sort().map((name) => (isPublicSuffix(name) ? { name, services: [...new Set(services.get(name) ?? [])].sort() } : { name }));
}

/** A namespace that is being deleted is gone for DNS: its services are going too. */
export function isLive(ns: V1Namespace): boolean {
  return !ns.metadata?.deletionTimestamp && ns.status?.phase !== 'Terminating';
}

/**
 * Coalesces changes into sends of the latest list: `changed()` sends `snapshot()` after
 * `debounceMs` of quiet, but never later than `maxDelayMs` after the first unsent change. One send
 * at a time; an unchanged list is not sent again; a failed send is retried after `retryMs`.
 */
export class DebouncedSender {
  private timer: NodeJS.Timeout | undefined;
  private firstChange = 0;
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  private lastSent: string | undefined;
  private stopped = false;

  constructor(
    private readonly snapshot: () => DnsNamespace[],
    private readonly send: (ns: DnsNamespace[]) => Promise<void>,
    private readonly opts: { debounceMs: number; maxDelayMs: number; retryMs: number; onError?: (err: unknown) => void },
  ) {}

  changed(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (!this.timer) this.firstChange = now;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.opts.debounceMs, this.firstChange + this.opts.maxDelayMs - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Send now (no debounce), even when unchanged: e.g. after the root daemon restarted. */
  flush(force = false): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (force) this.lastSent = undefined;
    return this.fire();
  }

  private fire(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) {
      // Sent when the current send returns, with whatever the list is by then.
      this.dirty = true;
      return this.inFlight;
    }
    const list = this.snapshot();
    const key = JSON.stringify(list);
    if (key === this.lastSent) return Promise.resolve();
    this.inFlight = this.send(list).then(
      () => {
        this.lastSent = key;
      },
      (err: unknown) => {
        this.opts.onError?.(err);
        this.dirty = false;
        if (!this.stopped) this.timer = setTimeout(() => void this.fire(), this.opts.retryMs);
      },
    );
    return this.inFlight.finally(() => {
      this.inFlight = undefined;
      if (this.dirty) {
        this.dirty = false;
        void this.fire();
      }
    });
  }

  /**
   * Resolves once the list as it is now has been delivered: sends it unless it already was (or
   * is being) sent, and waits for any send in flight. False when a send failed or we stopped.
   */
  async sendCurrent(): Promise<boolean> {
    for (let attempt = 0; attempt < 3 && !this.stopped; attempt++) {
      const key = JSON.stringify(this.snapshot());
      if (key === this.lastSent) return true;
      if (this.inFlight) await this.inFlight.catch(() => undefined);
      else {
        await this.flush();
        if (this.lastSent !== key) return false;
      }
    }
    return !this.stopped && JSON.stringify(this.snapshot()) === this.lastSent;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What the feed needs of a client-node informer (tests pass fakes). */
export interface InformerLike<T> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  list(): ReadonlyArray<T>;
}

export interface InformerFactory {
  namespaces(): InformerLike<V1Namespace>;
  services(namespace: string): InformerLike<V1Service>;
}

const statusOf = (err: unknown): number | undefined => (err as { code?: number })?.code ?? (err as { statusCode?: number })?.statusCode;

/**
 * A client-node informer that turns into a poller when the watch is forbidden but the list is
 * allowed (a Role with `list` and no `watch` is common for developers): then it lists every
 * `pollMs` and reports the differences as add/update/delete, like the informer would.
 */
export class WatchOrPoll<T extends KubernetesObject> implements InformerLike<T> {
  private polling = false;
  private listed = false;
  private timer: NodeJS.Timeout | undefined;
  private items = new Map<string, T>();
  private readonly cbs: { add: ((o: T) => void)[]; update: ((o: T) => void)[]; delete: ((o: T) => void)[]; error: ((e?: unknown) => void)[] } = { add: [], update: [], delete: [], error: [] };

  constructor(
    private readonly informer: Pick<Informer<T>, 'on' | 'start' | 'stop'> & ObjectCache<T>,
    private readonly listFn: () => Promise<ReadonlyArray<T>>,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (o: T) => {
        this.listed = true;
        if (!this.polling) for (const cb of this.cbs[verb]) cb(o);
      });
    }
    informer.on('error', (err?: unknown) => {
      if (this.polling) return;
      if (statusOf(err) === 403 && this.listed) {
        // Listing worked, watching is forbidden: poll from what the informer already has.
        this.polling = true;
        for (const o of informer.list()) this.items.set(keyOf(o), o);
        this.schedule();
        return;
      }
      for (const cb of this.cbs.error) cb(err);
    });
  }

  get isPolling(): boolean {
    return this.polling;
  }

  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  on(verb: 'add' | 'update' | 'delete' | 'error', cb: (x: never) => void): void {
    (this.cbs[verb] as ((x: never) => void)[]).push(cb);
  }

  async start(): Promise<void> {
    if (this.polling) this.schedule(0);
    else await this.informer.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.polling = false;
    await this.informer.stop();
  }

  list(): ReadonlyArray<T> {
    return this.polling ? [...this.items.values()] : this.informer.list();
  }

  private schedule(ms = this.pollMs): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    let list: ReadonlyArray<T>;
    try {
      list = await this.listFn();
    } catch (err) {
      if (this.polling) for (const cb of this.cbs.error) cb(err); // the owner restarts us
      return;
    }
    if (!this.polling) return;
    const next = new Map(list.map((o) => [keyOf(o), o] as const));
    for (const [k, o] of this.items) if (!next.has(k)) for (const cb of this.cbs.delete) cb(o);
    for (const [k, o] of next) {
      const old = this.items.get(k);
      if (!old) for (const cb of this.cbs.add) cb(o);
      else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) for (const cb of this.cbs.update) cb(o);
    }
    this.items = next;
    this.schedule();
  }
}

const keyOf = (o: KubernetesObject) => o.metadata?.uid ?? o.metadata?.name ?? '';

export function kubeInformers(kc: KubeConfig, pollMs = DEFAULT_POLL_MS): InformerFactory {
  const core = kc.makeApiClient(CoreV1Api);
  const namespaces = () => core.listNamespace();
  return {
    namespaces: () => new WatchOrPoll(makeInformer(kc, '/api/v1/namespaces', namespaces), async () => (await namespaces()).items, pollMs),
    services: (namespace) => {
      const list = () => core.listNamespacedService({ namespace });
      return new WatchOrPoll(makeInformer(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/services`, list), async () => (await list()).items, pollMs);
    },
  };
}

export interface NamespaceFeedOptions {
  log?: Logger;
  debounceMs?: number;
  maxDelayMs?: number;
  retryMs?: number;
  /**
   * Sent when namespaces can't be listed (no cluster-wide `list namespaces` permission): usually
   * the connected namespace, so at least its names resolve.
   */
  fallback?: DnsNamespace[];
  informers?: InformerFactory;
}

export interface NamespaceFeed {
  /**
   * Resolves true once the first complete picture — every namespace, and the services of each
   * public-suffix namespace — has been listed and delivered to `send` (the root daemon has it in
   * the system resolver); false when that did not happen within `timeoutMs`.
   */
  ready(timeoutMs: number): Promise<boolean>;
  stop(): void;
  /** Send the current list now even if unchanged (after the root daemon was restarted). */
  resend(): Promise<void>;
}

/**
 * Start watching: the first list is sent as soon as the initial list arrives; after that every
 * namespace created or deleted (and every service change in a public-suffix namespace) reaches
 * `send` within `maxDelayMs` + the send itself.
 */
export function startNamespaceFeed(kc: KubeConfig, send: (ns: DnsNamespace[]) => Promise<void>, opts: NamespaceFeedOptions = {}): NamespaceFeed {
  const informers = opts.informers ?? kubeInformers(kc);
  const retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
  const log = opts.log;
  let stopped = false;
  let listed = false;
  let forbidden = false;
  const services = new Map<string, InformerLike<V1Service>>();
  /** Service informers whose first list is in (or that failed: no reason to wait for them). */
  const servicesSettled = new Set<InformerLike<V1Service>>();
  const namespaces = informers.namespaces();
  let namespacesSettled = false;
  const settleWaiters = new Set<() => void>();
  const settled = () => (namespacesSettled && (listed || forbidden)) && [...services.values()].every((inf) => servicesSettled.has(inf));
  const notify = () => {
    if (settled()) for (const w of settleWaiters) w();
  };

  const liveNames = () => namespaces.list().filter(isLive).map((n) => n.metadata?.name ?? '').filter(Boolean);
  const snapshot = (): DnsNamespace[] => {
    if (forbidden && !listed) return opts.fallback ?? [];
    const svc = new Map<string, string[]>();
    for (const [ns, inf] of services) svc.set(ns, inf.list().map((s) => s.metadata?.name ?? '').filter(Boolean));
    return dnsNamespaces(liveNames(), svc);
  };
  const sender = new DebouncedSender(snapshot, send, {
    debounceMs: opts.debounceMs ?? DEFAULT_DEBOUNCE_MS,
    maxDelayMs: opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    retryMs,
    onError: (err) => log?.warn('dns: could not send the namespace list to the root daemon', { err: String(err) }),
  });

  /** Keep one service informer per live public-suffix namespace. */
  const syncServiceWatches = () => {
    const want = new Set(liveNames().filter((n) => isIcannPublicSuffix(n)));
    for (const [ns, inf] of services) {
      if (!want.has(ns)) {
        services.delete(ns);
        void inf.stop().catch(() => undefined);
      }
    }
    for (const ns of want) {
      if (services.has(ns)) continue;
      const inf = informers.services(ns);
      services.set(ns, inf);
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, () => sender.changed());
      let restarting = false;
      const restart = (err: unknown) => {
        if (stopped || restarting || services.get(ns) !== inf) return;
        restarting = true;
        log?.debug('dns: service watch failed; restarting', { namespace: ns, err: String(err) });
        setTimeout(() => {
          restarting = false;
          if (!stopped && services.get(ns) === inf) inf.start().catch(restart);
        }, retryMs).unref();
      };
      inf.on('error', (err) => {
        servicesSettled.add(inf);
        notify();
        restart(err);
      });
      inf.start().then(
        () => {
          servicesSettled.add(inf);
          notify();
        },
        (err: unknown) => {
          servicesSettled.add(inf);
          notify();
          restart(err);
        },
      );
    }
  };
  // The informer's initial list arrives as one `add` per namespace (a cluster always has some).
  const onNamespaceChange = () => {
    listed = true;
    forbidden = false;
    syncServiceWatches();
    sender.changed();
  };
  for (const verb of ['add', 'update', 'delete'] as const) namespaces.on(verb, onNamespaceChange);

  // client-node reports a failed list or watch as an `error` event (start() itself resolves) and
  // stops; we start it again after a pause. A restart re-lists: missed deletions are caught then.
  let restarting = false;
  const onNamespaceError = (err: unknown) => {
    if (stopped || restarting) return;
    restarting = true;
    if (statusOf(err) === 403 && !listed) {
      if (!forbidden) log?.warn('dns: not allowed to list namespaces; only the fallback namespaces are mapped', { err: String(err) });
      forbidden = true;
      void sender.flush();
    } else {
      log?.debug('dns: namespace watch failed; restarting', { err: String(err) });
    }
    setTimeout(
      () => {
        restarting = false;
        if (!stopped) void startNamespaces();
      },
      forbidden ? Math.max(retryMs, 30_000) : retryMs,
    ).unref();
  };
  namespaces.on('error', onNamespaceError);
  // start() resolves after the first list (its items already reported as `add`) or its failure.
  const startNamespaces = () =>
    namespaces.start().then(
      () => {
        namespacesSettled = true;
        notify();
      },
      onNamespaceError,
    );
  void startNamespaces();

  return {
    async ready(timeoutMs) {
      if (!settled()) {
        let waiter: (() => void) | undefined;
        let timer: NodeJS.Timeout | undefined;
        const ok = await new Promise<boolean>((resolve) => {
          waiter = () => resolve(true);
          settleWaiters.add(waiter);
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        settleWaiters.delete(waiter!);
        clearTimeout(timer);
        if (!ok) return false;
      }
      return sender.sendCurrent();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      sender.stop();
      void namespaces.stop().catch(() => undefined);
      for (const inf of services.values()) void inf.stop().catch(() => undefined);
      services.clear();
    },
    resend: () => sender.flush(true),
  };
}
