// The roles of the cluster image: the traffic manager, the traffic agent (the sidecar the manager
// injects), the agent's init container, and `version`. Each role's code is imported only when that
// role runs: the agent must not load the manager's Kubernetes client (about 60 MB of RSS in every
// intercepted pod).
import type { ManagerVersion } from '@tel/contracts';
import { MANAGER_API_PORT } from '@tel/contracts';
import { API_VERSIONS, buildVersion } from '@tel/version';

export const ROLES = {
  manager: { name: 'Traffic Manager' },
  agent: { name: 'Traffic Agent' },
  version: { name: 'version' },
  /** The injected pod's init container: numeric target ports → the agent (nft), then exits. */
  'agent-init': { name: 'Traffic Agent init' },
} as const;

export function versionOf(name: string): ManagerVersion {
  return { name, version: buildVersion, apiVersion: API_VERSIONS.trafficManager };
}

export async function runRole(role: keyof typeof ROLES, env: NodeJS.ProcessEnv): Promise<void> {
  switch (role) {
    case 'version':
      process.stdout.write(JSON.stringify(versionOf('Traffic Manager')) + '\n');
      return;
    case 'agent-init':
      process.exitCode = await (await import('./agent-init/run.js')).runAgentInit(env);
      return;
    case 'agent':
      return (await import('./agent/run.js')).runAgent(env);
    case 'manager':
      return (await import('./manager/run.js')).runManager(env, versionOf(ROLES.manager.name), Number(env.MANAGER_API_PORT ?? MANAGER_API_PORT));
  }
}
