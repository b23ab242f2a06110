// Where a workload's rollout to (or away from) the traffic agent stands, from its pods and its
// Services' EndpointSlices: a pure function, so every watch event recomputes it the same way.
import type { V1ContainerStatus, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER, WORKLOAD_ANNOTATION } from '@tel/agent-config';
import type { InterceptErrorCode, WorkloadKind } from '@tel/contracts';

export interface WorkloadRef {
  namespace: string;
  kind: WorkloadKind;
  name: string;
}

export interface RolloutStatus {
  podsWanted: number;
  podsReady: number;
  done: boolean;
  message: string;
  failure?: { code: InterceptErrorCode; message: string; hint: string };
  /**
   * Pods of the old template still terminating (out of the endpoints, but kube-proxy applies that
   * a moment later, and an app that exits on SIGTERM answers nothing meanwhile).
   */
  oldTerminating?: number;
}

export interface RolloutInput {
  ref: WorkloadRef;
  /** The config hash the pods must carry; undefined: the agent is being removed. */
  hash: string | undefined;
  replicas: number;
  pods: V1Pod[];
  /** The Services that select the workload's pods (their slices must list every new pod as ready). */
  services: string[];
  slices: V1EndpointSlice[];
  managerNamespace: string;
  /** The workload controller's own verdict, when it keeps one the pods do not show (an Argo Rollout's status). */
  controller?: WorkloadProgress;
}

/** A workload controller's view of its rollout: done, or what it waits for. */
export interface WorkloadProgress {
  done: boolean;
  message: string;
}

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']);

const isLive = (p: V1Pod) => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
const hasAgent = (p: V1Pod) => (p.spec?.containers ?? []).some((c) => c.name === AGENT_CONTAINER);
const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Pods of the template being rolled to: with the hash (install) or without the annotation (removal). */
function isNewTemplate(p: V1Pod, hash: string | undefined): boolean {
  const a = p.metadata?.annotations?.[WORKLOAD_ANNOTATION];
  return hash === undefined ? a === undefined : a === hash;
}

/** The first concrete reason one of `pods` will not become ready by itself. */
function failureOf(pods: V1Pod[], input: RolloutInput): RolloutStatus['failure'] {
  const { namespace } = input.ref;
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '';
    if (input.hash !== undefined && !hasAgent(pod)) {
      return {
        code: 'webhook-not-called',
        message: `pod ${name} was created without the traffic agent: the traffic manager's webhook was not called or could not inject it`,
        hint: `check that the traffic-manager in namespace ${input.managerNamespace} is ready and that its MutatingWebhookConfiguration exists; the manager's log says why it left a pod alone`,
      };
    }
    const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const cs of statuses) {
      const waiting = cs.state?.waiting;
      if (waiting?.reason && PULL_REASONS.has(waiting.reason)) {
        const image = (pod.spec?.initContainers ?? []).concat(pod.spec?.containers ?? []).find((c) => c.name === cs.name)?.image ?? cs.image;
        return {
          code: 'image-pull',
          message: `pod ${name} cannot pull image ${image} for container ${cs.name} (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`,
          hint: `make ${image} pullable by the cluster (registry, tag, pull secret); 'kubectl -n ${namespace} describe pod ${name}' shows the kubelet's events`,
        };
      }
      if (waiting?.reason === 'CrashLoopBackOff') {
        const last = cs.lastState?.terminated;
        const why = last ? `${last.reason ?? 'exited'}, exit code ${last.exitCode}` : 'no exit recorded';
        return {
          code: 'crash-loop',
          message: `container ${cs.name} of pod ${name} is crash-looping (last termination: ${why})`,
          hint: `'kubectl -n ${namespace} logs ${name} -c ${cs.name} --previous' shows why it exits`,
        };
      }
    }
  }
  return undefined;
}

/**
 * The Services whose slices do not yet list exactly `ips` as ready: each of them must be there,
 * and no other address may still be ready (an old pod kube-proxy would keep sending a share of the
 * connections to, which is gone a moment later).
 */
function servicesLacking(ips: string[], input: RolloutInput): string[] {
  const wanted = new Set(ips);
  return input.services.filter((svc) => {
    const ready = new Set<string>();
    for (const s of input.slices) {
      if (s.metadata?.labels?.['kubernetes.io/service-name'] !== svc) continue;
      for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) for (const a of e.addresses) ready.add(a);
    }
    return ips.some((ip) => !ready.has(ip)) || [...ready].some((ip) => !wanted.has(ip));
  });
}

export function rolloutStatus(input: RolloutInput): RolloutStatus {
  const { ref, hash, replicas } = input;
  const live = input.pods.filter(isLive);
  const fresh = live.filter((p) => isNewTemplate(p, hash));
  const ok = fresh.filter((p) => isReady(p) && (hash === undefined ? !hasAgent(p) : hasAgent(p)));
  const old = live.length - fresh.length;
  const what = `rollout of ${ref.kind.toLowerCase()}/${ref.name}`;
  const counts = `${ok.length}/${replicas} pods ready ${hash === undefined ? 'without' : 'with'} the agent`;
  const base = { podsWanted: replicas, podsReady: Math.min(ok.length, replicas) };
  const failure = failureOf(fresh, input);
  if (failure) return { ...base, done: false, message: `${what}: ${failure.message}`, failure };
  if (ok.length !== replicas || fresh.length !== replicas || old > 0) {
    return { ...base, done: false, message: `${what}: ${counts}${old > 0 ? `, ${old} old pod${old === 1 ? '' : 's'} left` : ''}` };
  }
  if (input.controller && !input.controller.done) return { ...base, done: false, message: `${what}: ${counts}, ${input.controller.message}` };
  const lacking = servicesLacking(ok.map((p) => p.status?.podIP ?? ''), input);
  if (lacking.length) return { ...base, done: false, message: `${what}: ${counts}, waiting for the endpoints of service ${lacking.join(', ')}` };
  const terminating = input.pods.filter((p) => p.metadata?.deletionTimestamp && !isNewTemplate(p, hash)).length;
  return { ...base, done: true, message: `${what}: ${counts}`, ...(terminating ? { oldTerminating: terminating } : {}) };
}
