// Argo Rollouts' Rollout (argoproj.io/v1alpha1, a custom resource) as a workload of the injector:
// whether the cluster serves it (API discovery), read, JSON patch and list, and the controller's
// own view of a rollout (generation observed, replicas updated and available).
import { ApisApi, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1LabelSelector, type V1ObjectMeta, type V1PodTemplateSpec } from '@kubernetes/client-node';
import { ROLLOUT_API, servesRollouts } from '@tel/agent-config';
import type { WorkloadProgress } from './rollout.js';

/** The fields of a Rollout the injector reads. */
export interface ArgoRollout {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: {
    replicas?: number;
    selector?: V1LabelSelector;
    template?: V1PodTemplateSpec;
    /** A Rollout that borrows a Deployment's template instead of having its own. */
    workloadRef?: { kind?: string; name?: string };
    strategy?: { canary?: object; blueGreen?: object };
  };
  status?: {
    observedGeneration?: string;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    phase?: string;
    message?: string;
    pauseConditions?: { reason?: string }[];
  };
}

/** What discovery said, kept this long: a CRD installed after the manager started is seen soon. */
const DISCOVERY_TTL_MS = 30_000;
const api = { group: ROLLOUT_API.group, version: ROLLOUT_API.version, plural: ROLLOUT_API.plural };
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const statusOf = (err: unknown) => (err as { code?: unknown }).code;

export interface ArgoRollouts {
  /** True when the API server serves argoproj.io/v1alpha1 rollouts (from discovery, cached briefly). */
  served(): Promise<boolean>;
  read(namespace: string, name: string): Promise<ArgoRollout | undefined>;
  patch(namespace: string, name: string, body: object[]): Promise<void>;
  list(namespace: string, fieldSelector: string): Promise<{ items: ArgoRollout[]; metadata?: { resourceVersion?: string } }>;
  /** The collection path for watches. */
  path(namespace: string): string;
}

export function argoRollouts(kc: KubeConfig): ArgoRollouts {
  const apis = kc.makeApiClient(ApisApi);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let known: { at: number; served: Promise<boolean> } | undefined;
  async function discover(): Promise<boolean> {
    const groups = await apis.getAPIVersions();
    const first = servesRollouts(groups);
    if (first !== 'ask-resources') return first === 'yes';
    return servesRollouts(groups, await custom.getAPIResources({ group: api.group, version: api.version })) === 'yes';
  }
  return {
    served() {
      if (!known || Date.now() - known.at > DISCOVERY_TTL_MS) {
        const served = discover();
        known = { at: Date.now(), served };
        served.catch(() => (known = undefined));
      }
      return known.served;
    },
    async read(namespace, name) {
      try {
        return (await custom.getNamespacedCustomObject({ ...api, namespace, name })) as ArgoRollout;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async patch(namespace, name, body) {
      await custom.patchNamespacedCustomObject({ ...api, namespace, name, body }, jsonPatch);
    },
    async list(namespace, fieldSelector) {
      return (await custom.listNamespacedCustomObject({ ...api, namespace, fieldSelector })) as { items: ArgoRollout[]; metadata?: { resourceVersion?: string } };
    },
    path: (namespace) => `/apis/${api.group}/${api.version}/namespaces/${namespace}/${api.plural}`,
  };
}

/**
 * The controller's side of "done": it saw the current generation, and as many replicas as wanted
 * are of the current template and available. Pods and endpoints are judged by rolloutStatus.
 */
export function argoRolloutProgress(r: ArgoRollout): WorkloadProgress {
  const wanted = r.spec?.replicas ?? 1;
  const s = r.status ?? {};
  const generation = r.metadata?.generation;
  if (generation !== undefined && s.observedGeneration !== String(generation)) return { done: false, message: 'the Argo Rollouts controller has not seen the change yet' };
  if (s.phase === 'Degraded') return { done: false, message: `the Argo Rollouts controller reports it degraded: ${s.message ?? 'no reason given'}` };
  if (s.pauseConditions?.length) return { done: false, message: `the rollout is paused (${s.pauseConditions.map((p) => p.reason ?? '?').join(', ')}); promote it with the Argo Rollouts tools` };
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated !== wanted || available !== wanted || (s.replicas ?? 0) !== wanted) return { done: false, message: `the Argo Rollouts controller reports ${updated}/${wanted} updated, ${available}/${wanted} available` };
  return { done: true, message: 'the Argo Rollouts controller reports it complete' };
}
