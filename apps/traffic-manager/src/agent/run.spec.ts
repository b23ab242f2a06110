// The agent role as a process: bad settings are one line and exit 1; SIGTERM ends it with exit 0.
import { freePort } from './testing/free-port.js';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AGENT_CONFIG_ENV } from '@tel/agent-config';
import { AGENT_ENV } from './settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const main = 'apps/traffic-manager/src/agent/testing/agent-main.ts';

function runAgentProcess(env: Record<string, string>, whenUp?: (out: () => string) => Promise<void> | void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['tools/run.mjs', main], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let up = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!up && whenUp && stdout.includes("can't reach the traffic manager")) {
        up = true;
        void Promise.resolve(whenUp(() => stdout)).then(() => child.kill('SIGTERM'), reject);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('runAgent', () => {
  it.each([
    ['no config', {}, /^traffic-agent: TEL_AGENT_CONFIG is not set; /],
    ['malformed config', { [AGENT_CONFIG_ENV]: '{"version":1' }, /^traffic-agent: TEL_AGENT_CONFIG is not valid JSON/],
  ])('exits 1 with one line on %s', async (_name, env, line) => {
    const r = await runAgentProcess(env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(line);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 20_000);

  it('serves until SIGTERM, then exits 0', async () => {
    const [agentPort, appPort, apiPort, closed] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const config = { version: 1, workload: { kind: 'Deployment', name: 'w', namespace: 'ns' }, image: 'i', manager: { namespace: 'm', port: 1 }, ports: [{ service: 's', servicePort: 80, protocol: 'TCP', container: 'c', appPort, agentPort }] };
    let accepted = false;
    const r = await runAgentProcess(
      {
        [AGENT_CONFIG_ENV]: JSON.stringify(config),
        [AGENT_ENV.podName]: 'p',
        [AGENT_ENV.podIp]: '10.0.0.1',
        [AGENT_ENV.namespace]: 'ns',
        [AGENT_ENV.managerHost]: '127.0.0.1',
        [AGENT_ENV.managerPort]: String(closed),
        [AGENT_ENV.apiPort]: String(apiPort),
      },
      async () => {
        // Its data port accepts (the app behind it is down: the connection is reset, not hung).
        await new Promise<void>((resolve) => {
          const s = net.connect({ port: agentPort, host: '127.0.0.1' }, () => (accepted = true));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        });
      },
    );
    expect(accepted).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('shutting down');
    expect(r.stdout).toContain("can't reach the traffic manager");
    expect(r.stderr).toBe('');
  }, 20_000);
});
