// version when not connected, through the real parser: the manager's Deployment read with the
// kubeconfig flags from an API server stand-in on loopback (an HTTP server answering the one GET
// that version makes). The real cluster is read in version.e2e.spec.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { buildVersion } from '@tel/version';
import { run } from '../run.js';

type Answer = { status: number; body?: unknown } | 'silent';

let answer: Answer = { status: 404 };
const requests: string[] = [];
let server: Server;
let tmp: string;
let env: NodeJS.ProcessEnv;

function deployment(image: string, agentImage = image, apiVersion = '1') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'traffic-manager', namespace: 'ambassador', generation: 1, annotations: { 'telepresence.io/api-version': apiVersion } },
    spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'traffic-manager', image, env: [{ name: 'AGENT_IMAGE', value: agentImage }] }] } } },
    status: { observedGeneration: 1, updatedReplicas: 1, availableReplicas: 1 },
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (answer === 'silent') return; // never answers: version must give up on its own
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body ?? { kind: 'Status', status: 'Failure', message: 'deployments.apps "traffic-manager" not found', code: answer.status }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  tmp = mkdtempSync(join(tmpdir(), 'tel-version-'));
  const kubeconfig = (ns?: string) => `
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: http://127.0.0.1:${port}
    insecure-skip-tls-verify: true
${ns ? `    extensions:\n    - name: telepresence.io\n      extension:\n        manager:\n          namespace: ${ns}\n` : ''}users: [{name: u, user: {token: t}}]
contexts: [{name: lab, context: {cluster: lab, user: u}}, {name: other, context: {cluster: lab, user: u}}]
`;
  writeFileSync(join(tmp, 'kubeconfig'), kubeconfig());
  writeFileSync(join(tmp, 'kubeconfig-ext'), kubeconfig('tel-system'));
  mkdirSync(join(tmp, 'config', 'telepresence'), { recursive: true });
  writeFileSync(join(tmp, 'config', 'telepresence', 'config.yml'), 'timeouts:\n  trafficManagerAPI: 1s\n');
  env = { HOME: join(tmp, 'home'), XDG_CONFIG_HOME: join(tmp, 'config'), XDG_RUNTIME_DIR: join(tmp, 'run'), XDG_CACHE_HOME: join(tmp, 'cache'), TELEPRESENCE_ROOT_RUN_DIR: join(tmp, 'root') };
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function tp(extraEnv: NodeJS.ProcessEnv, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env: { ...env, ...extraEnv } });
  return { code, stdout, stderr };
}

describe('telepresence version, not connected', () => {
  it('no kubeconfig anywhere and no flag: the client and daemons only, exit 0', async () => {
    const r = await tp({}, 'version', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.client).toEqual({ name: 'Client', version: buildVersion, api_version: 1, running: true, version_mismatch: false });
    expect(doc.root_daemon.running).toBe(false);
    expect(doc.user_daemon.running).toBe(false);
    expect(doc.traffic_manager).toBeUndefined();
    expect(doc.components.map((c: { name: string }) => c.name)).toEqual(['Client', 'Root Daemon', 'User Daemon']);
  });

  it('reads the Traffic Manager and the agent image it injects from the Deployment, with --kubeconfig', async () => {
    answer = { status: 200, body: deployment(`reg.example/tel2:${buildVersion}`) };
    requests.length = 0;
    const r = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Traffic Manager: ${buildVersion} \\(api v1\\) in namespace ambassador$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^Traffic Agent  : ${buildVersion} \\(api v1\\)$`, 'm'));
    expect(requests).toEqual(['GET /apis/apps/v1/namespaces/ambassador/deployments/traffic-manager']);
  });

  it('the manager namespace: --manager-namespace over the kubeconfig extension over ambassador; KUBECONFIG works as the flag', async () => {
    answer = { status: 200, body: deployment(`reg.example/tel2:${buildVersion}`) };
    requests.length = 0;
    await tp({ KUBECONFIG: join(tmp, 'kubeconfig-ext') }, 'version');
    await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig-ext'), '--manager-namespace', 'mine', '--context', 'other');
    expect(requests).toEqual(['GET /apis/apps/v1/namespaces/tel-system/deployments/traffic-manager', 'GET /apis/apps/v1/namespaces/mine/deployments/traffic-manager']);
  });

  it('a manager and agent of another version: marked, one line each naming it, exit 2; yaml keys as json', async () => {
    answer = { status: 200, body: deployment('reg.example/tel2:2.5.4', 'reg.example/tel2:v2.5.3') };
    const r = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Traffic Manager: v2\.5\.4 \(api v1\) in namespace ambassador {2}<- version mismatch$/m);
    expect(r.stderr).toBe(
      `telepresence version: error: version mismatch: Client ${buildVersion} != Traffic Manager v2.5.4; run 'telepresence helm upgrade'\n` +
        `telepresence version: error: version mismatch: Client ${buildVersion} != Traffic Agent v2.5.3; run 'telepresence helm upgrade'\n`,
    );
    const y = await tp({}, 'version', '-o', 'yaml', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(y.code).toBe(2);
    const doc = load(y.stdout) as Record<string, { version?: string } & Record<string, unknown>> & { mismatches: unknown[] };
    expect(doc.traffic_manager).toMatchObject({ name: 'Traffic Manager', version: 'v2.5.4', api_version: 1, version_mismatch: true, source: 'cluster', namespace: 'ambassador' });
    expect(doc.traffic_agent).toMatchObject({ version: 'v2.5.3', image: 'reg.example/tel2:v2.5.3', version_mismatch: true });
    expect(doc.mismatches).toHaveLength(2);
  });

  it('a cluster without a manager: one line, the cluster exit code, nothing on stdout', async () => {
    answer = { status: 404 };
    const r = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      "telepresence version: error: no Traffic Manager in namespace ambassador of context lab (http://127.0.0.1:" +
        `${(server.address() as AddressInfo).port}); install it with 'telepresence helm install', or name its namespace with --manager-namespace\n`,
    );
  });

  it('forbidden, and an API server that never answers: one line each, the cluster exit code', async () => {
    answer = { status: 403, body: { kind: 'Status', message: 'forbidden', code: 403 } };
    const forbidden = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toBe("telepresence version: error: you may not get deployments in namespace ambassador (forbidden); ask a cluster admin for read access to the Traffic Manager, or connect first\n");
    answer = 'silent';
    const t0 = Date.now();
    const silent = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(silent.code).toBe(4);
    expect(silent.stdout).toBe('');
    expect(silent.stderr).toMatch(/^telepresence version: error: the Kubernetes API of context lab \(http:\/\/127\.0\.0\.1:\d+\) did not answer within 1s; check that the cluster is reachable, or raise timeouts\.trafficManagerAPI in config\.yml\n$/);
  });

  it('bad kube flags: a missing kubeconfig named, an unknown context, an empty flag; each one line', async () => {
    const missing = await tp({}, 'version', '--kubeconfig', join(tmp, 'nope'));
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(`telepresence version: error: no kubeconfig found (KUBECONFIG=${join(tmp, 'nope')}); set KUBECONFIG or create ~/.kube/config\n`);
    const context = await tp({}, 'version', '--kubeconfig', join(tmp, 'kubeconfig'), '--context', 'prod');
    expect(context.code).toBe(2);
    expect(context.stderr).toBe(`telepresence version: error: context "prod" not found in ${join(tmp, 'kubeconfig')}; use one of: lab, other\n`);
    const empty = await tp({}, 'version', '--context', '');
    expect(empty.code).toBe(2);
    expect(empty.stderr.split('\n')).toHaveLength(2);
    expect(empty.stderr).toContain('telepresence version: error: --context is empty');
  });
});
