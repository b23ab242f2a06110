// The user daemon's watched view of Services and EndpointSlices for cluster DNS: list + watch
// cluster-wide, or namespace by namespace when the cluster-wide list is forbidden; pushed to the
// root daemon (`setDnsRecords`) as changed namespaces shortly after each change. A scope whose
// watch is forbidden or broken leaves the view, so its names take the cluster path.
// Boundary: user daemon ← kube API (the user's own credentials), → root daemon (a callback).
import type { KubeConfig, KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { DnsNamespaceRecords, DnsRecordsUpdate } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { diffRecords, namespaceRecords, readyEndpoints, slim } from './dns-records.js';
import { statusOf } from '../install/errors.js';
import { resourcePath } from '../kube/api.js';
import { DEFAULT_POLL_MS, kubeFeed, type InformerLike } from './watch-or-poll.js';

/** Quiet time after a change before it is pushed, and the longest a change waits however busy. */
export const RECORDS_DEBOUNCE_MS = 20;
export const RECORDS_MAX_DELAY_MS = 150;
/** Namespaces watched one by one at most (when the cluster-wide list is forbidden). */
export const MAX_NAMESPACE_WATCHES = 64;

export interface RecordInformers {
  /** Cluster-wide without a namespace. */
  services(namespace?: string): InformerLike<V1Service>;
  endpointSlices(namespace?: string): InformerLike<V1EndpointSlice>;
}

export function kubeRecordInformers(kc: KubeConfig, pollMs = DEFAULT_POLL_MS): RecordInformers {
  return {
    services: (namespace) => kubeFeed<V1Service>(kc, resourcePath('v1', 'services', namespace), pollMs),
    endpointSlices: (namespace) => kubeFeed<V1EndpointSlice>(kc, resourcePath('discovery.k8s.io/v1', 'endpointslices', namespace), pollMs),
  };
}

export interface ClusterNamesOptions {
  log?: Logger;
  informers?: RecordInformers;
  debounceMs?: number;
  maxDelayMs?: number;
  /** Restart of a broken watch, retry of a failed push. */
  retryMs?: number;
  /** Retry of a forbidden namespace's watch. */
  forbiddenRetryMs?: number;
  maxNamespaceWatches?: number;
}

export interface ClusterNames {
  /** The live namespaces (the namespace feed's list): watched one by one when cluster-wide is forbidden. */
  setNamespaces(names: string[]): void;
  /** Resolves true once the first view (or the fallback) is in the root daemon; false on timeout. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Push everything again (the root daemon restarted). */
  resend(): Promise<void>;
  stop(): void;
}

type State = { ok: true } | { ok: false; reason: string };
const NOT_LISTED: State = { ok: false, reason: 'not listed yet' };

/** One informer (cluster-wide or one namespace) and whether what it holds is the whole truth. */
class Watched<T extends KubernetesObject> {
  state: State = NOT_LISTED;
  /** Listed, or failed: nothing to wait for. */
  settled = false;
  forbidden = false;
  private stopped = false;
  private generation = 0;
  private failedIn = -1;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    readonly inf: InformerLike<T>,
    private readonly what: string,
    private readonly changed: () => void,
    private readonly opts: { retryMs: number; forbiddenRetryMs: number; log?: Logger; onForbidden?: () => void; quiet?: boolean },
  ) {
    for (const verb of ['add', 'update'] as const)
      inf.on(verb, (o) => {
        slim(o as V1Service | V1EndpointSlice);
        changed();
      });
    inf.on('delete', () => changed());
    inf.on('error', (err) => this.fail(err));
  }

  start(): void {
    const gen = ++this.generation;
    // start() resolves after the first list and the start of the watch, or after their failure
    // (an `error` was emitted before then).
    this.inf.start().then(
      () => {
        if (this.stopped || gen !== this.generation || this.failedIn === gen) return;
        if (!this.state.ok && this.forbidden) this.opts.log?.info(`dns: ${this.what} are readable now; their names are answered on the workstation`);
        this.state = { ok: true };
        this.settled = true;
        this.forbidden = false;
        this.changed();
      },
      (err: unknown) => this.fail(err),
    );
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.failedIn = this.generation;
    const forbidden = statusOf(err) === 403;
    const wasOk = this.state.ok;
    this.state = { ok: false, reason: forbidden ? `not allowed to list ${this.what}` : `the watch of ${this.what} broke (${String(err).slice(0, 120)})` };
    // One line per change of situation, not per retry.
    // Per-namespace watches log at debug level: the cluster-wide line already said why they exist.
    if (wasOk || forbidden !== this.forbidden || !this.settled) (this.opts.quiet ? this.opts.log?.debug.bind(this.opts.log) : this.opts.log?.warn.bind(this.opts.log))?.(`dns: ${this.state.reason}; their names resolve through the cluster DNS meanwhile`);
    this.forbidden = forbidden;
    this.settled = true;
    this.changed();
    if (forbidden) this.opts.onForbidden?.();
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(
      () => {
        this.retry = undefined;
        if (!this.stopped) this.start();
      },
      forbidden ? this.opts.forbiddenRetryMs : this.opts.retryMs,
    );
    this.retry.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    void this.inf.stop().catch(() => undefined);
  }
}

const byNamespace = <T extends KubernetesObject>(items: ReadonlyArray<T>): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const o of items) {
    const ns = o.metadata?.namespace;
    if (!ns) continue;
    const list = out.get(ns);
    if (list) list.push(o);
    else out.set(ns, [o]);
  }
  return out;
};

/**
 * Start watching and pushing. The first push is a reset; after that each push carries the
 * namespaces that changed. A failed push is retried as a reset.
 */
export function startClusterNames(kc: KubeConfig, send: (update: DnsRecordsUpdate) => Promise<void>, opts: ClusterNamesOptions = {}): ClusterNames {
  const informers = opts.informers ?? kubeRecordInformers(kc);
  const log = opts.log;
  const retryMs = opts.retryMs ?? 2_000;
  const common = { retryMs, forbiddenRetryMs: opts.forbiddenRetryMs ?? 60_000, ...(log ? { log } : {}) };
  const maxWatches = opts.maxNamespaceWatches ?? MAX_NAMESPACE_WATCHES;
  let stopped = false;
  let namespaces: string[] = [];
  let svcForbidden = false;
  let epsForbidden = false;
  const svcNs = new Map<string, Watched<V1Service>>();
  const epsNs = new Map<string, Watched<V1EndpointSlice>>();

  // Pushing: debounced, one at a time, a reset after a failure.
  const sent = new Map<string, string>();
  let sentFallback: string | undefined;
  let reset = true;
  let timer: NodeJS.Timeout | undefined;
  let firstChange = 0;
  let inFlight: Promise<void> | undefined;
  let again = false;
  let delivered = false;
  const changed = () => {
    if (stopped) return;
    const now = Date.now();
    if (!timer) firstChange = now;
    clearTimeout(timer);
    timer = setTimeout(() => void push(), Math.max(0, Math.min(opts.debounceMs ?? RECORDS_DEBOUNCE_MS, firstChange + (opts.maxDelayMs ?? RECORDS_MAX_DELAY_MS) - now)));
  };
  const push = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped) return Promise.resolve();
    if (inFlight) {
      again = true;
      return inFlight;
    }
    syncNamespaceWatches();
    const { records, fallback } = compute();
    const update = diffRecords(sent, records, fallback, reset, sentFallback);
    if (!update) {
      delivered = true;
      return Promise.resolve();
    }
    reset = false;
    sentFallback = JSON.stringify(fallback);
    delivered = false;
    inFlight = send(update).then(
      () => {
        delivered = true;
      },
      (err: unknown) => {
        log?.warn('dns: could not send the Service view to the root daemon', { err: String(err) });
        reset = true;
        if (!stopped) setTimeout(changed, retryMs).unref();
      },
    );
    return inFlight.finally(() => {
      inFlight = undefined;
      if (again) {
        again = false;
        void push();
      }
    });
  };

  const svcAll = new Watched(informers.services(), 'Services cluster-wide', changed, {
    ...common,
    onForbidden: () => {
      svcForbidden = true;
      svcAll.stop();
      changed();
    },
  });
  const epsAll = new Watched(informers.endpointSlices(), 'EndpointSlices cluster-wide', changed, {
    ...common,
    onForbidden: () => {
      epsForbidden = true;
      epsAll.stop();
      changed();
    },
  });

  /** Without the cluster-wide list: one watch per namespace (EndpointSlices: only where headless Services are). */
  const syncNamespaceWatches = () => {
    const sync = <T extends KubernetesObject>(map: Map<string, Watched<T>>, want: string[], make: (ns: string) => InformerLike<T>, what: string) => {
      const keep = new Set(want.slice(0, maxWatches));
      for (const [ns, w] of map) {
        if (keep.has(ns)) continue;
        w.stop();
        map.delete(ns);
      }
      for (const ns of keep) {
        if (map.has(ns)) continue;
        const w = new Watched(make(ns), `${what} in this namespace`, changed, { ...common, quiet: true });
        map.set(ns, w);
        w.start();
      }
    };
    if (svcForbidden) sync(svcNs, namespaces, (ns) => informers.services(ns), 'Services');
    if (epsForbidden) {
      const headless = new Set<string>();
      for (const [ns, list] of serviceLists()) if (Array.isArray(list) && list.some((s) => s.spec?.clusterIP === 'None')) headless.add(ns);
      sync(epsNs, [...headless].sort(), (ns) => informers.endpointSlices(ns), 'EndpointSlices');
    }
  };

  /** The Services of every namespace the view can speak for, or why it can't. */
  const serviceLists = (): Map<string, V1Service[] | { reason: string }> => {
    if (!svcForbidden) return svcAll.state.ok ? byNamespace(svcAll.inf.list()) : new Map();
    const out = new Map<string, V1Service[] | { reason: string }>();
    for (const [ns, w] of svcNs) out.set(ns, w.state.ok ? [...w.inf.list()] : { reason: w.state.reason });
    return out;
  };

  const compute = (): { records: Map<string, DnsNamespaceRecords>; fallback: string[] } => {
    const fallback: string[] = [];
    if (!svcForbidden && !svcAll.state.ok) fallback.push(`${svcAll.state.reason}: every cluster name resolves through the cluster DNS`);
    if (svcForbidden) {
      const more = namespaces.length - svcNs.size;
      fallback.push(`not allowed to list Services cluster-wide: watching ${svcNs.size} namespaces one by one${more > 0 ? `; ${more} more resolve through the cluster DNS` : ''}`);
    }
    const epsByNs = !epsForbidden && epsAll.state.ok ? byNamespace(epsAll.inf.list()) : undefined;
    if (!epsForbidden && !epsAll.state.ok) fallback.push(`${epsAll.state.reason}: headless Services resolve through the cluster DNS`);
    if (epsForbidden) fallback.push('not allowed to list EndpointSlices cluster-wide: watched per namespace with headless Services');
    const records = new Map<string, DnsNamespaceRecords>();
    for (const [ns, list] of serviceLists()) {
      if (!Array.isArray(list)) {
        records.set(ns, { namespace: ns, complete: false, services: [], reason: list.reason });
        continue;
      }
      const nsEps = epsForbidden ? epsNs.get(ns) : undefined;
      const slices = epsByNs ? (epsByNs.get(ns) ?? []) : nsEps?.state.ok ? nsEps.inf.list() : undefined;
      records.set(ns, namespaceRecords(ns, list, slices ? readyEndpoints(slices) : undefined));
    }
    return { records, fallback };
  };

  const settled = () => (svcForbidden ? [...svcNs.values()].every((w) => w.settled) : svcAll.settled) && (epsForbidden || epsAll.settled);

  svcAll.start();
  epsAll.start();

  return {
    setNamespaces(names) {
      const next = [...new Set(names)].sort();
      if (JSON.stringify(next) === JSON.stringify(namespaces)) return;
      namespaces = next;
      if (svcForbidden) changed();
    },
    async ready(timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!stopped && Date.now() < end) {
        if (settled()) {
          if (inFlight) await inFlight;
          await push();
          if (delivered) return true;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return false;
    },
    async resend() {
      reset = true;
      clearTimeout(timer);
      await push();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      svcAll.stop();
      epsAll.stop();
      for (const w of [...svcNs.values(), ...epsNs.values()]) w.stop();
    },
  };
}
