// `telepresence list`: the workloads of a namespace (Deployments, ReplicaSets of their own,
// StatefulSets, Argo Rollouts when the cluster serves them) and whether each can be intercepted — read with the user's own credentials and
// judged by the same rules the manager's injector applies (@tel/agent-config).
// Boundary: user daemon ← kube API.
import type { KubeConfig, V1APIGroupList, V1APIResourceList, V1Deployment, V1Namespace, V1ObjectMeta, V1OwnerReference, V1PodTemplateSpec, V1ReplicaSet, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { interceptablePorts, notInterceptable, pickServicePort, ROLLOUT_API, ROLLOUT_API_VERSION, servesRollouts, type InterceptablePort } from '@tel/agent-config';
import type { WorkloadInfo } from '@tel/contracts';
import { TelError, clusterError, userError } from '@tel/errors';
import { statusOf } from '../install/errors.js';
import { kubeApi, resourcePath, type KubeApi } from '../kube/api.js';

interface Workload {
  kind: WorkloadInfo['kind'];
  name: string;
  template: V1PodTemplateSpec | undefined;
  /** Why it can't be intercepted whatever its template says (a Rollout borrowing a Deployment's template). */
  problem?: { message: string; hint: string };
}

/** Pure: each workload's interceptability and ports, sorted by kind then name. */
export function describeWorkloads(namespace: string, workloads: Workload[], services: V1Service[]): WorkloadInfo[] {
  const order: WorkloadInfo['kind'][] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'Rollout'];
  return workloads
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name))
    .map((w) => {
      const template = w.template ?? { spec: { containers: [] } };
      const why = w.problem ?? notInterceptable(template, services);
      const ports = interceptablePorts(template, services).ports.map((p) => ({
        service: p.service,
        port: p.servicePort,
        ...(p.servicePortName ? { portName: p.servicePortName } : {}),
        container: p.container,
        containerPort: p.appPort,
        ...(p.targetPortName ? { targetPortName: p.targetPortName } : {}),
        ...(p.meshHidden ? { meshHidden: p.meshHidden } : {}),
      }));
      return { namespace, name: w.name, kind: w.kind, interceptable: !why, ...(why ? { reason: why.message, hint: why.hint } : {}), ports };
    });
}

/** Lists and describes; a namespace that is missing or not readable is one line saying so. */
export async function listWorkloads(kc: KubeConfig, namespace: string): Promise<WorkloadInfo[]> {
  const { workloads, services } = await readNamespace(kc, namespace);
  return describeWorkloads(namespace, workloads, services);
}

/**
 * What an intercept of `name` would intercept, judged with the user's own credentials before
 * anything is asked of the manager: a missing workload, one that can't take an agent, or a port
 * that does not exist is refused here, with nothing changed in the cluster.
 */
export async function interceptTarget(kc: KubeConfig, namespace: string, name: string, want: { service?: string; port?: number | string }): Promise<{ kind: WorkloadInfo['kind']; port: InterceptablePort }> {
  const { workloads, services } = await readNamespace(kc, namespace);
  const w = workloads.find((x) => x.name === name);
  if (!w) throw userError(`no workload ${name} in namespace ${namespace} (Deployment, ReplicaSet, StatefulSet or Rollout)`, `see what can be intercepted with 'telepresence list -n ${namespace}'`);
  const template = w.template ?? { spec: { containers: [] } };
  const why = w.problem ?? notInterceptable(template, services);
  if (why) throw userError(`${w.kind.toLowerCase()}/${name} in namespace ${namespace} can't be intercepted: ${why.message}`, why.hint);
  const port = pickServicePort(interceptablePorts(template, services).ports, want);
  if (typeof port === 'string') throw userError(`${w.kind.toLowerCase()}/${name}: ${port}`, `see its ports with 'telepresence list -n ${namespace}'`);
  return { kind: w.kind, port };
}

async function readNamespace(kc: KubeConfig, namespace: string): Promise<{ workloads: Workload[]; services: V1Service[] }> {
  const api = kubeApi(kc);
  try {
    const [deployments, replicaSets, statefulSets, services, rollouts] = await Promise.all([
      api.list<V1Deployment>(resourcePath('apps/v1', 'deployments', namespace)),
      api.list<V1ReplicaSet>(resourcePath('apps/v1', 'replicasets', namespace)),
      api.list<V1StatefulSet>(resourcePath('apps/v1', 'statefulsets', namespace)),
      api.list<V1Service>(resourcePath('v1', 'services', namespace)),
      listRollouts(api, namespace),
    ]);
    const workloads: Workload[] = [
      ...deployments.items.map((d) => ({ kind: 'Deployment' as const, name: d.metadata?.name ?? '', template: d.spec?.template })),
      // A Deployment's or a Rollout's ReplicaSets are its own business; only stand-alone ones are workloads.
      ...replicaSets.items.filter((r) => !r.metadata?.ownerReferences?.some(isReplicaSetOwner)).map((r) => ({ kind: 'ReplicaSet' as const, name: r.metadata?.name ?? '', template: r.spec?.template })),
      ...statefulSets.items.map((s) => ({ kind: 'StatefulSet' as const, name: s.metadata?.name ?? '', template: s.spec?.template })),
      ...rollouts,
    ];
    if (workloads.length === 0 && services.items.length === 0 && !(await namespaceExists(api, namespace))) {
      throw userError(`namespace ${namespace} not found`, "see the namespaces with 'kubectl get namespaces'");
    }
    return { workloads, services: services.items };
  } catch (err) {
    if (err instanceof TelError) throw err;
    if (statusOf(err) === 403) throw userError(`you may not list workloads in namespace ${namespace}`, 'ask for list on deployments, replicasets, statefulsets and services there, or pick another namespace with -n');
    throw clusterError(`listing the workloads of namespace ${namespace} failed: ${(err as Error).message}`, 'check the connection to the cluster and try again');
  }
}

const isReplicaSetOwner = (o: V1OwnerReference) => o.kind === 'Deployment' || (o.kind === ROLLOUT_API.kind && o.apiVersion.split('/')[0] === ROLLOUT_API.group);

interface ArgoRollout {
  metadata?: V1ObjectMeta;
  spec?: { template?: V1PodTemplateSpec; workloadRef?: { kind?: string; name?: string } };
}

/**
 * The namespace's Argo Rollouts, when the cluster serves them (API discovery decides, so a
 * cluster without the CRD lists the other kinds as before). A user who may not list them does
 * not see them, as with any object.
 */
async function listRollouts(api: KubeApi, namespace: string): Promise<Workload[]> {
  const groups = await api.get<V1APIGroupList>('/apis');
  let served = servesRollouts(groups);
  if (served === 'ask-resources') served = servesRollouts(groups, await api.get<V1APIResourceList>(`/apis/${ROLLOUT_API_VERSION}`));
  if (served !== 'yes') return [];
  let list: { items?: ArgoRollout[] };
  try {
    list = await api.list<ArgoRollout>(resourcePath(ROLLOUT_API_VERSION, ROLLOUT_API.plural, namespace));
  } catch (err) {
    if (statusOf(err) === 403) return [];
    throw err;
  }
  return (list.items ?? []).map((r) => {
    const name = r.metadata?.name ?? '';
    const borrowed = r.spec?.workloadRef;
    const problem = borrowed ? { message: `it takes its pod template from ${borrowed.kind?.toLowerCase() ?? 'a workload'} ${borrowed.name ?? ''} (workloadRef)`, hint: 'give the Rollout a template of its own (spec.template) to intercept it' } : undefined;
    return { kind: 'Rollout' as const, name, template: r.spec?.template, ...(problem ? { problem } : {}) };
  });
}

/**
 * Listing in a namespace that does not exist answers an empty list, not 404: ask for it by name
 * (with `list`, which users allowed to see namespaces have; one who may not is not told otherwise).
 */
async function namespaceExists(api: KubeApi, namespace: string): Promise<boolean> {
  try {
    return (await api.list<V1Namespace>(resourcePath('v1', 'namespaces'), { fieldSelector: `metadata.name=${namespace}` })).items.length > 0;
  } catch {
    return true;
  }
}
