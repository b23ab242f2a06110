// gather-logs through the real parser: the daemons' log files of a temp cache dir, and the
// manager's and agents' logs from a loopback API server (the real cluster: everyday.e2e.spec.ts);
// the zip read back; --anonymize leaves none of the names and addresses it was given.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { unzipSync, strFromU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApiServer, json, writeKubeconfig, type FakeApiServer, type Route } from './testing/api-server.js';
import { tp } from './testing/tp.js';

const dir = mkdtempSync(join(tmpdir(), 'tel-gather-'));
let api: FakeApiServer;
let env: NodeJS.ProcessEnv;
const USER = 'alice-gather';
const MANAGER_POD = 'traffic-manager-7d9f8b6c5-x2x4z';
const AGENT_POD = 'echo-easy-6848967857-tw4jw';
const NS = 'shop-team';
const IPS = ['198.18.5.7', '198.18.9.21'];
const KUBE_USER = 'dev-carol';

const pod = (name: string, namespace: string, ip: string, containers: string[], init: string[] = [], labels: Record<string, string> = {}) => ({
  metadata: { name, namespace, labels, ownerReferences: [{ kind: 'ReplicaSet', name: name.replace(/-[a-z0-9]{5}$/, ''), apiVersion: 'apps/v1', uid: 'u' }] },
  spec: { containers: containers.map((n) => ({ name: n })), initContainers: init.map((n) => ({ name: n })) },
  status: { podIP: ip, podIPs: [{ ip }] },
});
const managerPod = pod(MANAGER_POD, 'ambassador', IPS[0]!, ['traffic-manager'], [], { app: 'traffic-manager', 'pod-template-hash': '7d9f8b6c5' });
const agentPod = pod(AGENT_POD, NS, IPS[1]!, ['echo-easy', 'traffic-agent'], ['tel-agent-init'], { app: 'echo-easy', 'pod-template-hash': '6848967857' });

/** A pod's container log, by the `container` query parameter. */
const podLog = (namespace: string, name: string, container: string, body: string): Route => (req, res) => {
  const url = new URL(req.url ?? '', 'http://x');
  if (url.pathname !== `/api/v1/namespaces/${namespace}/pods/${name}/log` || url.searchParams.get('container') !== container) return false;
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(body);
  return true;
};

beforeAll(async () => {
  api = await fakeApiServer([
    json('/api/v1/namespaces/ambassador/pods', { kind: 'PodList', items: [managerPod] }),
    json('/api/v1/pods', { kind: 'PodList', items: [managerPod, agentPod] }),
    podLog('ambassador', MANAGER_POD, 'traffic-manager', `INFO agent arrived from ${AGENT_POD} in ${NS} at ${IPS[1]}; manager ${MANAGER_POD} on ${IPS[0]}; client ${KUBE_USER}@${hostname()}\n`),
    podLog(NS, AGENT_POD, 'traffic-agent', `INFO agent of echo-easy in ${NS}, pod ${AGENT_POD} ${IPS[1]}:8080\n`),
    podLog(NS, AGENT_POD, 'tel-agent-init', 'INFO redirect 80 -> 9901\n'),
  ]);
  const cache = join(dir, 'cache');
  mkdirSync(join(cache, 'telepresence', 'logs'), { recursive: true });
  const logs = join(cache, 'telepresence', 'logs');
  writeFileSync(join(logs, 'connector.log'), `INFO connected as ${USER} (${userInfo().username}) from ${hostname()}; home /home/${USER}; manager pod ${MANAGER_POD}\n`);
  writeFileSync(join(logs, 'connector.log.1'), `INFO older run by ${USER}\n`);
  writeFileSync(join(logs, 'daemon.log'), `INFO routes for ${IPS[1]}/32 via tel0 on ${hostname().split('.')[0]}\n`);
  writeFileSync(join(logs, 'cli.log'), '');
  writeFileSync(join(logs, 'unrelated.txt'), 'not a log');
  const kubeconfig = writeKubeconfig(join(dir, 'kubeconfig'), api.url);
  writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace('users: [{name: u,', `users: [{name: ${KUBE_USER},`).replace('user: u,', `user: ${KUBE_USER},`));
  env = { XDG_CACHE_HOME: cache, XDG_CONFIG_HOME: join(dir, 'config'), HOME: join(dir, 'home'), KUBECONFIG: kubeconfig, USER };
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function readZip(file: string): Record<string, string> {
  return Object.fromEntries(Object.entries(unzipSync(readFileSync(file))).map(([n, b]) => [n, strFromU8(b)]));
}

describe('telepresence gather-logs', () => {
  it("the daemons' non-empty logs by default; --daemons picks; -o json says what it wrote", async () => {
    const file = join(dir, 'all.zip');
    const r = await tp(env, ['gather-logs', '--output-file', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Logs have been exported to ${file} (connector.log, connector.log.1, daemon.log)\n`);
    expect(Object.keys(readZip(file)).sort()).toEqual(['connector.log', 'connector.log.1', 'daemon.log']);
    const userOnly = join(dir, 'user.zip');
    const j = await tp(env, ['gather-logs', '--output-file', userOnly, '--daemons', 'user', '--output', 'json']);
    expect(JSON.parse(j.stdout)).toEqual({ file: userOnly, entries: [{ name: 'connector.log', bytes: expect.any(Number) }, { name: 'connector.log.1', bytes: expect.any(Number) }], anonymized: false, warnings: [] });
    expect(Object.keys(readZip(userOnly))).toEqual(['connector.log', 'connector.log.1']);
  });

  it('--traffic-manager adds the manager pod and the traffic-agent (and init) containers, read through the API', async () => {
    const file = join(dir, 'cluster.zip');
    const r = await tp(env, ['gather-logs', '--output-file', file, '--daemons', 'none', '--traffic-manager']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const zip = readZip(file);
    expect(Object.keys(zip).sort()).toEqual([`${AGENT_POD}.${NS}.log`, `${AGENT_POD}.${NS}.tel-agent-init.log`, `${MANAGER_POD}.ambassador.log`]);
    expect(zip[`${MANAGER_POD}.ambassador.log`]).toContain(`agent arrived from ${AGENT_POD}`);
    expect(zip[`${AGENT_POD}.${NS}.tel-agent-init.log`]).toBe('INFO redirect 80 -> 9901\n');
  });

  it('--anonymize: no user, host, pod, workload or namespace name and no pod IP of the run remains, in contents or file names', async () => {
    const file = join(dir, 'anon.zip');
    const r = await tp(env, ['gather-logs', '--output-file', file, '--traffic-manager', '--anonymize']);
    expect(r.code, r.stderr).toBe(0);
    const zip = readZip(file);
    const everything = Object.entries(zip).flat().join('\n');
    const secrets = [USER, KUBE_USER, hostname(), hostname().split('.')[0]!, MANAGER_POD, AGENT_POD, 'echo-easy', NS, 'ambassador', ...IPS];
    if (userInfo().username !== 'root') secrets.push(userInfo().username);
    for (const s of secrets) expect(everything, s).not.toContain(s);
    // Stable placeholders: the same pod is the same name in every file and in the file names.
    const agentFile = Object.keys(zip).find((n) => n.endsWith('.log') && !n.startsWith('traffic-manager') && !n.includes('tel-agent-init') && !n.startsWith('connector') && !n.startsWith('daemon'))!;
    const [agentName, agentNs] = agentFile.split('.');
    expect(agentName).toMatch(/^pod-\d+$/);
    expect(agentNs).toMatch(/^namespace-\d+$/);
    const managerFile = Object.keys(zip).find((n) => n.startsWith('traffic-manager-pod-'))!;
    expect(zip[managerFile]).toContain(`agent arrived from ${agentName} in ${agentNs}`);
    expect(zip['connector.log']).toMatch(/connected as user-\d+ .* from host-\d+; home \/home\/user-\d+; manager pod traffic-manager-pod-\d+/);
    expect(zip['daemon.log']).toMatch(/^INFO routes for ip-\d+\/32 via tel0 on host-\d+\n$/);
  });

  it('a cluster that refuses part of it: a warning per part, the rest is still gathered', async () => {
    const partial = await fakeApiServer([json('/api/v1/namespaces/ambassador/pods', { kind: 'PodList', items: [managerPod] }), json('/api/v1/pods', 'pods is forbidden', 403), podLog('ambassador', MANAGER_POD, 'traffic-manager', 'INFO up\n')]);
    try {
      const file = join(dir, 'partial.zip');
      const r = await tp({ ...env, KUBECONFIG: writeKubeconfig(join(dir, 'partial-kc'), partial.url) }, ['gather-logs', '--output-file', file, '--traffic-manager']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('gather-logs: traffic-agent logs not gathered: not allowed to list pods in all namespaces (context ctx); ask your cluster admin for permission to list pods in all namespaces\n');
      expect(Object.keys(readZip(file))).toContain(`${MANAGER_POD}.ambassador.log`);
    } finally {
      await partial.close();
    }
  });

  it.each([
    [['--daemons', 'kernel'], 2, 'telepresence gather-logs: error: invalid --daemons "kernel"; use all, user, root or none (or a comma-separated list of them)\n'],
    [['--output-file', 'logs.tar'], 2, `telepresence gather-logs: error: output file "${resolve('logs.tar')}" must end in .zip; name it e.g. logs.zip\n`],
    // 2.x's short -o is the file here; the output format stays --output.
    [['-o', 'logs.tar', '--output', 'json'], 2, `{"error":{"category":"user","message":"output file \\"${resolve('logs.tar')}\\" must end in .zip","hint":"name it e.g. logs.zip"}}\n`],
    [['--output-file', '/nonexistent/dir/x.zip'], 2, 'telepresence gather-logs: error: cannot write /nonexistent/dir/x.zip: directory /nonexistent/dir does not exist; create it or write elsewhere\n'],
    [['--traffic-manager', '--kubeconfig', '/nonexistent/kubeconfig'], 3, 'telepresence gather-logs: error: no kubeconfig found (KUBECONFIG=/nonexistent/kubeconfig); set KUBECONFIG or create ~/.kube/config\n'],
  ])('%j: one line, its exit code, nothing written', async (args, code, line) => {
    const out = join(dir, 'bad');
    mkdirSync(out, { recursive: true });
    const r = await tp(env, ['gather-logs', ...(args.some((a) => a.startsWith('-o') || a === '--output-file') ? [] : ['--output-file', join(out, 'x.zip')]), ...args]);
    expect(r.code).toBe(code);
    const json = args.includes('json');
    expect(json ? r.stdout : r.stderr).toBe(line);
    expect(json ? r.stderr : r.stdout).toBe('');
    expect(readdirSync(out)).toEqual([]);
    expect(existsSync('logs.tar')).toBe(false);
  });
});
