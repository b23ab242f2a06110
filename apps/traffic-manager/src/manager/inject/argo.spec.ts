import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@tel/logging';
import { argoRollouts, argoRolloutProgress, type ArgoRollout } from './argo.js';
import { workloadInjector } from './workloads.js';

const rollout = (status: ArgoRollout['status'], generation = 3, replicas = 2): ArgoRollout => ({ metadata: { name: 'web', generation }, spec: { replicas }, status });

describe('argoRolloutProgress', () => {
  it('done only when the controller saw this generation and every replica is updated and available, none extra', () => {
    const full = { observedGeneration: '3', replicas: 2, updatedReplicas: 2, availableReplicas: 2, phase: 'Healthy' };
    expect(argoRolloutProgress(rollout(full)).done).toBe(true);
    expect(argoRolloutProgress(rollout({ ...full, observedGeneration: '2' }))).toEqual({ done: false, message: 'the Argo Rollouts controller has not seen the change yet' });
    expect(argoRolloutProgress(rollout({ ...full, updatedReplicas: 1 })).message).toBe('the Argo Rollouts controller reports 1/2 updated, 2/2 available');
    expect(argoRolloutProgress(rollout({ ...full, availableReplicas: 1 })).done).toBe(false);
    expect(argoRolloutProgress(rollout({ ...full, replicas: 3 })).done).toBe(false);
    expect(argoRolloutProgress(rollout(undefined)).done).toBe(false);
  });
  it('degraded and paused say so', () => {
    const base = { observedGeneration: '3', replicas: 2, updatedReplicas: 1, availableReplicas: 2 };
    expect(argoRolloutProgress(rollout({ ...base, phase: 'Degraded', message: 'ProgressDeadlineExceeded: too slow' })).message).toBe('the Argo Rollouts controller reports it degraded: ProgressDeadlineExceeded: too slow');
    expect(argoRolloutProgress(rollout({ ...base, phase: 'Paused', pauseConditions: [{ reason: 'CanaryPauseStep' }] })).message).toContain('paused (CanaryPauseStep)');
  });
  it('replicas default to 1', () => {
    expect(argoRolloutProgress({ metadata: { generation: 1 }, spec: {}, status: { observedGeneration: '1', replicas: 1, updatedReplicas: 1, availableReplicas: 1 } }).done).toBe(true);
  });
});

/**
 * An API server on loopback that knows only discovery (with or without Argo Rollouts) and answers
 * 404 to everything else: what a cluster without the Rollout CRD looks like to the injector.
 */
async function fakeApiServer(groups: string[], argoResources: string[]): Promise<{ kc: KubeConfig; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    paths.push(path);
    res.setHeader('Content-Type', 'application/json');
    if (path === '/apis') {
      res.end(JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((gv) => ({ name: gv.split('/')[0], versions: [{ groupVersion: gv, version: gv.split('/')[1] }], preferredVersion: { groupVersion: gv, version: gv.split('/')[1] } })) }));
    } else if (path === '/apis/argoproj.io/v1alpha1' && groups.includes('argoproj.io/v1alpha1')) {
      res.end(JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'argoproj.io/v1alpha1', resources: argoResources.map((r) => ({ name: r, singularName: '', namespaced: true, kind: r === 'rollouts' ? 'Rollout' : 'Application', verbs: ['get'] })) }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, paths, close: () => new Promise((r) => server.close(() => r())) };
}

describe('a cluster with or without Argo Rollouts (discovery on a loopback API server)', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('no argoproj.io group: not served, and the group is never asked for', async () => {
    const api = await fakeApiServer(['apps/v1'], []);
    close = api.close;
    expect(await argoRollouts(api.kc).served()).toBe(false);
    expect(api.paths).toEqual(['/apis']);
  });

  it('argoproj.io/v1alpha1 without rollouts (Argo CD alone): not served; with them: served, and remembered', async () => {
    const cd = await fakeApiServer(['apps/v1', 'argoproj.io/v1alpha1'], ['applications']);
    expect(await argoRollouts(cd.kc).served()).toBe(false);
    await cd.close();
    const api = await fakeApiServer(['apps/v1', 'argoproj.io/v1alpha1'], ['applications', 'rollouts']);
    close = api.close;
    const r = argoRollouts(api.kc);
    expect(await r.served()).toBe(true);
    expect(await r.served()).toBe(true);
    expect(api.paths).toEqual(['/apis', '/apis/argoproj.io/v1alpha1']);
  });

  it('describe without the CRD: the built-in kinds are tried, Rollouts are skipped quietly, and the answer is no-workload', async () => {
    const api = await fakeApiServer(['apps/v1'], []);
    close = api.close;
    const injector = workloadInjector({ kc: api.kc, namespace: 'ambassador', log: createLogger(undefined), agentImage: 'r/tel2:v1' });
    await expect(injector.describe('shop', 'web')).rejects.toMatchObject({ code: 'no-workload', message: 'no deployment, replicaset, statefulset or rollout web in namespace shop' });
    await expect(injector.describe('shop', 'web', 'Rollout')).rejects.toMatchObject({ code: 'no-workload', message: 'no rollout web in namespace shop' });
    expect(api.paths.filter((p) => p.includes('argoproj.io'))).toEqual([]);
  });
});
