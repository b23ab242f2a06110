// list-namespaces through the real parser, against a loopback API server (the real cluster: the
// everyday e2e spec).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeApiServer, json, writeKubeconfig, type FakeApiServer } from './testing/api-server.js';
import { tp } from './testing/tp.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-lsns-'));
const servers: FakeApiServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const nsList = (...names: string[]) => ({ kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items: names.map((name) => ({ metadata: { name } })) });

describe('telepresence list-namespaces', () => {
  it('lists the namespaces sorted; -o json names the context; --kubeconfig beats KUBECONFIG', async () => {
    const api = await fakeApiServer([json('/api/v1/namespaces', nsList('kube-system', 'ambassador', 'default'))]);
    servers.push(api);
    const kc = writeKubeconfig(join(dir, 'ok'), api.url);
    const r = await tp({ KUBECONFIG: join(dir, 'missing') }, ['list-namespaces', '--kubeconfig', kc]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ambassador\ndefault\nkube-system\n');
    const j = await tp({ KUBECONFIG: kc }, ['list-namespaces', '--output', 'json']);
    expect(JSON.parse(j.stdout)).toEqual({ context: 'ctx', namespaces: ['ambassador', 'default', 'kube-system'] });
    expect(api.requests).toEqual(['/api/v1/namespaces', '/api/v1/namespaces']);
  });

  it('forbidden, unreachable, unknown context: one line each, with the exit code of its kind', async () => {
    const api = await fakeApiServer([json('/api/v1/namespaces', 'namespaces is forbidden: User "dev" cannot list resource "namespaces"', 403)]);
    servers.push(api);
    const forbidden = await tp({ KUBECONFIG: writeKubeconfig(join(dir, 'forbidden'), api.url) }, ['list-namespaces']);
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toBe('telepresence list-namespaces: error: not allowed to list namespaces (context ctx); ask your cluster admin for permission to list namespaces\n');
    const down = await fakeApiServer([]);
    await down.close();
    const unreachable = await tp({ KUBECONFIG: writeKubeconfig(join(dir, 'down'), down.url) }, ['list-namespaces']);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(new RegExp(`^telepresence list-namespaces: error: cannot list namespaces at ${down.url}: .*; check that the cluster is reachable with kubectl\\n$`));
    const ctx = await tp({ KUBECONFIG: join(dir, 'forbidden') }, ['list-namespaces', '--context', 'nope']);
    expect(ctx.code).toBe(2);
    expect(ctx.stderr).toBe(`telepresence list-namespaces: error: context "nope" not found in ${join(dir, 'forbidden')}; use one of: ctx\n`);
  });
});
