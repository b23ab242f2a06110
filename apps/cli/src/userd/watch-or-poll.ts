// Kubernetes list+watch for the user daemon's feeds, turning into polling when RBAC allows list
// but not watch. Boundary: user daemon ← kube API (the user's own credentials).
import type { KubeConfig, KubernetesObject, V1Namespace, V1Service } from '@kubernetes/client-node';
import { statusOf } from '../install/errors.js';
import { kubeApi, resourcePath } from '../kube/api.js';
import { ListWatch } from '../kube/informer.js';

/** List interval when we may list but not watch (RBAC without `watch`). */
export const DEFAULT_POLL_MS = 1_000;

/** What the feed needs of an informer (kube/informer.ts's ListWatch; tests pass fakes). */
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

/**
 * An informer that turns into a poller when the watch is forbidden but the list is
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
    private readonly informer: InformerLike<T>,
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

/** The feed of one collection (e.g. `/api/v1/services`): list+watch, polling when watch is forbidden. */
export function kubeFeed<T extends KubernetesObject>(kc: KubeConfig, path: string, pollMs = DEFAULT_POLL_MS): WatchOrPoll<T> {
  const api = kubeApi(kc);
  return new WatchOrPoll<T>(new ListWatch<T>(api, path), async () => (await api.list<T>(path)).items, pollMs);
}

export function kubeInformers(kc: KubeConfig, pollMs = DEFAULT_POLL_MS): InformerFactory {
  return {
    namespaces: () => kubeFeed<V1Namespace>(kc, resourcePath('v1', 'namespaces'), pollMs),
    services: (namespace) => kubeFeed<V1Service>(kc, resourcePath('v1', 'services', namespace), pollMs),
  };
}
