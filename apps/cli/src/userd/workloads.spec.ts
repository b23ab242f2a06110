import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { renderList } from '../cli/commands/list.js';
import { describeWorkloads } from './workloads.js';

const tpl = (labels: Record<string, string>, spec: Partial<NonNullable<V1PodTemplateSpec['spec']>> = {}): V1PodTemplateSpec => ({
  metadata: { labels },
  spec: { containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }], ...spec },
});
const svc = (name: string, selector: Record<string, string>, targetPort: string | number): V1Service => ({ metadata: { name }, spec: { selector, ports: [{ name: 'web', port: 80, targetPort: targetPort as never }] } });

describe('describeWorkloads', () => {
  const services = [svc('orders', { app: 'orders' }, 'http'), svc('cache', { app: 'cache' }, 8080)];
  const list = describeWorkloads(
    'shop',
    [
      { kind: 'StatefulSet', name: 'cache', template: tpl({ app: 'cache' }) },
      { kind: 'Deployment', name: 'orders', template: tpl({ app: 'orders' }) },
      { kind: 'Deployment', name: 'batch', template: tpl({ app: 'batch' }) },
      { kind: 'Deployment', name: 'node-agent', template: tpl({ app: 'orders' }, { hostNetwork: true }) },
    ],
    services,
  );

  it('orders by kind then name, and says which can be intercepted through which port', () => {
    expect(list.map((w) => [w.kind, w.name, w.interceptable])).toEqual([
      ['Deployment', 'batch', false],
      ['Deployment', 'node-agent', false],
      ['Deployment', 'orders', true],
      ['StatefulSet', 'cache', true],
    ]);
    expect(list.find((w) => w.name === 'orders')!.ports).toEqual([{ service: 'orders', port: 80, portName: 'web', container: 'app', containerPort: 8080, targetPortName: 'http' }]);
    expect(list.find((w) => w.name === 'cache')!.ports).toEqual([{ service: 'cache', port: 80, portName: 'web', container: 'app', containerPort: 8080 }]);
  });

  it('names the reason and what to do for the others', () => {
    expect(list.find((w) => w.name === 'batch')).toMatchObject({ reason: 'no Service selects its pods', hint: expect.stringContaining('create a Service') });
    expect(list.find((w) => w.name === 'node-agent')!.reason).toMatch(/hostNetwork/);
  });

  it('renders one line per workload, 2.x style', () => {
    expect(renderList({ namespace: 'shop', workloads: list, intercepts: [], agents: [] }).split('\n')).toEqual([
      'batch     : deployment not interceptable: no Service selects its pods',
      "node-agent: deployment not interceptable: its pods use hostNetwork: they share the node's ports, so no agent can take one over",
      'orders    : deployment ready to intercept (traffic-agent not yet installed): orders:web',
      'cache     : statefulset ready to intercept (traffic-agent not yet installed): cache:web',
    ]);
    expect(renderList({ namespace: 'empty', workloads: [], intercepts: [], agents: [] })).toBe('No workloads (Deployments, ReplicaSets, StatefulSets, Rollouts) in namespace empty');
  });

  it('shows agents (with their versions) and intercepts (whose, which port, where to), and filters by them', () => {
    const r = {
      namespace: 'shop',
      workloads: list,
      agents: [{ namespace: 'shop', workload: 'cache', kind: 'StatefulSet' as const, versions: ['v2.90.0'], pods: ['cache-0'] }, { namespace: 'shop', workload: 'orders', kind: 'Deployment' as const, versions: ['v2.90.0'], pods: ['o-1'] }],
      intercepts: [
        { id: '1', spec: { name: 'orders', namespace: 'shop', workload: 'orders', workloadKind: 'Deployment' as const, localPort: 3000 }, sessionId: 's', client: { user: 'ann', host: 'lap' }, state: 'active' as const, service: 'orders', servicePort: 80, servicePortName: 'web', activeSince: '2026-12-04T10:00:00.000Z' },
      ],
    };
    const lines = renderList(r).split('\n');
    expect(lines[2]).toBe('orders    : deployment intercepted by ann@lap (orders) on orders:web, all traffic → workstation port 3000, since 2026-12-04T10:00:00.000Z');
    expect(lines[3]).toBe('cache     : statefulset ready to intercept (traffic-agent v2.90.0 installed): cache:web');
    const unpadded = (l: string) => l.replace(/ +: /, ': ');
    expect(renderList(r, { interceptsOnly: true }).split('\n')).toEqual([unpadded(lines[2]!)]);
    expect(renderList(r, { agentsOnly: true }).split('\n').map(unpadded)).toEqual([unpadded(lines[2]!), unpadded(lines[3]!)]);
    expect(renderList({ ...r, intercepts: [] }, { interceptsOnly: true })).toBe('No intercepted workloads in namespace shop');
  });
});

describe('describeWorkloads with Argo Rollouts', () => {
  const services = [svc('orders', { app: 'orders' }, 'http')];
  it('a Rollout comes after the built-in kinds, interceptable like a Deployment; one borrowing a template says why not', () => {
    const list = describeWorkloads(
      'shop',
      [
        { kind: 'Rollout', name: 'orders-canary', template: tpl({ app: 'orders' }) },
        { kind: 'Rollout', name: 'borrowed', template: undefined, problem: { message: 'it takes its pod template from deployment orders (workloadRef)', hint: 'give it a template' } },
        { kind: 'Deployment', name: 'orders', template: tpl({ app: 'orders' }) },
      ],
      services,
    );
    expect(list.map((w) => [w.kind, w.name, w.interceptable])).toEqual([
      ['Deployment', 'orders', true],
      ['Rollout', 'borrowed', false],
      ['Rollout', 'orders-canary', true],
    ]);
    expect(list[1]!.reason).toBe('it takes its pod template from deployment orders (workloadRef)');
    expect(list[2]!.ports.map((p) => `${p.service}:${p.port}->${p.container}:${p.containerPort}`)).toEqual(['orders:80->app:8080']);
  });
});
