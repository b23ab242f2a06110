// Real files in a temp dir, loaded as the user daemon loads them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeconfig } from './kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

const base = (cluster: string, server: string, ext = '', ns = '') => `apiVersion: v1
kind: Config
current-context: ${cluster}
clusters:
- name: ${cluster}
  cluster:
    server: ${server}
    insecure-skip-tls-verify: true
${ext}
contexts:
- name: ${cluster}
  context: {cluster: ${cluster}, user: u${ns ? `, namespace: ${ns}` : ''}}
users:
- name: u
  user: {token: abc}
`;

describe('loadKubeconfig', () => {
  it('reads the context, namespace and the telepresence.io extension', () => {
    const f = file(
      'a.yaml',
      base('prod', 'https://198.18.0.1:6443', `    extensions:
    - name: telepresence.io
      extension:
        never-proxy: [10.10.8.9/32]
        also-proxy: [172.16.0.0/16]
        manager: {namespace: tel-system}`, 'team-a'),
    );
    const k = loadKubeconfig({ kubeconfigEnv: f, home: dir });
    expect(k).toMatchObject({
      files: [f],
      contextName: 'prod',
      clusterName: 'prod',
      clusterFile: f,
      server: 'https://198.18.0.1:6443',
      namespace: 'team-a',
      extension: { neverProxy: ['10.10.8.9/32'], alsoProxy: ['172.16.0.0/16'], managerNamespace: 'tel-system' },
    });
    expect(k.kc.getCurrentCluster()?.server).toBe('https://198.18.0.1:6443');
  });

  it('merges a KUBECONFIG list: first definition and first current-context win; --context selects', () => {
    const a = file('m1.yaml', base('one', 'https://198.18.0.1:6443'));
    const b = file('m2.yaml', base('two', 'https://198.18.0.5:6443', `    extensions:
    - name: telepresence.io
      extension: {never-proxy: [198.18.0.9/32]}`));
    const k1 = loadKubeconfig({ kubeconfigEnv: `${a}:${b}:${join(dir, 'missing.yaml')}`, home: dir });
    expect(k1).toMatchObject({ contextName: 'one', namespace: 'default', files: [a, b] });
    const k2 = loadKubeconfig({ kubeconfigEnv: `${a}:${b}`, home: dir, context: 'two' });
    expect(k2).toMatchObject({ contextName: 'two', clusterFile: b, extension: { neverProxy: ['198.18.0.9/32'] } });
    expect(k2.kc.getCurrentCluster()?.server).toBe('https://198.18.0.5:6443');
  });

  it('names the file, key and value of a bad extension value', () => {
    const f = file('bad.yaml', base('prod', 'https://198.18.0.1:6443', `    extensions:
    - name: telepresence.io
      extension: {never-proxy: [10.10.8.300/32]}`));
    expect(() => loadKubeconfig({ kubeconfigEnv: f, home: dir })).toThrow(
      expect.objectContaining({ category: 'config', message: `${f}: cluster "prod" extension telepresence.io: never-proxy[0] has invalid value "10.10.8.300/32": "10.10.8.300" is not an IPv4 address` }),
    );
  });

  it('says which context is missing and which exist', () => {
    const f = file('c.yaml', base('prod', 'https://198.18.0.1:6443'));
    expect(() => loadKubeconfig({ kubeconfigEnv: f, home: dir, context: 'nope' })).toThrow(expect.objectContaining({ category: 'user', message: `context "nope" not found in ${f}`, hint: 'use one of: prod' }));
  });

  it('defaults to ~/.kube/config and says when there is none', () => {
    expect(() => loadKubeconfig({ home: join(dir, 'nohome') })).toThrow(expect.objectContaining({ category: 'config', message: `no kubeconfig found (${join(dir, 'nohome', '.kube', 'config')})` }));
  });

  it('reports a file that is not YAML', () => {
    const f = file('junk.yaml', 'clusters: [\n');
    expect(() => loadKubeconfig({ kubeconfigEnv: f, home: dir })).toThrow(expect.objectContaining({ category: 'config', message: expect.stringContaining(`${f} is not a valid kubeconfig`) }));
  });
});
