// The roles of the image's main bundle: the traffic manager and `version`. The traffic agent and its
// init container have their own bundle (agent-main.ts), which the webhook names in their command.
import type { ManagerVersion } from '@tel/contracts';
import { MANAGER_API_PORT } from '@tel/contracts';
import { API_VERSIONS, buildVersion } from '@tel/version';

export const ROLES = {
  manager: { name: 'Traffic Manager' },
  version: { name: 'version' },
} as const;

export function versionOf(name: string): ManagerVersion {
  return { name, version: buildVersion, apiVersion: API_VERSIONS.trafficManager };
}

export async function runRole(role: keyof typeof ROLES, env: NodeJS.ProcessEnv): Promise<void> {
  switch (role) {
    case 'version':
      process.stdout.write(JSON.stringify(versionOf('Traffic Manager')) + '\n');
      return;
    case 'manager':
      return (await import('./manager/run.js')).runManager(env, versionOf(ROLES.manager.name), Number(env.MANAGER_API_PORT ?? MANAGER_API_PORT));
  }
}
