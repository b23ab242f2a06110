// `telepresence list`: the workloads of a namespace (Deployments, ReplicaSets of their own,
// StatefulSets, Argo Rollouts when the cluster serves them) and whether each can be intercepted — read with the user's own credentials and
// judged by the same rules the manager's injector applies (@tel/agent-config).
// Boundary: user daemon ← kube API.
import { ApisApi, AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1ObjectMeta, type V1OwnerReference, type V1PodTemplateSpec, type V1Service } from '@kubernetes/client-node';
import { interceptablePorts, notInterceptable, pickServicePort, ROLLOUT_API, servesRollouts, type InterceptablePort } from '@tel/agent-config';
import type { WorkloadInfo } from '@tel/contracts';
import { TelError, clusterError, userError } from '@tel/errors';

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

const statusOf = (err: unknown): number | undefined => (err as { code?: number })?.code ?? (err as { statusCode?: number })?.statusCode;

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
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  try {
    const [deployments, replicaSets, statefulSets, services, rollouts] = await Promise.all([
      apps.listNamespacedDeployment({ namespace }),
      apps.listNamespacedReplicaSet({ namespace }),
      apps.listNamespacedStatefulSet({ namespace }),
      core.listNamespacedService({ namespace }),
      listRollouts(kc, namespace),
    ]);
    const workloads: Workload[] = [
      ...deployments.items.map((d) => ({ kind: 'Deployment' as const, name: d.metadata?.name ?? '', template: d.spec?.template })),
      // A Deployment's or a Rollout's ReplicaSets are its own business; only stand-alone ones are workloads.
      ...replicaSets.items.filter((r) => !r.metadata?.ownerReferences?.some(isReplicaSetOwner)).map((r) => ({ kind: 'ReplicaSet' as const, name: r.metadata?.name ?? '', template: r.spec?.template })),
      ...statefulSets.items.map((s) => ({ kind: 'StatefulSet' as const, name: s.metadata?.name ?? '', template: s.spec?.template })),
      ...rollouts,
    ];
    if (workloads.length === 0 && services.items.length === 0 && !(await namespaceExists(core, namespace))) {
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
async function listRollouts(kc: KubeConfig, namespace: string): Promise<Workload[]> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  let served = servesRollouts(groups);
  if (served === 'ask-resources') served = servesRollouts(groups, await custom.getAPIResources({ group: ROLLOUT_API.group, version: ROLLOUT_API.version }));
  if (served !== 'yes') return [];
  let list: { items?: ArgoRollout[] };
  try {
    list = (await custom.listNamespacedCustomObject({ group: ROLLOUT_API.group, version: ROLLOUT_API.version, plural: ROLLOUT_API.plural, namespace })) as { items?: ArgoRollout[] };
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
async function namespaceExists(core: CoreV1Api, namespace: string): Promise<boolean> {
  try {
    return (await core.listNamespace({ fieldSelector: `metadata.name=${namespace}` })).items.length > 0;
  } catch {
    return true;
  }
}
