// The thin Kubernetes client against an HTTPS server on loopback that answers like the API server:
// paths, queries, verbs, content types, credentials and TLS from the kubeconfig, the one error
// type, timeouts and aborts, and the watch stream. The real API server: the userd and install e2e.
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { apiMessage, statusOf } from '../install/errors.js';
import { KubeApi, KubeApiError, resourcePath, type WatchEvent } from './api.js';
import { fakeApiServer, json, status, type FakeApiServer, type Handler } from './testing/fake-api-server.js';

const servers: FakeApiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(handler: Handler): Promise<{ api: KubeApi; server: FakeApiServer }> {
  const server = await fakeApiServer(handler);
  servers.push(server);
  return { api: new KubeApi(server.kc), server };
}

const until = async (cond: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('resourcePath', () => {
  it.each([
    ['v1', 'pods', 'ns', undefined, '/api/v1/namespaces/ns/pods'],
    ['v1', 'namespaces', undefined, 'a b', '/api/v1/namespaces/a%20b'],
    ['apps/v1', 'deployments', 'x', 'traffic-manager', '/apis/apps/v1/namespaces/x/deployments/traffic-manager'],
    ['discovery.k8s.io/v1', 'endpointslices', undefined, undefined, '/apis/discovery.k8s.io/v1/endpointslices'],
  ])('%s %s ns=%s name=%s', (apiVersion, plural, ns, name, want) => {
    expect(resourcePath(apiVersion, plural, ns, name)).toBe(want);
  });
});

describe('KubeApi', () => {
  it('lists with selectors over TLS with the kubeconfig CA and bearer token; JSON stays JSON (timestamps are strings)', async () => {
    const { api, server } = await serve((_req, res) => json(res, 200, { kind: 'PodList', metadata: { resourceVersion: '42' }, items: [{ metadata: { name: 'p', creationTimestamp: '2026-01-02T03:04:05Z' } }] }));
    const list = await api.list<{ metadata: { name: string; creationTimestamp: string } }>(resourcePath('v1', 'pods', 'ns'), { labelSelector: 'app=x', fieldSelector: 'metadata.name=p', limit: 5 });
    expect(list.metadata?.resourceVersion).toBe('42');
    expect(list.items[0]!.metadata.creationTimestamp).toBe('2026-01-02T03:04:05Z');
    const seen = server.seen[0]!;
    expect(seen.method).toBe('GET');
    expect(seen.path).toBe('/api/v1/namespaces/ns/pods');
    expect(Object.fromEntries(seen.query)).toEqual({ labelSelector: 'app=x', fieldSelector: 'metadata.name=p', limit: '5' });
    expect(seen.headers.authorization).toBe('Bearer secret-token');
  });

  it('refuses a server whose certificate the kubeconfig does not trust (a network error, no status)', async () => {
    const { server } = await serve((_req, res) => json(res, 200, {}));
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `https://127.0.0.1:${server.port}`, skipTLSVerify: false }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const err = await new KubeApi(kc).get('/api/v1/namespaces/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(KubeApiError);
    expect(statusOf(err)).toBeUndefined();
    expect(server.seen).toHaveLength(0);
  });

  it('sends each patch kind with its content type; server-side apply with field manager and force', async () => {
    const { api, server } = await serve((req, res) => json(res, 200, { echoed: req.body }));
    const path = resourcePath('apps/v1', 'deployments', 'ns', 'd');
    const got = await api.patch<{ echoed: string }>(path, { metadata: { name: 'd' } }, 'apply', { fieldManager: 'telepresence', force: true });
    expect(JSON.parse(got.echoed)).toEqual({ metadata: { name: 'd' } });
    await api.patch(path, { spec: { replicas: 2 } }, 'merge');
    await api.patch(path, { spec: { replicas: 2 } }, 'strategic-merge');
    await api.patch(path, [{ op: 'remove', path: '/metadata/annotations/a' }], 'json');
    expect(server.seen.map((r) => [r.method, r.headers['content-type']])).toEqual([
      ['PATCH', 'application/apply-patch+yaml'],
      ['PATCH', 'application/merge-patch+json'],
      ['PATCH', 'application/strategic-merge-patch+json'],
      ['PATCH', 'application/json-patch+json'],
    ]);
    expect(Object.fromEntries(server.seen[0]!.query)).toEqual({ fieldManager: 'telepresence', force: 'true' });
    expect([...server.seen[1]!.query]).toEqual([]);
  });

  it('creates with POST and a JSON body, deletes with the propagation policy, reads text', async () => {
    const { api, server } = await serve((req, res) => {
      if (req.path.endsWith('/log')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`line 1\nline 2 of ${req.query.get('container')}\n`);
        return;
      }
      json(res, req.method === 'POST' ? 201 : 200, req.method === 'POST' ? { status: { allowed: true } } : { kind: 'Status', status: 'Success' });
    });
    const review = await api.create<{ status: { allowed: boolean } }>(resourcePath('authorization.k8s.io/v1', 'selfsubjectaccessreviews'), { spec: { resourceAttributes: { verb: 'get' } } });
    expect(review.status.allowed).toBe(true);
    expect(server.seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(server.seen[0]!.body)).toEqual({ spec: { resourceAttributes: { verb: 'get' } } });
    await api.delete(resourcePath('v1', 'services', 'ns', 's'), { propagationPolicy: 'Background' });
    expect(server.seen[1]!.method).toBe('DELETE');
    expect(server.seen[1]!.query.get('propagationPolicy')).toBe('Background');
    expect(await api.text(`${resourcePath('v1', 'pods', 'ns', 'p')}/log`, { query: { container: 'c' } })).toBe('line 1\nline 2 of c\n');
  });

  it('an answer outside 2xx is a KubeApiError with the status and the Status object', async () => {
    const { api } = await serve((req, res) => (req.path.includes('plain') ? (res.writeHead(500), res.end('etcd is down\nmore')) : status(res, 403, 'deployments.apps "x" is forbidden: User "dev" cannot get')));
    const err = await api.get(resourcePath('apps/v1', 'deployments', 'ns', 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(statusOf(err)).toBe(403);
    expect((err as KubeApiError).body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    expect(apiMessage(err)).toBe('deployments.apps "x" is forbidden: User "dev" cannot get');
    const plain = await api.get('/plain').catch((e: unknown) => e);
    expect(statusOf(plain)).toBe(500);
    expect(apiMessage(plain)).toBe('etcd is down\nmore');
    expect((plain as Error).message).toBe('GET /plain: HTTP 500: etcd is down');
  });

  it('timeoutMs and the signal end a request the server never answers, and close its socket', async () => {
    const { api, server } = await serve(() => undefined);
    const started = Date.now();
    const err = await api.get('/api/v1/namespaces', { timeoutMs: 150 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(2_000);
    await until(() => server.openSockets() === 0);
    const abort = new AbortController();
    const pending = api.get('/api/v1/namespaces', { signal: abort.signal }).catch((e: unknown) => e);
    await until(() => server.seen.length === 2);
    abort.abort(new Error('cancelled'));
    expect(((await pending) as Error).message).toBe('cancelled');
    await until(() => server.openSockets() === 0);
  });
});

describe('KubeApi.watch', () => {
  function streaming(onWatch: (req: Parameters<Handler>[0], res: http.ServerResponse) => void) {
    return serve((req, res) => {
      if (req.query.get('watch') !== 'true') return json(res, 200, { items: [] });
      onWatch(req, res);
    });
  }

  it('reads newline-delimited events split anywhere, from the given resourceVersion, until the server ends the stream', async () => {
    let respond!: http.ServerResponse;
    const { api, server } = await streaming((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      respond = res;
    });
    const events: WatchEvent<{ metadata: { name: string } }>[] = [];
    const { done } = await api.watch<{ metadata: { name: string } }>('/api/v1/services', { resourceVersion: '7' }, (e) => events.push(e));
    expect(Object.fromEntries(server.seen[0]!.query)).toEqual({ resourceVersion: '7', watch: 'true', allowWatchBookmarks: 'true' });
    const text = [{ type: 'ADDED', object: { metadata: { name: 'a' } } }, { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }, { type: 'DELETED', object: { metadata: { name: 'a' } } }].map((e) => JSON.stringify(e) + '\n').join('');
    respond.write(text.slice(0, 17));
    respond.write(text.slice(17, 60));
    respond.end(text.slice(60));
    await done;
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK', 'DELETED']);
    expect(events[2]!.object.metadata.name).toBe('a');
  });

  it('an ERROR event (410 Gone) rejects done with a KubeApiError; a refused watch rejects at once', async () => {
    const { api } = await serve((req, res) => {
      if (req.path.includes('forbidden')) return status(res, 403, 'services is forbidden');
      res.writeHead(200);
      res.write(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' } }) + '\n');
    });
    const { done } = await api.watch('/api/v1/services', { resourceVersion: '1' }, () => undefined);
    const err = await done.catch((e: unknown) => e);
    expect(statusOf(err)).toBe(410);
    expect(apiMessage(err)).toBe('too old resource version: 1 (5)');
    const refused = await api.watch('/forbidden', {}, () => undefined).catch((e: unknown) => e);
    expect(statusOf(refused)).toBe(403);
  });

  it('the signal ends an open watch and its socket; done rejects', async () => {
    const { api, server } = await streaming((_req, res) => res.writeHead(200).flushHeaders());
    const abort = new AbortController();
    const { done } = await api.watch('/api/v1/namespaces', { signal: abort.signal }, () => undefined);
    expect(server.openSockets()).toBe(1);
    abort.abort(new Error('stopped'));
    expect(((await done.catch((e: unknown) => e)) as Error).message).toBe('stopped');
    await until(() => server.openSockets() === 0);
  });
});
