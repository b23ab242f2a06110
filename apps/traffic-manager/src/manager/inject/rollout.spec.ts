import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { rolloutStatus, type RolloutInput } from './rollout.js';

type PodOpts = { hash?: string; agent?: boolean; ready?: boolean; ip?: string; terminating?: boolean; waiting?: { name: string; reason: string; message?: string }; last?: { reason: string; exitCode: number } };
let n = 0;
function pod(o: PodOpts): V1Pod {
  const name = `web-${n++}`;
  return {
    metadata: { name, ...(o.hash ? { annotations: { 'telepresence.io/agent': o.hash } } : {}), ...(o.terminating ? { deletionTimestamp: new Date() } : {}) },
    spec: { containers: [{ name: 'app', image: 'demo:1' }, ...(o.agent ? [{ name: 'traffic-agent', image: 'r/tel2:v1' }] : [])] },
    status: {
      phase: 'Running',
      podIP: o.ip ?? `10.0.0.${n}`,
      conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }],
      containerStatuses: o.waiting ? [{ name: o.waiting.name, image: 'x', imageID: '', ready: false, restartCount: 3, state: { waiting: { reason: o.waiting.reason, ...(o.waiting.message ? { message: o.waiting.message } : {}) } }, ...(o.last ? { lastState: { terminated: { ...o.last } } } : {}) }] : [],
    },
  };
}
const slice = (service: string, ips: string[], ready = true): V1EndpointSlice => ({ addressType: 'IPv4', metadata: { labels: { 'kubernetes.io/service-name': service } }, endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready } })) });
const input = (pods: V1Pod[], extra: Partial<RolloutInput> = {}): RolloutInput => ({ ref: { namespace: 'shop', kind: 'Deployment', name: 'web' }, hash: 'h1', replicas: 2, pods, services: ['web'], slices: [], managerNamespace: 'ambassador', ...extra });

describe('rolloutStatus', () => {
  it('progress: new pods ready with the agent, old ones left', () => {
    const s = rolloutStatus(input([pod({ hash: 'h1', agent: true, ready: true }), pod({ hash: 'h1', agent: true }), pod({ ready: true })]));
    expect(s).toEqual({ podsWanted: 2, podsReady: 1, done: false, message: 'rollout of deployment/web: 1/2 pods ready with the agent, 1 old pod left' });
  });

  it('all pods ready but the Service does not list them yet; then done; terminating pods do not count', () => {
    const pods = [pod({ hash: 'h1', agent: true, ready: true, ip: '10.0.0.1' }), pod({ hash: 'h1', agent: true, ready: true, ip: '10.0.0.2' }), pod({ ready: true, terminating: true })];
    expect(rolloutStatus(input(pods, { slices: [slice('web', ['10.0.0.1']), slice('web', ['10.0.0.2'], false)] })).message).toBe('rollout of deployment/web: 2/2 pods ready with the agent, waiting for the endpoints of service web');
    // The terminating old pod still listed as ready: kube-proxy still sends it a share.
    expect(rolloutStatus(input(pods, { slices: [slice('web', ['10.0.0.1', '10.0.0.2', '10.0.0.9'])] })).done).toBe(false);
    const done = rolloutStatus(input(pods, { slices: [slice('web', ['10.0.0.1']), slice('web', ['10.0.0.2']), slice('web', ['10.0.0.9'], false), slice('other', [])] }));
    expect(done).toEqual({ podsWanted: 2, podsReady: 2, done: true, message: 'rollout of deployment/web: 2/2 pods ready with the agent', oldTerminating: 1 });
    // Once the old pod is gone, nothing is terminating any more.
    expect(rolloutStatus(input(pods.slice(0, 2), { slices: [slice('web', ['10.0.0.1', '10.0.0.2'])] })).oldTerminating).toBeUndefined();
  });

  it('removal (no hash): pods without annotation and agent', () => {
    const pods = [pod({ ready: true, ip: '10.0.0.1' }), pod({ hash: 'h1', agent: true, ready: true })];
    expect(rolloutStatus(input(pods, { hash: undefined, replicas: 1 })).message).toBe('rollout of deployment/web: 1/1 pods ready without the agent, 1 old pod left');
    expect(rolloutStatus(input(pods.slice(0, 1), { hash: undefined, replicas: 1, slices: [slice('web', ['10.0.0.1'])] })).done).toBe(true);
  });

  it.each<[string, PodOpts, string, RegExp]>([
    ['a new pod without the agent', { hash: 'h1' }, 'webhook-not-called', /pod web-\d+ was created without the traffic agent/],
    ['an image that cannot be pulled', { hash: 'h1', agent: true, waiting: { name: 'traffic-agent', reason: 'ImagePullBackOff', message: 'Back-off pulling image' } }, 'image-pull', /cannot pull image r\/tel2:v1 for container traffic-agent \(ImagePullBackOff: Back-off pulling image\)/],
    ['a crash loop', { hash: 'h1', agent: true, waiting: { name: 'traffic-agent', reason: 'CrashLoopBackOff' }, last: { reason: 'Error', exitCode: 2 } }, 'crash-loop', /container traffic-agent of pod web-\d+ is crash-looping \(last termination: Error, exit code 2\)/],
  ])('failure: %s', (_name, o, code, message) => {
    const s = rolloutStatus(input([pod(o)]));
    expect(s.done).toBe(false);
    expect(s.failure?.code).toBe(code);
    expect(s.failure?.message).toMatch(message);
    expect(s.message).toContain(s.failure!.message);
  });

  it('an old pod crash-looping is not the rollout\'s failure', () => {
    expect(rolloutStatus(input([pod({ waiting: { name: 'app', reason: 'CrashLoopBackOff' } })])).failure).toBeUndefined();
  });
});

describe('rolloutStatus with a controller verdict (Argo Rollout)', () => {
  const pods = () => [pod({ hash: 'h1', agent: true, ready: true, ip: '10.0.0.1' }), pod({ hash: 'h1', agent: true, ready: true, ip: '10.0.0.2' })];
  const rollout = { ref: { namespace: 'shop', kind: 'Rollout' as const, name: 'web' }, slices: [slice('web', ['10.0.0.1', '10.0.0.2'])] };
  it('pods and endpoints done, the controller not yet: not done, its reason shown', () => {
    const s = rolloutStatus(input(pods(), { ...rollout, controller: { done: false, message: 'the Argo Rollouts controller reports 1/2 updated, 2/2 available' } }));
    expect(s).toEqual({ podsWanted: 2, podsReady: 2, done: false, message: 'rollout of rollout/web: 2/2 pods ready with the agent, the Argo Rollouts controller reports 1/2 updated, 2/2 available' });
  });
  it('both done: done', () => {
    expect(rolloutStatus(input(pods(), { ...rollout, controller: { done: true, message: '' } })).done).toBe(true);
  });
  it('a pod failure wins over the controller', () => {
    const s = rolloutStatus(input([pod({ hash: 'h1' })], { ...rollout, controller: { done: false, message: 'x' } }));
    expect(s.failure?.code).toBe('webhook-not-called');
  });
});
