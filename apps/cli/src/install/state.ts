// Whether a traffic manager is installed, which version, and whether it is ready — judged only
// from the live Deployment (its image tag, its annotations, its status), never from a release
// record, so a deleted Deployment always reads as "not installed" (a stale record would make
// connect skip the install and wait for a manager that is not there).
import type { KubeConfig, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { versionFromTag } from '@tel/version';
import { kubeApi, resourcePath } from '../kube/api.js';
import { apiError, statusOf } from './errors.js';
import { API_VERSION_ANNOTATION, imageTag, MANAGER_NAME, NAME_LABEL, VERSION_ANNOTATION } from './manifests.js';

export interface ManagerState {
  installed: boolean;
  /** The version the Deployment runs: its image tag, else its version annotation. */
  version?: string;
  /** Client→manager API version from the Deployment's annotation. */
  apiVersion?: number;
  /** At least one replica available and the latest rollout complete. */
  ready: boolean;
  image?: string;
}

export function stateOfDeployment(d: V1Deployment | undefined): ManagerState {
  if (!d || d.metadata?.deletionTimestamp) return { installed: false, ready: false };
  const container = d.spec?.template.spec?.containers.find((c) => c.name === MANAGER_NAME) ?? d.spec?.template.spec?.containers[0];
  const image = container?.image;
  const tag = image ? imageTag(image) : undefined;
  const annotations = d.metadata?.annotations ?? {};
  // 2.x images are tagged without the "v" (datawire/tel2:2.5.4); compare them in our form.
  const tagVersion = tag ? versionFromTag(tag) : undefined;
  const version = tagVersion ?? annotations[VERSION_ANNOTATION];
  const api = Number(annotations[API_VERSION_ANNOTATION]);
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  const rolledOut = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && (s.updatedReplicas ?? 0) >= want;
  const ready = want > 0 && rolledOut && (s.availableReplicas ?? 0) >= want;
  const state: ManagerState = { installed: true, ready };
  if (version) state.version = version;
  if (Number.isInteger(api) && api > 0) state.apiVersion = api;
  if (image) state.image = image;
  return state;
}

export async function readManagerDeployment(kc: KubeConfig, namespace: string): Promise<V1Deployment | undefined> {
  try {
    return await kubeApi(kc).get<V1Deployment>(resourcePath('apps/v1', 'deployments', namespace, MANAGER_NAME));
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw apiError(err, { verb: 'get', resource: 'deployments', group: 'apps', namespace }, 'install');
  }
}

export async function getManagerState(kc: KubeConfig, namespace: string): Promise<ManagerState> {
  return stateOfDeployment(await readManagerDeployment(kc, namespace));
}

/** One line on why the manager's pods are not ready yet, e.g. `traffic-manager-x: ImagePullBackOff (...)`. */
export async function podSummary(kc: KubeConfig, namespace: string): Promise<{ text: string; fatal: boolean }> {
  try {
    const pods = await kubeApi(kc).list<V1Pod>(resourcePath('v1', 'pods', namespace), { labelSelector: `${NAME_LABEL}=${MANAGER_NAME}` });
    if (pods.items.length === 0) return { text: 'no pod yet', fatal: false };
    const parts: string[] = [];
    let fatal = false;
    for (const p of pods.items) {
      const cs = p.status?.containerStatuses?.[0];
      const waiting = cs?.state?.waiting;
      const term = cs?.state?.terminated ?? cs?.lastState?.terminated;
      let what = p.status?.phase ?? 'Pending';
      if (waiting?.reason) what = `${waiting.reason}${waiting.message ? ` (${waiting.message.split('\n')[0]})` : ''}`;
      else if (cs && !cs.ready && term) what = `restarting, last exit ${term.exitCode}${term.reason ? ` ${term.reason}` : ''}`;
      else if (cs && !cs.ready) what = 'not ready';
      if (['ErrImageNeverPull', 'InvalidImageName'].includes(waiting?.reason ?? '')) fatal = true;
      parts.push(`${p.metadata?.name}: ${what}`);
    }
    return { text: parts.join('; '), fatal };
  } catch {
    return { text: 'pods unreadable', fatal: false };
  }
}
