import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { MANAGER_AGENT_PORT } from '@tel/contracts';
import { servesRollouts, workloadAgent } from './workload.js';

const template: V1PodTemplateSpec = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }] }] } };
const services: V1Service[] = [{ metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' as never }, { name: 'admin', port: 81, targetPort: 9090 as never }] } }];
const base = { workload: { kind: 'Deployment' as const, name: 'web', namespace: 'shop' }, template, services, image: 'r/tel2:v1', managerNamespace: 'ambassador' };

describe('workloadAgent', () => {
  it('covers every interceptable port and points the agent at the manager agent port', () => {
    const w = workloadAgent(base);
    expect(w.problem).toBeUndefined();
    expect(w.config!.ports.map((p) => p.appPort)).toEqual([8080, 9090]);
    expect(w.config!.manager).toEqual({ namespace: 'ambassador', port: MANAGER_AGENT_PORT });
    expect(w.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('a pod of the template (extra labels, a name, the annotation) gives the same hash', () => {
    const hash = workloadAgent(base).hash!;
    const pod = { metadata: { name: 'web-1', labels: { app: 'web', 'pod-template-hash': 'abc' }, annotations: { 'telepresence.io/agent': hash } }, spec: template.spec };
    expect(workloadAgent({ ...base, template: pod }).hash).toBe(hash);
  });

  it('the image, the manager namespace or a Service port change the hash', () => {
    const hash = workloadAgent(base).hash;
    expect(workloadAgent({ ...base, image: 'r/tel2:v2' }).hash).not.toBe(hash);
    expect(workloadAgent({ ...base, managerNamespace: 'other' }).hash).not.toBe(hash);
    expect(workloadAgent({ ...base, services: [{ ...services[0]!, spec: { ...services[0]!.spec, ports: services[0]!.spec!.ports!.slice(0, 1) } }] }).hash).not.toBe(hash);
  });

  it('a workload that cannot take an agent has a problem and no config', () => {
    const w = workloadAgent({ ...base, services: [] });
    expect(w.problem?.reason).toBe('no-service');
    expect(w.config).toBeUndefined();
    expect(w.hash).toBeUndefined();
  });
});

describe('servesRollouts', () => {
  const groups = (...gv: string[]) => ({ groups: gv.map((v) => ({ name: v.split('/')[0]!, versions: [{ groupVersion: v }] })) });
  it('no argoproj.io group, or not its v1alpha1: no', () => {
    expect(servesRollouts(groups('apps/v1'))).toBe('no');
    expect(servesRollouts(groups('argoproj.io/v1beta1'))).toBe('no');
  });
  it('argoproj.io/v1alpha1: the resources decide (Argo CD alone serves the group without rollouts)', () => {
    expect(servesRollouts(groups('apps/v1', 'argoproj.io/v1alpha1'))).toBe('ask-resources');
    expect(servesRollouts(groups('argoproj.io/v1alpha1'), { resources: [{ name: 'applications', kind: 'Application' }] })).toBe('no');
    expect(servesRollouts(groups('argoproj.io/v1alpha1'), { resources: [{ name: 'rollouts/status', kind: 'Rollout' }, { name: 'rollouts', kind: 'Rollout' }] })).toBe('yes');
  });
});
