// The roles of the cluster image. Each serves its API over HTTP/2 (cleartext; reached only
// through the Kubernetes port-forward) and answers GET /version so clients can check it.
import http2 from 'node:http2';
import { AGENT_API_PORT, MANAGER_API_PORT, type ManagerVersion } from '@tel/contracts';
import { API_VERSIONS, buildVersion } from '@tel/version';
import { runAgentInit } from './agent-init/run.js';
import { runManager } from './manager/run.js';

export const ROLES = {
  manager: { name: 'Traffic Manager', portEnv: 'MANAGER_API_PORT', defaultPort: MANAGER_API_PORT },
  agent: { name: 'Traffic Agent', portEnv: 'AGENT_API_PORT', defaultPort: AGENT_API_PORT },
  version: { name: 'version', portEnv: '', defaultPort: 0 },
  /** The injected pod's init container: numeric target ports → the agent (nft), then exits. */
  'agent-init': { name: 'Traffic Agent init', portEnv: '', defaultPort: 0 },
} as const;

export function versionOf(name: string): ManagerVersion {
  return { name, version: buildVersion, apiVersion: API_VERSIONS.trafficManager };
}

export async function runRole(role: keyof typeof ROLES, env: NodeJS.ProcessEnv): Promise<void> {
  const spec = ROLES[role];
  if (role === 'version') {
    process.stdout.write(JSON.stringify(versionOf('Traffic Manager')) + '\n');
    return;
  }
  if (role === 'agent-init') {
    process.exitCode = await runAgentInit(env);
    return;
  }
  const port = Number(env[spec.portEnv] ?? spec.defaultPort);
  if (role === 'manager') return runManager(env, versionOf(spec.name), port);
  const server = http2.createServer((req, res) => {
    if (req.url === '/version') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(versionOf(spec.name)));
    } else if (req.url === '/healthz') {
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '0.0.0.0', resolve));
  process.stdout.write(`${spec.name} ${buildVersion} serving on :${port}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
