// An in-memory AgentInstaller for the intercept state's unit tests: workloads are given as pod
// templates and Services, rollouts complete when the test says so. The real injector is tested
// against the test cluster.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { agentConfig, configHash, interceptablePorts, notInterceptable } from '@tel/agent-config';
import type { WorkloadRef } from '../state/agents.js';
import type { AgentInstaller, RolloutStatus, WorkloadInfo } from '../state/installer.js';

export class FakeInstaller implements AgentInstaller {
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
    const problem = notInterceptable(w.template, services);
    const ports = interceptablePorts(w.template, services).ports;
    const info: WorkloadInfo = { ref: w.ref, template: w.template, services, ports, replicas: w.replicas, ...(w.annotation ? { currentHash: w.annotation } : {}) };
    if (problem) return { ...info, problem };
    const config = agentConfig({ workload: w.ref, image: this.image, manager: { namespace: 'ambassador', port: 8084 }, ports });
    return { ...info, config, hash: configHash(config) };
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

  watchRollout(ref: WorkloadRef, hash: string, onStatus: (s: RolloutStatus) => void, signal: AbortSignal): void {
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
