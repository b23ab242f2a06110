// Boundary: CLI → Kubernetes API, with the user's kubeconfig: the traffic manager's pod logs and
// the traffic-agent containers' (and their init containers') logs, for `gather-logs --traffic-manager`.
// A component that cannot be read becomes a warning; the other logs are still gathered.
import type { V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER, AGENT_INIT_CONTAINER } from '@tel/agent-config';
import { formatError, toErrorInfo } from '@tel/errors';
import { kubeApi, resourcePath } from '../kube/api.js';
import { isManagerPod } from '../kube/manager-pod.js';
import type { LoadedKubeconfig } from '../kube/kubeconfig.js';
import type { Anonymizer } from './anonymize.js';

export interface LogEntry {
  /** File name inside the zip. */
  name: string;
  /** Where it came from: a local file, or `pod/<ns>/<pod>/<container>`. */
  source: string;
  content: string;
}

export interface ClusterLogs {
  entries: LogEntry[];
  warnings: string[];
}

/** Bounds one API read (its signal ends the request), so an API server that went away costs seconds, not a hang. */
type Read = <T>(what: string, call: (signal: AbortSignal) => Promise<T>) => Promise<T>;

/**
 * 1. The manager's pods in `managerNamespace` (every one: during a rollout both matter).
 * 2. Pods with a traffic-agent container, in every namespace (needs list pods cluster-wide; else a warning).
 * 3. Each container's log. Pod, workload and namespace names and pod IPs go to `anonymizer`.
 */
export async function gatherClusterLogs(kube: LoadedKubeconfig, managerNamespace: string, read: Read, anonymizer?: Anonymizer): Promise<ClusterLogs> {
  const api = kubeApi(kube.kc);
  const warnings: string[] = [];
  const targets: { pod: V1Pod; container: string }[] = [];
  const note = (pods: V1Pod[]) => {
    for (const p of pods) {
      anonymizer?.add('namespace', p.metadata?.namespace);
      for (const ip of [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)]) anonymizer?.add('ip', ip);
      for (const o of p.metadata?.ownerReferences ?? []) {
        anonymizer?.add('workload', o.name);
        // A ReplicaSet is named <deployment>-<pod-template-hash>.
        const hash = p.metadata?.labels?.['pod-template-hash'];
        if (o.kind === 'ReplicaSet' && hash && o.name.endsWith(`-${hash}`)) anonymizer?.add('workload', o.name.slice(0, -hash.length - 1));
      }
      anonymizer?.add('pod', p.metadata?.name);
    }
  };

  try {
    const pods = (await read(`list pods in namespace ${managerNamespace}`, (signal) => api.list<V1Pod>(resourcePath('v1', 'pods', managerNamespace), { signal }))).items.filter(isManagerPod);
    if (pods.length === 0) warnings.push(`no traffic-manager pod in namespace ${managerNamespace}`);
    note(pods);
    for (const pod of pods) targets.push({ pod, container: pod.spec?.containers[0]?.name ?? 'traffic-manager' });
  } catch (err) {
    warnings.push(formatError(toErrorInfo(err)));
  }
  try {
    const all = (await read('list pods in all namespaces', (signal) => api.list<V1Pod>(resourcePath('v1', 'pods'), { signal }))).items;
    // Every pod's IP and names: a manager or agent log line may name any pod it routed for.
    note(all);
    for (const pod of all.filter((p) => p.spec?.containers.some((c) => c.name === AGENT_CONTAINER))) {
      targets.push({ pod, container: AGENT_CONTAINER });
      if (pod.spec?.initContainers?.some((c) => c.name === AGENT_INIT_CONTAINER)) targets.push({ pod, container: AGENT_INIT_CONTAINER });
    }
  } catch (err) {
    warnings.push(`traffic-agent logs not gathered: ${formatError(toErrorInfo(err))}`);
  }

  const entries: LogEntry[] = [];
  for (const { pod, container } of targets) {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    try {
      const content = await read(`read the log of ${namespace}/${name} container ${container}`, (signal) => api.text(`${resourcePath('v1', 'pods', namespace, name)}/log`, { query: { container }, signal }));
      // 2.x's naming: <pod>.<namespace>.log, the container added when a pod gives more than one.
      const suffix = container === AGENT_CONTAINER || isManagerPod(pod) ? '' : `.${container}`;
      entries.push({ name: `${name}.${namespace}${suffix}.log`, source: `pod/${namespace}/${name}/${container}`, content });
    } catch (err) {
      warnings.push(formatError(toErrorInfo(err)));
    }
  }
  return { entries, warnings };
}
