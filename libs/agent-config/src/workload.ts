// The agent config of a whole workload: every interceptable port, so it is a pure function of the
// pod template, the namespace's Services, the agent image and the manager namespace. The manager
// (when it sets the template annotation) and its webhook (when a pod of that template is created)
// compute it alike and so agree on its hash.
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { MANAGER_AGENT_PORT } from '@tel/contracts';
import { agentConfig, configHash, interceptablePorts, notInterceptable, type AgentConfig, type InterceptablePort } from './config.js';
import type { AgentConfigError } from './errors.js';

export interface WorkloadAgent {
  /** Every Service port that reaches the workload's pods. */
  ports: InterceptablePort[];
  /** Why no agent can be added (then neither config nor hash). */
  problem?: AgentConfigError;
  config?: AgentConfig;
  /** configHash(config): the value of the template annotation that wants this agent. */
  hash?: string;
}

export function workloadAgent(opts: {
  workload: AgentConfig['workload'];
  template: V1PodTemplateSpec;
  services: V1Service[];
  image: string;
  managerNamespace: string;
}): WorkloadAgent {
  const { ports } = interceptablePorts(opts.template, opts.services);
  const problem = notInterceptable(opts.template, opts.services);
  if (problem) return { ports, problem };
  const config = agentConfig({ workload: opts.workload, image: opts.image, manager: { namespace: opts.managerNamespace, port: MANAGER_AGENT_PORT }, ports });
  return { ports, config, hash: configHash(config) };
}

/**
 * Argo Rollouts' Rollout (a custom resource): a workload like a Deployment whose ReplicaSets are
 * owned by the Rollout. Clusters without the CRD have no such workloads; whether it is served is
 * read from API discovery (`servesRollouts`), so its absence is never an error.
 */
export const ROLLOUT_API = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts', kind: 'Rollout' } as const;
export const ROLLOUT_API_VERSION = `${ROLLOUT_API.group}/${ROLLOUT_API.version}`;

/** From discovery: the API server's groups (GET /apis) and, when it has argoproj.io, that version's resources. */
export function servesRollouts(groups: { groups?: { name: string; versions?: { groupVersion: string }[] }[] }, resources?: { resources?: { name: string; kind: string }[] }): 'yes' | 'no' | 'ask-resources' {
  const group = groups.groups?.find((g) => g.name === ROLLOUT_API.group);
  if (!group?.versions?.some((v) => v.groupVersion === ROLLOUT_API_VERSION)) return 'no';
  // argoproj.io/v1alpha1 also holds Argo CD's and Argo Workflows' kinds: the resource must be there.
  if (!resources) return 'ask-resources';
  return resources.resources?.some((r) => r.name === ROLLOUT_API.plural && r.kind === ROLLOUT_API.kind) ? 'yes' : 'no';
}
