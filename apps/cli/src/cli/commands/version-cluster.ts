// The cluster side of `telepresence version` when not connected: the manager's Deployment read with
// the user's kubeconfig. Loaded with import() by version.ts, as the Kubernetes client it needs.
import type { V1Deployment } from '@kubernetes/client-node';
import { AGENT_IMAGE_ENV } from '@tel/agent-config';
import { clusterError } from '@tel/errors';
import { describePermission, statusOf, apiMessage, type Permission } from '../../install/errors.js';
import { MANAGER_NAME } from '../../install/manifests.js';
import { stateOfDeployment } from '../../install/state.js';
import { kubeApi, resourcePath } from '../../kube/api.js';
import type { LoadedKubeconfig } from '../../kube/kubeconfig.js';

/** The cluster side of one version report. */
export interface ClusterSide {
  manager: { version: string; apiVersion: number | null; image?: string };
  agentImage?: string;
  namespace: string;
  source: 'session' | 'cluster';
}

/** Reads the manager's Deployment: its version, API version and the agent image it injects. */
export async function readCluster(kube: LoadedKubeconfig, namespace: string, timeoutMs: number): Promise<ClusterSide> {
  const what: Permission = { verb: 'get', resource: 'deployments', group: 'apps', namespace };
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let d: V1Deployment;
  try {
    d = await kubeApi(kube.kc).get<V1Deployment>(resourcePath('apps/v1', 'deployments', namespace, MANAGER_NAME), { signal: abort.signal });
  } catch (err) {
    const status = statusOf(err);
    const where = `context ${kube.contextName} (${kube.server})`;
    if (status === 404) throw clusterError(`no Traffic Manager in namespace ${namespace} of ${where}`, "install it with 'telepresence helm install', or name its namespace with --manager-namespace");
    if (status === 403) throw clusterError(`you may not ${describePermission(what)} (forbidden)`, 'ask a cluster admin for read access to the Traffic Manager, or connect first');
    if (abort.signal.aborted) throw clusterError(`the Kubernetes API of ${where} did not answer within ${timeoutMs / 1000}s`, 'check that the cluster is reachable, or raise timeouts.trafficManagerAPI in config.yml');
    if (status === undefined) throw clusterError(`cannot reach the Kubernetes API of ${where}: ${String((err as Error).message ?? err).split('\n')[0]}`, 'check your kubeconfig and that the cluster is reachable');
    throw clusterError(`could not ${describePermission(what)}: ${apiMessage(err)} (HTTP ${status})`, '');
  } finally {
    clearTimeout(timer);
  }
  const state = stateOfDeployment(d);
  if (!state.installed || !state.version) throw clusterError(`no Traffic Manager in namespace ${namespace} of context ${kube.contextName} (${kube.server})`, "install it with 'telepresence helm install'");
  const container = d.spec?.template.spec?.containers.find((c) => c.name === MANAGER_NAME);
  const agentImage = container?.env?.find((e) => e.name === AGENT_IMAGE_ENV)?.value;
  return { manager: { version: state.version, apiVersion: state.apiVersion ?? null, ...(state.image ? { image: state.image } : {}) }, ...(agentImage ? { agentImage } : {}), namespace, source: 'cluster' };
}
