// The user daemon's namespace feed for cluster DNS: watches the cluster's namespaces (list + watch,
// re-listed after errors) and, for namespaces whose name is an ICANN public suffix (`rs`, `dev`),
// their services; sends the full list to the root daemon (`setDnsNamespaces`) shortly after each
// change. Boundary: user daemon ← kube API (its own credentials), → root daemon (a callback).
import type { KubeConfig, V1Namespace, V1Service } from '@kubernetes/client-node';
import type { DnsNamespace, DnsRecordsUpdate } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { isIcannPublicSuffix } from '@tel/dns-names';
import { DebouncedSender } from './debounced-sender.js';
import { startClusterNames, type RecordInformers } from './dns-cluster-names.js';
import { statusOf } from '../install/errors.js';
import { kubeInformers, type InformerFactory, type InformerLike } from './watch-or-poll.js';

/** Quiet time after a change before the list is sent (bursts of changes become one send). */
export const DEFAULT_DEBOUNCE_MS = 200;
/** A change is sent at most this long after it was seen, however busy the watch (bound: 2 s). */
export const DEFAULT_MAX_DELAY_MS = 1_000;
/** Wait before restarting a watch that failed, and before retrying a failed send. */
export const DEFAULT_RETRY_MS = 2_000;

/** The list the root daemon gets: sorted by name; services (sorted) only for public-suffix names. */
export function dnsNamespaces(names: Iterable<string>, services: ReadonlyMap<string, Iterable<string>>, isPublicSuffix = isIcannPublicSuffix): DnsNamespace[] {
  return [...new Set(names)].sort().map((name) => (isPublicSuffix(name) ? { name, services: [...new Set(services.get(name) ?? [])].sort() } : { name }));
}

/** A namespace that is being deleted is gone for DNS: its services are going too. */
export function isLive(ns: V1Namespace): boolean {
  return !ns.metadata?.deletionTimestamp && ns.status?.phase !== 'Terminating';
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
  /**
   * Where the view of Services and EndpointSlices goes (the root daemon's `setDnsRecords`); without
   * it no view is kept and every cluster name takes the cluster path.
   */
  records?: (update: DnsRecordsUpdate) => Promise<void>;
  recordInformers?: RecordInformers;
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
  // The Service view watches namespace by namespace when it may not list cluster-wide: it follows
  // the list sent here.
  const names = opts.records ? startClusterNames(kc, opts.records, { ...(log ? { log } : {}), ...(opts.recordInformers ? { informers: opts.recordInformers } : {}) }) : undefined;
  const sendAll = async (list: DnsNamespace[]) => {
    names?.setNamespaces(list.map((n) => n.name));
    await send(list);
  };
  const sender = new DebouncedSender(snapshot, sendAll, {
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

  // The informer reports a failed list or watch as an `error` event (start() itself resolves) and
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
      const end = Date.now() + timeoutMs;
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
      if (!(await sender.sendCurrent())) return false;
      return names ? names.ready(Math.max(0, end - Date.now())) : true;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      sender.stop();
      names?.stop();
      void namespaces.stop().catch(() => undefined);
      for (const inf of services.values()) void inf.stop().catch(() => undefined);
      services.clear();
    },
    resend: async () => {
      await Promise.all([sender.flush(true), names?.resend()]);
    },
  };
}
