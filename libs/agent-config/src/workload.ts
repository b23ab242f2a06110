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
