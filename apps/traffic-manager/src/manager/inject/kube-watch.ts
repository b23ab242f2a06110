// List-then-watch of one kind of object, as a live map, for the rollout watch: events arrive as the
// API server sends them (a rollout is seconds; polling would add its period to every step).
import { Watch, type KubeConfig, type KubernetesObject, type V1LabelSelector } from '@kubernetes/client-node';
import type { Logger } from '@tel/logging';

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/**
 * Keeps `objects` (by name) in step with the API server until `signal` aborts and calls `onChange`
 * after the initial list and after every event. A watch that ends (the server closes watches every
 * few minutes, or its resourceVersion expired) is followed by a fresh list.
 */
export function watchObjects<T extends KubernetesObject>(opts: {
  kc: KubeConfig;
  /** Collection path, e.g. /api/v1/namespaces/shop/pods. */
  path: string;
  query: Record<string, string>;
  list: () => Promise<ListResult<T>>;
  onChange: (objects: Map<string, T>) => void;
  signal: AbortSignal;
  log: Logger;
}): void {
  const objects = new Map<string, T>();
  const watch = new Watch(opts.kc);
  const { signal } = opts;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  void (async () => {
    while (!signal.aborted) {
      try {
        const list = await opts.list();
        if (signal.aborted) return;
        objects.clear();
        for (const o of list.items) objects.set(o.metadata?.name ?? '', o);
        opts.onChange(objects);
        const started = Date.now();
        await new Promise<void>((resolve) => {
          let controller: AbortController | undefined;
          const stop = () => controller?.abort();
          signal.addEventListener('abort', stop, { once: true });
          void watch
            .watch(
              opts.path,
              { ...opts.query, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
              (type, obj: T) => {
                if (type === 'ERROR') return controller?.abort();
                if (type === 'BOOKMARK') return;
                const name = obj.metadata?.name ?? '';
                if (type === 'DELETED') objects.delete(name);
                else objects.set(name, obj);
                opts.onChange(objects);
              },
              () => {
                signal.removeEventListener('abort', stop);
                resolve();
              },
            )
            .then((c) => {
              controller = c;
              if (signal.aborted) c.abort();
            });
        });
        // A watch refused at once (permissions, expired version) must not spin.
        if (Date.now() - started < 1000) await sleep(1000);
      } catch (err) {
        if (signal.aborted) return;
        opts.log.debug(`watch of ${opts.path} failed, listing again`, { error: err instanceof Error ? err.message : String(err) });
        await sleep(1000);
      }
    }
  })();
}

/** A label selector in the API's query syntax. */
export function selectorString(sel: V1LabelSelector | undefined): string {
  const parts = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
