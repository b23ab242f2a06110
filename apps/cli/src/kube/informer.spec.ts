// The list+watch informer against an HTTPS server on loopback answering like the API server:
// list, watch from the list's resourceVersion, resume after the server ends a watch, relist on
// 410 Gone (objects gone meanwhile become deletes), stop on other failures and on stop().
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { statusOf } from '../install/errors.js';
import { KubeApi } from './api.js';
import { ListWatch } from './informer.js';
import { fakeApiServer, json, status, type FakeApiServer, type SeenRequest } from './testing/fake-api-server.js';

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  data?: string;
}
const obj = (name: string, rv: string, data?: string): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv }, ...(data ? { data } : {}) });

const servers: FakeApiServer[] = [];
const informers: ListWatch<Obj>[] = [];
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
  for (const s of servers.splice(0)) await s.close();
});

const until = async (cond: () => boolean, ms = 3_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A collection the test changes: lists answer `items` at `rv`; watches are held open for the test to feed. */
async function collection(opts: { items: Obj[]; rv: string; list?: (req: SeenRequest, res: http.ServerResponse) => boolean; watch?: (req: SeenRequest, res: http.ServerResponse) => boolean }) {
  const watches: { req: SeenRequest; res: http.ServerResponse }[] = [];
  const server = await fakeApiServer((req, res) => {
    if (req.query.get('watch') === 'true') {
      if (opts.watch?.(req, res)) return;
      res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      watches.push({ req, res });
      return;
    }
    if (opts.list?.(req, res)) return;
    json(res, 200, { kind: 'List', metadata: { resourceVersion: opts.rv }, items: opts.items });
  });
  servers.push(server);
  const inf = new ListWatch<Obj>(new KubeApi(server.kc), '/api/v1/namespaces/ns/configmaps');
  informers.push(inf);
  const log: string[] = [];
  for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, (o) => log.push(`${verb} ${o.metadata.name}@${o.metadata.resourceVersion}`));
  const errors: unknown[] = [];
  inf.on('error', (e) => errors.push(e));
  const send = (type: string, o: unknown) => watches.at(-1)!.res.write(JSON.stringify({ type, object: o }) + '\n');
  return { server, inf, log, errors, watches, send, state: opts };
}

describe('ListWatch', () => {
  it('lists, then watches from the list resourceVersion; add/update/delete keep the cache', async () => {
    const c = await collection({ items: [obj('a', '5'), obj('b', '6')], rv: '10' });
    await c.inf.start();
    expect(c.log).toEqual(['add a@5', 'add b@6']);
    expect(c.watches[0]!.req.query.get('resourceVersion')).toBe('10');
    c.send('ADDED', obj('c', '11'));
    c.send('MODIFIED', obj('a', '12', 'new'));
    c.send('MODIFIED', obj('a', '12', 'new')); // the same version again: no update
    c.send('DELETED', obj('b', '13'));
    await until(() => c.log.length === 5);
    expect(c.log.slice(2)).toEqual(['add c@11', 'update a@12', 'delete b@13']);
    expect(c.inf.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect(c.inf.list().find((o) => o.metadata.name === 'a')!.data).toBe('new');
  });

  it('resumes from the last resourceVersion (bookmarks too) when the server ends the watch, without listing again', async () => {
    const c = await collection({ items: [obj('a', '5')], rv: '10' });
    await c.inf.start();
    c.send('ADDED', obj('b', '11'));
    c.send('BOOKMARK', { metadata: { resourceVersion: '15' } });
    await until(() => c.log.length === 2);
    c.watches[0]!.res.end();
    await until(() => c.watches.length === 2);
    expect(c.watches[1]!.req.query.get('resourceVersion')).toBe('15');
    expect(c.server.seen.filter((r) => r.query.get('watch') !== 'true')).toHaveLength(1);
    expect(c.errors).toEqual([]);
  });

  it('relists on 410 Gone: objects gone meanwhile are deleted, changed ones updated, then watches from the new list', async () => {
    const c = await collection({ items: [obj('a', '5'), obj('b', '6')], rv: '10' });
    await c.inf.start();
    // Meanwhile: b deleted, a changed, d created; our resourceVersion is too old.
    c.state.items = [obj('a', '17', 'changed'), obj('d', '18')];
    c.state.rv = '20';
    c.watches[0]!.res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }) + '\n');
    await until(() => c.watches.length === 2);
    expect(c.errors).toEqual([]);
    expect(c.log.slice(2)).toEqual(['delete b@6', 'update a@17', 'add d@18']);
    expect(c.watches[1]!.req.query.get('resourceVersion')).toBe('20');
    expect(c.inf.list().map((o) => o.metadata.name).sort()).toEqual(['a', 'd']);
  });

  it('a watch the API server refuses (403) is an error and the informer stops; start() resolves', async () => {
    const c = await collection({ items: [obj('a', '5')], rv: '10', watch: (_req, res) => (status(res, 403, 'configmaps is forbidden: cannot watch'), true) });
    await c.inf.start();
    expect(c.log).toEqual(['add a@5']);
    expect(c.errors.map(statusOf)).toEqual([403]);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.server.seen).toHaveLength(2); // one list, one refused watch: no retry of its own
  });

  it('started again after an error, it lists again: what went away meanwhile is deleted', async () => {
    let refuse = true;
    const c = await collection({ items: [obj('a', '5'), obj('b', '6')], rv: '10', watch: (_req, res) => refuse && (status(res, 500, 'watch broke', 'InternalError'), true) });
    await c.inf.start();
    expect(c.errors.map(statusOf)).toEqual([500]);
    refuse = false;
    c.state.items = [obj('a', '5')];
    c.state.rv = '12';
    await c.inf.start();
    expect(c.log).toEqual(['add a@5', 'add b@6', 'delete b@6']);
    expect(c.watches[0]!.req.query.get('resourceVersion')).toBe('12');
  });

  it('a list that fails is an error, and start() resolves', async () => {
    const c = await collection({ items: [], rv: '1', list: (_req, res) => (status(res, 500, 'etcdserver: request timed out', 'InternalError'), true) });
    await c.inf.start();
    expect(c.errors.map(statusOf)).toEqual([500]);
    expect(c.watches).toHaveLength(0);
  });

  it('stop() ends the watch request; nothing is reported afterwards', async () => {
    const c = await collection({ items: [], rv: '1' });
    await c.inf.start();
    expect(c.server.openSockets()).toBe(1);
    await c.inf.stop();
    await until(() => c.server.openSockets() === 0);
    expect(c.errors).toEqual([]);
  });
});
