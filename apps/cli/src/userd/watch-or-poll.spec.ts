import type { V1Namespace } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KubeApiError } from '../kube/api.js';
import { fakeApiServer, json, status } from '../kube/testing/fake-api-server.js';
import { FakeInformer } from './testing/fake-informer.js';
import { kubeFeed, WatchOrPoll } from './watch-or-poll.js';

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
    inf.error(new KubeApiError(403, { message: 'Forbidden' }, 'watch'));
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
    inf.failStart = new KubeApiError(403, { message: 'Forbidden' }, 'watch');
    const w = new WatchOrPoll(inf as never, async () => [], 1_000);
    const errors: unknown[] = [];
    w.on('error', (e) => errors.push(e));
    await w.start();
    expect(errors).toHaveLength(1);
    expect(w.isPolling).toBe(false);
  });
});

describe('kubeFeed against an API server that allows list but not watch', () => {
  it('lists, is refused the watch, and polls: later changes still arrive as add/update/delete', async () => {
    let items: V1Namespace[] = [{ metadata: { name: 'default', resourceVersion: '1' } }];
    const server = await fakeApiServer((req, res) => (req.query.get('watch') === 'true' ? status(res, 403, 'namespaces is forbidden: cannot watch') : json(res, 200, { kind: 'NamespaceList', metadata: { resourceVersion: '9' }, items })));
    try {
      const feed = kubeFeed<V1Namespace>(server.kc, '/api/v1/namespaces', 20);
      const events: string[] = [];
      for (const verb of ['add', 'update', 'delete'] as const) feed.on(verb, (o) => events.push(`${verb} ${o.metadata!.name}`));
      const errors: unknown[] = [];
      feed.on('error', (e) => errors.push(e));
      await feed.start();
      expect(errors).toEqual([]);
      expect(feed.isPolling).toBe(true);
      items = [{ metadata: { name: 'default', resourceVersion: '2' } }, { metadata: { name: 'dev', resourceVersion: '3' } }];
      const end = Date.now() + 3_000;
      while (events.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect([...events].sort()).toEqual(['add default', 'add dev', 'update default']);
      await feed.stop();
    } finally {
      await server.close();
    }
  });
});
