// What the manager's intercept logic asks of the cluster about a workload's agent: find the
// workload and its agent config, set or remove the template annotation that makes the webhook
// inject (and the pods roll), and follow the rollout until it is done or fails for a named reason.
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { AGENT_CONTAINER, servicesOf, templateAnnotationPatch, workloadAgent, WORKLOAD_ANNOTATION, type AgentConfig, type AgentConfigError, type InterceptablePort } from '@tel/agent-config';
import type { InterceptErrorCode, WorkloadKind } from '@tel/contracts';
import { TelError, type ErrorCategory } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { argoRolloutProgress, argoRollouts, type ArgoRollout } from './argo.js';
import { selectorString, watchObjects } from './kube-watch.js';
import { rolloutStatus, type RolloutStatus, type WorkloadProgress, type WorkloadRef } from './rollout.js';

export type { RolloutStatus, WorkloadRef } from './rollout.js';

export interface WorkloadInfo {
  ref: WorkloadRef;
  template: V1PodTemplateSpec;
  services: V1Service[];
  ports: InterceptablePort[];
  problem?: AgentConfigError;
  config?: AgentConfig;
  hash?: string;
  /** The template's current telepresence.io/agent annotation value, if any. */
  currentHash?: string;
  replicas: number;
}

/** A refusal with the code clients act on (InterceptInfo.code). */
export class InjectError extends TelError {
  constructor(
    readonly code: InterceptErrorCode,
    category: ErrorCategory,
    message: string,
    hint = '',
  ) {
    super(category, message, hint);
    this.name = 'InjectError';
  }
}

export interface WorkloadInjector {
  /** name → workload (kind given, or found: Deployment, then a ReplicaSet without owner, then StatefulSet, then an Argo Rollout when the cluster serves them); InjectError 'no-workload' when none. */
  describe(namespace: string, name: string, kind?: WorkloadKind): Promise<WorkloadInfo>;
  /** Sets the template annotation to the config hash (no-op when equal); standalone ReplicaSet: deletes its pods without the current hash. */
  ensureAgent(info: WorkloadInfo): Promise<{ changed: boolean }>;
  /** Removes the annotation (template exactly as before) and, for a standalone ReplicaSet, the pods with the agent. False: there was none. */
  removeAgent(ref: WorkloadRef): Promise<boolean>;
  /**
   * Rollout progress until `signal` aborts: onStatus on every change, from pod and EndpointSlice
   * watches. `hash` undefined (or ''): the rollout away from the agent after removeAgent.
   */
  watchRollout(ref: WorkloadRef, hash: string | undefined, onStatus: (s: RolloutStatus) => void, signal: AbortSignal): void;
}

type Workload = V1Deployment | V1ReplicaSet | V1StatefulSet | ArgoRollout;
const PLURAL: Record<Exclude<WorkloadKind, 'Rollout'>, string> = { Deployment: 'deployments', ReplicaSet: 'replicasets', StatefulSet: 'statefulsets' };
const statusOf = (err: unknown) => (err as { code?: unknown }).code;
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const controllerOf = (w: Workload) => w.metadata?.ownerReferences?.find((o) => o.controller);
const refText = (ref: WorkloadRef) => `${ref.kind.toLowerCase()}/${ref.name}`;

export function workloadInjector(opts: { kc: KubeConfig; namespace: string; log: Logger; agentImage: string }): WorkloadInjector {
  const apps = opts.kc.makeApiClient(AppsV1Api);
  const core = opts.kc.makeApiClient(CoreV1Api);
  const discovery = opts.kc.makeApiClient(DiscoveryV1Api);
  const rollouts = argoRollouts(opts.kc);
  const managerNamespace = opts.namespace;

  async function read(kind: WorkloadKind, namespace: string, name: string): Promise<Workload | undefined> {
    try {
      if (kind === 'Deployment') return await apps.readNamespacedDeployment({ name, namespace });
      if (kind === 'ReplicaSet') return await apps.readNamespacedReplicaSet({ name, namespace });
      // A cluster without the Rollout CRD has no Rollouts: asked by discovery, not by a failed read.
      if (kind === 'Rollout') return (await rollouts.served()) ? await rollouts.read(namespace, name) : undefined;
      return await apps.readNamespacedStatefulSet({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async function patch(ref: WorkloadRef, body: object[]): Promise<void> {
    const args = { name: ref.name, namespace: ref.namespace, body };
    if (ref.kind === 'Deployment') await apps.patchNamespacedDeployment(args, jsonPatch);
    else if (ref.kind === 'ReplicaSet') await apps.patchNamespacedReplicaSet(args, jsonPatch);
    else if (ref.kind === 'Rollout') await rollouts.patch(ref.namespace, ref.name, body);
    else await apps.patchNamespacedStatefulSet(args, jsonPatch);
  }

  const noWorkload = (namespace: string, name: string, kind?: WorkloadKind) =>
    new InjectError('no-workload', 'user', `no ${kind ? kind.toLowerCase() : 'deployment, replicaset, statefulset or rollout'} ${name} in namespace ${namespace}`, `'telepresence list -n ${namespace}' shows the workloads that can be intercepted`);

  /**
   * Sets (value) or removes (undefined) the annotation. The patch first tests the resourceVersion
   * it was computed from, so a concurrent change makes it fail and be recomputed, never clobbers.
   */
  async function setAnnotation(ref: WorkloadRef, value: string | undefined): Promise<{ changed: boolean; workload: Workload | undefined }> {
    for (let attempt = 0; ; attempt++) {
      const w = await read(ref.kind, ref.namespace, ref.name);
      if (!w) return { changed: false, workload: undefined };
      const annotations = w.spec?.template?.metadata?.annotations;
      if (annotations?.[WORKLOAD_ANNOTATION] === value) return { changed: false, workload: w };
      const ops = templateAnnotationPatch(annotations, WORKLOAD_ANNOTATION, value);
      try {
        await patch(ref, [{ op: 'test', path: '/metadata/resourceVersion', value: w.metadata?.resourceVersion }, ...ops]);
        return { changed: true, workload: w };
      } catch (err) {
        const code = statusOf(err);
        if ((code !== 409 && code !== 422) || attempt >= 4) throw err;
      }
    }
  }

  /**
   * Pods a template change does not replace by itself (a ReplicaSet never rolls; a StatefulSet
   * with the OnDelete strategy waits for deletes) are deleted when `stale`.
   */
  async function deleteStalePods(ref: WorkloadRef, w: Workload, stale: (p: V1Pod) => boolean): Promise<void> {
    const onDelete = ref.kind === 'StatefulSet' && (w as V1StatefulSet).spec?.updateStrategy?.type === 'OnDelete';
    if (ref.kind !== 'ReplicaSet' && !onDelete) return;
    const pods = await core.listNamespacedPod({ namespace: ref.namespace, labelSelector: selectorString(w.spec?.selector) });
    for (const p of pods.items) {
      if (p.metadata?.deletionTimestamp || !stale(p)) continue;
      await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ref.namespace }).catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
    }
  }

  return {
    async describe(namespace, name, kind) {
      let found: { kind: WorkloadKind; w: Workload } | undefined;
      for (const k of kind ? [kind] : (['Deployment', 'ReplicaSet', 'StatefulSet', 'Rollout'] as const)) {
        const w = await read(k, namespace, name);
        if (!w) continue;
        const owner = k === 'ReplicaSet' ? controllerOf(w) : undefined;
        if (owner) {
          if (kind) throw new InjectError('no-workload', 'user', `replicaset ${name} in namespace ${namespace} is managed by ${owner.kind.toLowerCase()} ${owner.name}`, `intercept ${owner.kind.toLowerCase()} ${owner.name} instead`);
          continue;
        }
        found = { kind: k, w };
        break;
      }
      if (!found) throw noWorkload(namespace, name, kind);
      const borrowed = (found.w as ArgoRollout).spec?.workloadRef;
      if (borrowed) throw new InjectError('not-interceptable', 'user', `rollout/${name} in namespace ${namespace} takes its pod template from ${borrowed.kind?.toLowerCase() ?? 'a workload'} ${borrowed.name ?? ''} (workloadRef)`, 'give the Rollout a template of its own (spec.template) to intercept it');
      const template = found.w.spec?.template ?? {};
      const services = (await core.listNamespacedService({ namespace })).items;
      const ref = { namespace, kind: found.kind, name };
      const agent = workloadAgent({ workload: ref, template, services, image: opts.agentImage, managerNamespace });
      const currentHash = template.metadata?.annotations?.[WORKLOAD_ANNOTATION];
      return { ref, template, services, ...agent, ...(currentHash !== undefined ? { currentHash } : {}), replicas: found.w.spec?.replicas ?? 1 };
    },

    async ensureAgent(info) {
      if (!info.hash) {
        const why = info.problem?.message ?? 'no agent config';
        throw new InjectError('not-interceptable', 'user', `${refText(info.ref)} in namespace ${info.ref.namespace} can't get a traffic agent: ${why}`, info.problem?.hint ?? '');
      }
      const hash = info.hash;
      const { changed, workload } = await setAnnotation(info.ref, hash);
      if (!workload) throw noWorkload(info.ref.namespace, info.ref.name, info.ref.kind);
      await deleteStalePods(info.ref, workload, (p) => p.metadata?.annotations?.[WORKLOAD_ANNOTATION] !== hash);
      if (changed) opts.log.info(`agent wanted on ${refText(info.ref)} in namespace ${info.ref.namespace}`, { hash });
      return { changed };
    },

    async removeAgent(ref) {
      const { changed, workload } = await setAnnotation(ref, undefined);
      if (!workload) return false;
      await deleteStalePods(ref, workload, (p) => p.metadata?.annotations?.[WORKLOAD_ANNOTATION] !== undefined || (p.spec?.containers ?? []).some((c) => c.name === AGENT_CONTAINER));
      if (changed) opts.log.info(`agent removed from ${refText(ref)} in namespace ${ref.namespace}`);
      return changed;
    },

    watchRollout(ref, hash, onStatus, signal) {
      void followRollout({ ref, hash: hash || undefined, onStatus, signal }).catch((err: unknown) => {
        if (signal.aborted) return;
        const gone = err instanceof InjectError;
        onStatus({
          podsWanted: 0,
          podsReady: 0,
          done: false,
          message: `rollout of ${refText(ref)}: ${err instanceof Error ? err.message : String(err)}`,
          failure: { code: gone ? err.code : 'internal', message: err instanceof Error ? err.message : String(err), hint: gone ? err.hint : 'the traffic manager\'s log has the details' },
        });
      });
    },
  };

  /** 1. the workload (selector, replicas) and its Services; 2. watches of the workload, its pods and the Services' slices; 3. a status on every change. */
  async function followRollout(o: { ref: WorkloadRef; hash: string | undefined; onStatus: (s: RolloutStatus) => void; signal: AbortSignal }): Promise<void> {
    const { ref, signal } = o;
    const w = await read(ref.kind, ref.namespace, ref.name);
    if (!w) throw noWorkload(ref.namespace, ref.name, ref.kind);
    const services = servicesOf(w.spec?.template ?? {}, (await core.listNamespacedService({ namespace: ref.namespace })).items).map((s) => s.metadata?.name ?? '');
    let replicas = w.spec?.replicas ?? 1;
    // An Argo Rollout's controller keeps its own verdict (generation seen, replicas updated).
    let controller: WorkloadProgress | undefined = ref.kind === 'Rollout' ? argoRolloutProgress(w as ArgoRollout) : undefined;
    let pods: V1Pod[] | undefined;
    let slices: V1EndpointSlice[] | undefined = services.length ? undefined : [];
    let last = '';
    const update = () => {
      if (!pods || !slices || signal.aborted) return;
      const s = rolloutStatus({ ref, hash: o.hash, replicas, pods, services, slices, managerNamespace, ...(controller ? { controller } : {}) });
      const text = JSON.stringify(s);
      if (text === last) return;
      last = text;
      o.onStatus(s);
    };
    const base = { kc: opts.kc, signal, log: opts.log };
    const ns = ref.namespace;
    const kind = ref.kind;
    watchObjects<Workload>({
      ...base,
      path: kind === 'Rollout' ? rollouts.path(ns) : `/apis/apps/v1/namespaces/${ns}/${PLURAL[kind]}`,
      query: { fieldSelector: `metadata.name=${ref.name}` },
      list: async () => {
        const fieldSelector = `metadata.name=${ref.name}`;
        if (kind === 'Deployment') return apps.listNamespacedDeployment({ namespace: ns, fieldSelector });
        if (kind === 'ReplicaSet') return apps.listNamespacedReplicaSet({ namespace: ns, fieldSelector });
        if (kind === 'Rollout') return rollouts.list(ns, fieldSelector);
        return apps.listNamespacedStatefulSet({ namespace: ns, fieldSelector });
      },
      onChange: (m) => {
        const cur = m.get(ref.name);
        if (cur) {
          replicas = cur.spec?.replicas ?? 1;
          if (kind === 'Rollout') controller = argoRolloutProgress(cur as ArgoRollout);
        }
        update();
      },
    });
    const labelSelector = selectorString(w.spec?.selector);
    watchObjects<V1Pod>({
      ...base,
      path: `/api/v1/namespaces/${ns}/pods`,
      query: { labelSelector },
      list: () => core.listNamespacedPod({ namespace: ns, labelSelector }),
      onChange: (m) => {
        pods = [...m.values()];
        update();
      },
    });
    if (services.length) {
      const sliceSelector = `kubernetes.io/service-name in (${services.join(',')})`;
      watchObjects<V1EndpointSlice>({
        ...base,
        path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        query: { labelSelector: sliceSelector },
        list: () => discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: sliceSelector }),
        onChange: (m) => {
          slices = [...m.values()];
          update();
        },
      });
    }
  }
}
