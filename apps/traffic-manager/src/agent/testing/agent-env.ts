// The environment the webhook gives a traffic agent, for tests that run one against a fake manager:
// a Deployment `echo` in `shop` whose Service port 80 reaches `appPort`, taken over on `agentPort`.
import { AGENT_CONFIG_ENV } from '@tel/agent-config';
import { AGENT_ENV } from '../settings.js';
import { freePort } from './free-port.js';

export async function testAgentEnv(o: { manager: { apiPort: number; tunnelPort: number }; appPort: number; agentPort: number; tokenPath: string }): Promise<Record<string, string>> {
  const config = {
    version: 1,
    workload: { kind: 'Deployment', name: 'echo', namespace: 'shop' },
    image: 'r/tel2:v0',
    manager: { namespace: 'ambassador', port: 8084 },
    ports: [{ service: 'echo', servicePort: 80, protocol: 'TCP', container: 'echo', appPort: o.appPort, agentPort: o.agentPort }],
  };
  return {
    [AGENT_CONFIG_ENV]: JSON.stringify(config),
    [AGENT_ENV.podName]: 'echo-1',
    [AGENT_ENV.podIp]: '10.0.0.7',
    [AGENT_ENV.namespace]: 'shop',
    [AGENT_ENV.managerHost]: '127.0.0.1',
    [AGENT_ENV.managerPort]: String(o.manager.apiPort),
    [AGENT_ENV.tunnelPort]: String(o.manager.tunnelPort),
    [AGENT_ENV.apiPort]: String(await freePort()),
    [AGENT_ENV.tokenPath]: o.tokenPath,
  };
}
