// A list+watch informer over the thin client (./api.ts): list, then watch from the list's
// resourceVersion, keeping a cache and calling add/update/delete; the watch resumes where it was
// when the API server ends it, and relists on 410 Gone. Any other failure is an `error` and the
// informer stops: its owner decides when to start it again. Boundary: user daemon ← kube API.
import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeApiError, type KubeApi, type WatchEvent } from './api.js';

type Verb = 'add' | 'update' | 'delete';

export interface ListWatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class ListWatch<T extends KubernetesObject> {
  private objects = new Map<string, T>();
  private resourceVersion = '';
  private stopped = true;
  private abort: AbortController | undefined;
  private readonly cbs: Record<Verb, ((o: T) => void)[]> & { error: ((err?: unknown) => void)[] } = { add: [], update: [], delete: [], error: [] };

  constructor(
    private readonly api: KubeApi,
    /** The collection, e.g. `/api/v1/namespaces/x/services` or `/api/v1/services`. */
    private readonly path: string,
    private readonly opts: ListWatchOptions = {},
  ) {}

  on(verb: Verb, cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err?: unknown) => void): void;
  on(verb: Verb | 'error', cb: (x: never) => void): void {
    (this.cbs[verb] as ((x: never) => void)[]).push(cb);
  }

  /**
   * Resolves once the list is in the cache and the watch is open, or once their failure was
   * reported as an `error` (start itself never rejects). A start after an error lists again: what
   * was deleted while the watch was broken leaves the cache as a `delete` then.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.resourceVersion = '';
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.abort = undefined;
  }

  list(): ReadonlyArray<T> {
    return [...this.objects.values()];
  }

  /** 1. list (when there is no resourceVersion to resume from); 2. open the watch; 3. on its end, again. */
  private async run(): Promise<void> {
    if (this.stopped) return;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const selectors = { ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}), ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}) };
    let watching: { done: Promise<void> };
    try {
      if (!this.resourceVersion) {
        const list = await this.api.list<T>(this.path, { ...selectors, signal: abort.signal });
        if (abort.signal.aborted) return;
        this.replace(list.items);
        this.resourceVersion = list.metadata?.resourceVersion ?? '';
      }
      watching = await this.api.watch<T>(this.path, { ...selectors, resourceVersion: this.resourceVersion, signal: abort.signal }, (e) => this.event(e));
    } catch (err) {
      this.ended(abort, err);
      return;
    }
    watching.done.then(
      () => this.ended(abort, undefined),
      (err: unknown) => this.ended(abort, err),
    );
  }

  private ended(abort: AbortController, err: unknown): void {
    if (this.stopped || abort !== this.abort) return;
    if (err instanceof KubeApiError && err.statusCode === 410) this.resourceVersion = '';
    else if (err !== undefined) {
      this.stopped = true;
      for (const cb of this.cbs.error) cb(err);
      return;
    }
    void this.run();
  }

  private event(e: WatchEvent<T>): void {
    const rv = e.object.metadata?.resourceVersion;
    if (e.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    if (e.type === 'DELETED') {
      const key = keyOf(e.object);
      if (this.objects.delete(key)) for (const cb of this.cbs.delete) cb(e.object);
    } else this.upsert(e.object);
    if (rv) this.resourceVersion = rv;
  }

  private upsert(o: T): void {
    const key = keyOf(o);
    const old = this.objects.get(key);
    this.objects.set(key, o);
    if (!old) for (const cb of this.cbs.add) cb(o);
    else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) for (const cb of this.cbs.update) cb(o);
  }

  /** A fresh list: what is gone is deleted, the rest added or updated. */
  private replace(items: T[]): void {
    const next = new Set(items.map(keyOf));
    for (const [key, o] of this.objects) {
      if (next.has(key)) continue;
      this.objects.delete(key);
      for (const cb of this.cbs.delete) cb(o);
    }
    for (const o of items) this.upsert(o);
  }
}
