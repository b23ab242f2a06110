// An in-memory AgentInstaller for the intercept state's unit tests: workloads are given as pod
// templates and Services, rollouts complete when the test says so. The real injector is tested
// against the test cluster.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { workloadAgent } from '@tel/agent-config';
import type { RolloutStatus, WorkloadRef } from '../inject/rollout.js';
import type { WorkloadInfo, WorkloadInjector } from '../inject/workloads.js';

export class FakeInstaller implements WorkloadInjector {
  readonly workloads = new Map<string, { ref: WorkloadRef; template: V1PodTemplateSpec; replicas: number; annotation?: string }>();
  services: V1Service[] = [];
  readonly calls: string[] = [];
  private readonly rollouts = new Map<string, (s: RolloutStatus) => void>();
  image = 'registry/tel2:v1';

  add(ref: WorkloadRef, template: V1PodTemplateSpec, replicas = 1): void {
    this.workloads.set(`${ref.namespace}/${ref.name}`, { ref, template, replicas });
  }

  async describe(namespace: string, name: string): Promise<WorkloadInfo> {
    const w = this.workloads.get(`${namespace}/${name}`);
    if (!w) throw Object.assign(new Error(`no workload ${name} in namespace ${namespace}`), { code: 'no-workload', hint: 'check the name' });
    const services = this.services.filter((s) => s.metadata?.namespace === namespace);
    const agent = workloadAgent({ workload: w.ref, template: w.template, services, image: this.image, managerNamespace: 'ambassador' });
    return { ref: w.ref, template: w.template, services, replicas: w.replicas, ...agent, ...(w.annotation ? { currentHash: w.annotation } : {}) };
  }

  async ensureAgent(info: WorkloadInfo): Promise<{ changed: boolean }> {
    const w = this.workloads.get(`${info.ref.namespace}/${info.ref.name}`)!;
    const changed = w.annotation !== info.hash;
    w.annotation = info.hash;
    this.calls.push(`ensure ${info.ref.name} ${info.hash}`);
    return { changed };
  }

  async removeAgent(ref: WorkloadRef): Promise<boolean> {
    const w = this.workloads.get(`${ref.namespace}/${ref.name}`)!;
    const had = w.annotation !== undefined;
    delete w.annotation;
    this.calls.push(`remove ${ref.name}`);
    return had;
  }

  watchRollout(ref: WorkloadRef, hash: string | undefined, onStatus: (s: RolloutStatus) => void, signal: AbortSignal): void {
    const key = `${ref.namespace}/${ref.name}`;
    this.rollouts.set(key, onStatus);
    signal.addEventListener('abort', () => this.rollouts.delete(key), { once: true });
    this.calls.push(`watch ${ref.name} ${hash}`);
  }

  /** Reports a rollout status for a workload being watched; false when nobody watches it. */
  report(name: string, s: RolloutStatus, namespace = 'default'): boolean {
    const f = this.rollouts.get(`${namespace}/${name}`);
    f?.(s);
    return !!f;
  }
}

/** A pod template with one container serving `port` named `portName`, labelled app=<name>. */
export function template(name: string, port = 8080, portName?: string): V1PodTemplateSpec {
  return { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: port, ...(portName ? { name: portName } : {}) }] }] } };
}

export function service(name: string, port: number, targetPort: number | string, namespace = 'default'): V1Service {
  return { metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ port, targetPort: targetPort as never, protocol: 'TCP' }] } };
}
