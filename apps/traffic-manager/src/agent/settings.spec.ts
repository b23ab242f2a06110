// The agent's settings from its container environment: every bad value is one line naming it.
import { describe, expect, it } from 'vitest';
import { AGENT_CONFIG_ENV, AGENT_TOKEN_PATH, configHash, type AgentConfig } from '@tel/agent-config';
import { AGENT_API_PORT, MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT } from '@tel/contracts';
import { TelError } from '@tel/errors';
import { AGENT_ENV, APP_ENV_PREFIX, appEnvironment, parseAgentEnv } from './settings.js';

const config: AgentConfig = {
  version: 1,
  workload: { kind: 'StatefulSet', name: 'db', namespace: 'shop' },
  image: 'r/tel2:v1',
  manager: { namespace: 'ambassador', port: 8084 },
  ports: [
    { service: 'db', servicePort: 5432, protocol: 'TCP', container: 'db', appPort: 5432, agentPort: 9901 },
    { service: 'db-alt', servicePort: 15432, protocol: 'TCP', container: 'db', appPort: 5432, agentPort: 9901 },
    { service: 'db', servicePort: 8080, protocol: 'TCP', container: 'db', appPort: 8080, agentPort: 9902, targetPortName: 'http' },
  ],
};
const pod = { [AGENT_ENV.podName]: 'db-0', [AGENT_ENV.podIp]: '10.1.2.3', [AGENT_ENV.namespace]: 'shop' };
const env = (over: Record<string, string | undefined> = {}, cfg: unknown = config) => ({ [AGENT_CONFIG_ENV]: typeof cfg === 'string' ? cfg : JSON.stringify(cfg), ...pod, ...over });
const withConfig = (patch: (c: any) => void) => {
  const c = structuredClone(config) as any;
  patch(c);
  return env({}, c);
};

describe('parseAgentEnv', () => {
  it('reads the config, the pod, and the manager from the contracts defaults', () => {
    const s = parseAgentEnv(env());
    expect(s.pod).toEqual({ name: 'db-0', ip: '10.1.2.3', namespace: 'shop' });
    expect(s.managerHost).toBe('traffic-manager.ambassador');
    expect([s.managerPort, s.tunnelPort, s.apiPort]).toEqual([MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT, AGENT_API_PORT]);
    expect(s.tokenPath).toBe(AGENT_TOKEN_PATH);
    expect(s.configHash).toBe(configHash(config));
    expect([...s.ports]).toEqual([
      [9901, 5432],
      [9902, 8080],
    ]);
  });

  it('takes the test overrides', () => {
    const s = parseAgentEnv(env({ [AGENT_ENV.managerHost]: '127.0.0.1', [AGENT_ENV.managerPort]: '1234', [AGENT_ENV.tunnelPort]: '1235', [AGENT_ENV.apiPort]: '1236', [AGENT_ENV.tokenPath]: '/tmp/t' }));
    expect([s.managerHost, s.managerPort, s.tunnelPort, s.apiPort, s.tokenPath]).toEqual(['127.0.0.1', 1234, 1235, 1236, '/tmp/t']);
  });

  it.each([
    ['no config', env({ [AGENT_CONFIG_ENV]: undefined }), 'TEL_AGENT_CONFIG is not set'],
    ['not JSON', env({}, '{version: 1'), 'TEL_AGENT_CONFIG is not valid JSON'],
    ['not an object', env({}, '[1]'), 'TEL_AGENT_CONFIG: the value must be a JSON object'],
    ['another version', withConfig((c) => (c.version = 2)), 'TEL_AGENT_CONFIG: version must be 1 (got 2)'],
    ['a bad workload kind', withConfig((c) => (c.workload.kind = 'Job')), 'TEL_AGENT_CONFIG: workload must be'],
    ['no manager namespace', withConfig((c) => delete c.manager), 'TEL_AGENT_CONFIG: manager.namespace must be a namespace name'],
    ['no ports', withConfig((c) => (c.ports = [])), 'TEL_AGENT_CONFIG: ports must be a non-empty list'],
    ['a bad agent port', withConfig((c) => (c.ports[1].agentPort = 70000)), 'TEL_AGENT_CONFIG: ports[1].agentPort must be a port number (got 70000)'],
    ['a missing app port', withConfig((c) => delete c.ports[0].appPort), 'TEL_AGENT_CONFIG: ports[0].appPort must be a port number (got undefined)'],
    ['one agent port, two app ports', withConfig((c) => (c.ports[1].appPort = 5433)), 'agent port 9901 is given app ports 5432 and 5433'],
    ['no pod name', env({ [AGENT_ENV.podName]: '' }), 'TEL_AGENT_POD_NAME is not set'],
    ['no pod IP', env({ [AGENT_ENV.podIp]: undefined }), 'TEL_AGENT_POD_IP is not set'],
    ['a bad port override', env({ [AGENT_ENV.managerPort]: '80a' }), 'TEL_AGENT_MANAGER_PORT="80a" is not a port number'],
  ])('refuses %s with one line', (_name, e, message) => {
    let err: unknown;
    try {
      parseAgentEnv(e);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(TelError);
    const t = err as TelError;
    expect(t.category).toBe('config');
    expect(t.message).toContain(message);
    expect(`${t.message}; ${t.hint}`).not.toContain('\n');
    expect(t.hint).not.toBe('');
  });
});

describe('appEnvironment', () => {
  it('is the container environment without the agent own variables', () => {
    expect(appEnvironment({ ...env(), DB_URL: 'postgres://x', EMPTY: '', [AGENT_ENV.tokenPath]: '/t' })).toEqual({ DB_URL: 'postgres://x', EMPTY: '' });
  });

  it('leaves out what the agent has of its own and restores the app values of those', () => {
    const own = { [AGENT_ENV.ownEnv]: 'NODE_OPTIONS,UV_THREADPOOL_SIZE', NODE_OPTIONS: '--max-semi-space-size=1', UV_THREADPOOL_SIZE: '1' };
    expect(appEnvironment({ ...own, A: '1' })).toEqual({ A: '1' });
    expect(appEnvironment({ ...own, A: '1', [`${APP_ENV_PREFIX}NODE_OPTIONS`]: '--require ./trace.js' })).toEqual({ A: '1', NODE_OPTIONS: '--require ./trace.js' });
  });
});
