// status through the real parser against daemons served on real sockets (the IPC server of the
// daemons, handlers answering as a connected session would): 2.x's json keys as a 2.x script reads
// them with jq, yaml, and a daemon of another version marked with a non-zero exit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import type { RootDaemonContract, SessionStatus, UserDaemonContract } from '@tel/contracts';
import { serve, type Handlers } from '@tel/ipc';
import { buildVersion } from '@tel/version';
import { ROOT_DAEMON, USER_DAEMON } from '../daemons.js';
import { run } from '../run.js';
import { renderStatus, statusDocument, type StatusDoc } from './status.js';

const daemon = (name: string, version = buildVersion) => ({ version: { name, version, apiVersion: 1, pid: 1, idle: false }, logFile: '/l', uptimeSeconds: 1 });

const network = {
  device: 'tel0',
  routedSubnets: ['10.96.0.0/12'],
  excluded: [{ cidr: '10.0.0.0/8', reason: 'never-proxy' as const }],
  tunnelHealthy: true,
  activeStreams: 2,
  tcp: { via: 'user-daemon' as const },
  dns: {
    mode: 'resolved' as const,
    server: '127.0.0.1:5353',
    upstream: [],
    routingDomains: ['~cluster.local'],
    searchDomains: ['shop'],
    namespaces: ['default', 'shop'],
    leftOut: [],
    includeSuffixes: [],
    excludeSuffixes: ['.local'],
    lookupTimeoutMs: 8000,
    stats: { queries: 3, cluster: 1, upstream: 2, cacheHits: 0, servfail: 0, formerr: 0 },
  },
};

const connected: SessionStatus = {
  session: {
    kubeconfigFiles: ['/k/config'],
    context: 'prod',
    server: 'https://198.18.0.1:6443',
    namespace: 'shop',
    managerNamespace: 'ambassador',
    managerVersion: { version: buildVersion, apiVersion: 1, agentImage: `reg/tel2:${buildVersion}` },
    managerAction: 'unchanged',
    managerSocket: '/run/manager.socket',
    connectedAt: '2026-01-01T00:00:00Z',
    network,
  },
  portForward: { pod: 'traffic-manager-1', serving: true, activeStreams: 1, tcp: { ok: 4, failed: 1, accepted: 5, lastError: 'ECONNREFUSED' } },
  network,
  rootDaemon: null,
  manager: { sessionId: 's-1', managerVersion: buildVersion, arrivals: 1, lastAnswerAt: '2026-01-01T00:00:01Z' },
  intercepts: [
    {
      id: '1',
      spec: { name: 'web', namespace: 'shop', workload: 'web', workloadKind: 'Deployment', localPort: 3000 },
      sessionId: 's-1',
      client: { user: 'ana', host: 'laptop' },
      state: 'active',
      service: 'web',
      servicePort: 80,
      servicePortName: 'http',
      environment: { SECRET: 'x' },
    },
  ],
} as SessionStatus;

describe('renderStatus', () => {
  it("lists the session's intercepts with where they go and their state", () => {
    const doc: StatusDoc = {
      client: { version: buildVersion },
      userDaemon: daemon('User Daemon'),
      rootDaemon: null,
      session: { context: 'c', server: 's', namespace: 'default', managerNamespace: 'ambassador', managerVersion: { version: buildVersion, apiVersion: 1 } } as never,
      portForward: null,
      network: null,
      intercepts: [
        { id: '1', spec: { name: 'web', namespace: 'shop', workload: 'web', workloadKind: 'Deployment', localPort: 3000 }, sessionId: 's', client: { user: 'u', host: 'h' }, state: 'active', service: 'web', servicePort: 80, servicePortName: 'http' },
        { id: '2', spec: { name: 'db', namespace: 'shop', workload: 'db', localPort: 5432 }, sessionId: 's', client: { user: 'u', host: 'h' }, state: 'installing', message: 'rollout of statefulset/db: 0/1 pods ready with the agent' },
      ],
    };
    const text = renderStatus(doc);
    expect(text).toContain('  Intercepts        : 2 total\n    - web: deployment/web in shop, web:http → 127.0.0.1:3000, ACTIVE\n    - db: workload/db in shop, ?:? → 127.0.0.1:5432, INSTALLING: rollout of statefulset/db: 0/1 pods ready with the agent');
  });
});

describe('statusDocument', () => {
  it('not running: 2.x keys, running false, traffic_manager with empty fields', () => {
    const doc = statusDocument({ client: { version: buildVersion }, userDaemon: null, rootDaemon: null, session: null, portForward: null, network: null });
    expect(doc).toEqual({
      client: { name: 'Client', version: buildVersion },
      user_daemon: { running: false },
      root_daemon: { running: false },
      traffic_manager: { name: '', version: '', traffic_agent: '' },
    });
  });
});

describe('telepresence status against daemons on real sockets', () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let servers: Server[] = [];
  let userVersion = buildVersion;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tel-status-'));
    env = { HOME: join(tmp, 'home'), XDG_CONFIG_HOME: join(tmp, 'config'), XDG_RUNTIME_DIR: join(tmp, 'run'), XDG_CACHE_HOME: join(tmp, 'cache'), TELEPRESENCE_ROOT_RUN_DIR: join(tmp, 'root') };
  });
  afterEach(() => {
    for (const s of servers) s.close();
    servers = [];
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function serveDaemons(session: SessionStatus) {
    const lifecycle = (name: string, version: string) => ({
      version: async () => ({ name, version, apiVersion: 1, pid: 4242, idle: false }),
      quit: async () => ({}),
      setLogLevel: async () => ({}),
    });
    const user: Handlers<Pick<UserDaemonContract, 'version' | 'quit' | 'setLogLevel' | 'status' | 'sessionStatus'>> = {
      ...lifecycle('User Daemon', userVersion),
      status: async () => daemon('User Daemon', userVersion),
      sessionStatus: async () => session,
    };
    const root: Handlers<Pick<RootDaemonContract, 'version' | 'quit' | 'setLogLevel' | 'status'>> = {
      ...lifecycle('Root Daemon', buildVersion),
      status: async () => ({ ...daemon('Root Daemon'), ownerUid: 0 }),
    };
    servers.push(await serve(USER_DAEMON.socket(env), user), await serve(ROOT_DAEMON.socket(env), root));
  }

  async function tp(...argv: string[]) {
    let stdout = '';
    let stderr = '';
    const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env });
    return { code, stdout, stderr };
  }

  const jq = (filter: string, input: string) => execFileSync('jq', ['-r', filter], { input, encoding: 'utf8' }).trim();

  it('-o json reads as a 2.x script reads it, through jq', async () => {
    userVersion = buildVersion;
    await serveDaemons(connected);
    const r = await tp('status', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(jq('.user_daemon.status', r.stdout)).toBe('Connected');
    expect(jq('.user_daemon.running', r.stdout)).toBe('true');
    expect(jq('.user_daemon.kubernetes_context', r.stdout)).toBe('prod');
    expect(jq('.user_daemon.kubernetes_server', r.stdout)).toBe('https://198.18.0.1:6443');
    expect(jq('.user_daemon.namespace', r.stdout)).toBe('shop');
    expect(jq('.user_daemon.manager_namespace', r.stdout)).toBe('ambassador');
    expect(jq('.user_daemon.intercepts[0] | "\\(.name) \\(.client) \\(.state)"', r.stdout)).toBe('web ana@laptop active');
    expect(jq('.user_daemon.intercepts[0].environment', r.stdout)).toBe('null');
    expect(jq('.root_daemon.running', r.stdout)).toBe('true');
    expect(jq('.root_daemon.name', r.stdout)).toBe('Root Daemon');
    expect(jq('.root_daemon.subnets | join(",")', r.stdout)).toBe('10.96.0.0/12');
    expect(jq('.root_daemon.never_proxy_subnets | join(",")', r.stdout)).toBe('10.0.0.0/8');
    expect(jq('.root_daemon.dns.exclude_suffixes | join(",")', r.stdout)).toBe('.local');
    expect(jq('.root_daemon.dns.lookup_timeout', r.stdout)).toBe('8000000000');
    expect(jq('.traffic_manager | "\\(.name) \\(.version) \\(.traffic_agent)"', r.stdout)).toBe(`Traffic Manager ${buildVersion} reg/tel2:${buildVersion}`);
    // Our own fields beside 2.x's, snake_case too.
    expect(jq('.user_daemon.port_forward.tcp.last_error', r.stdout)).toBe('ECONNREFUSED');
    expect(jq('.user_daemon.manager_session.session_id', r.stdout)).toBe('s-1');
    expect(jq('[.. | objects | keys[] | select(test("[A-Z]"))] | length', r.stdout)).toBe('0');
  });

  it('--json is -o json; -o yaml is the same document', async () => {
    userVersion = buildVersion;
    await serveDaemons(connected);
    const json = await tp('status', '--json');
    const yaml = await tp('status', '-o', 'yaml');
    expect(yaml.code).toBe(0);
    const a = JSON.parse(json.stdout);
    const b = load(yaml.stdout) as typeof a;
    // uptime and answers move between calls; the shape and the session do not.
    expect(b.user_daemon.kubernetes_context).toBe('prod');
    expect(Object.keys(b)).toEqual(Object.keys(a));
    expect(b.root_daemon.dns).toEqual(a.root_daemon.dns);
  });

  it('not connected: status "Not connected", no session fields', async () => {
    userVersion = buildVersion;
    await serveDaemons({ session: null, portForward: null, network: null, rootDaemon: null });
    const r = await tp('status', '-o', 'json');
    expect(r.code).toBe(0);
    expect(jq('.user_daemon.status', r.stdout)).toBe('Not connected');
    expect(jq('.user_daemon.kubernetes_context', r.stdout)).toBe('null');
    expect(jq('.traffic_manager.version', r.stdout)).toBe('');
  });

  it('a user daemon of another version is marked, named on stderr, and the exit is non-zero', async () => {
    userVersion = 'v9.9.9';
    await serveDaemons({ session: null, portForward: null, network: null, rootDaemon: null });
    const text = await tp('status');
    expect(text.code).toBe(2);
    expect(text.stdout).toContain('User Daemon: Running\n  Version           : v9.9.9 (api v1)  <- version mismatch\n');
    expect(text.stdout).not.toMatch(/Root Daemon: Running\n.*mismatch/);
    expect(text.stderr).toBe(`telepresence status: error: version mismatch: Client ${buildVersion} != User Daemon v9.9.9; run 'telepresence quit -s'\n`);
    const json = await tp('status', '-o', 'json');
    expect(json.code).toBe(2);
    expect(jq('.user_daemon.version_mismatch', json.stdout)).toBe('true');
    expect(jq('.root_daemon.version_mismatch', json.stdout)).toBe('null');
  });
});
