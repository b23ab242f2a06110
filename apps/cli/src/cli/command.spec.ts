// The command spec through the real parser, in process: option types read off the flag specs,
// arguments after `--`, and `requires` met by run.ts against daemons served on real sockets.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { ConnectRequest, RootDaemonContract, SessionInfo, UserDaemonContract } from '@tel/contracts';
import { userError } from '@tel/errors';
import { serve, type Handlers } from '@tel/ipc';
import { API_VERSIONS, buildVersion } from '@tel/version';
import { defineCommand, KUBE_FLAGS, type AnyCommand, type OptionsOf } from './command.js';
import { ROOT_DAEMON, USER_DAEMON } from './daemons.js';
import { run } from './run.js';

async function tp(commands: AnyCommand[], env: NodeJS.ProcessEnv, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const w = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  const code = await run(argv, { stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)), env }, commands);
  return { code, stdout, stderr };
}

const noDaemons = { XDG_CONFIG_HOME: '/nonexistent', XDG_RUNTIME_DIR: '/nonexistent/run', TELEPRESENCE_ROOT_RUN_DIR: '/nonexistent/root' };

describe('option types', () => {
  it('are inferred from the flag syntax: value, list, boolean; required only with a default', () => {
    const flags = [
      { flags: '-n, --manager-namespace <ns>', description: '' },
      { flags: '--also-proxy <cidr...>', description: '' },
      { flags: '-s, --stop-daemons', description: '' },
      { flags: '--timeout <duration>', description: '', default: '2m' },
    ] as const;
    expectTypeOf<OptionsOf<typeof flags>>().toEqualTypeOf<{ managerNamespace?: string; alsoProxy?: string[]; stopDaemons?: boolean; timeout: string }>();
  });
});

describe('arguments after --', () => {
  it('reach a command that passes them through, untouched (flags included)', async () => {
    let seen: { args: string[]; passThrough: string[]; opts: { name?: string } } | undefined;
    const cmd = defineCommand({
      name: 'exec',
      description: 'test',
      requires: 'none',
      passThrough: true,
      args: ['[target]'],
      flags: [{ flags: '--name <n>', description: '' }],
      async run(_ctx, opts, args, passThrough) {
        seen = { args, passThrough, opts };
      },
    });
    const r = await tp([cmd], noDaemons, 'exec', 'svc', '--name', 'x', '--', 'curl', '-v', '--name', 'y', '--');
    expect(r.code).toBe(0);
    expect(seen).toEqual({ args: ['svc'], passThrough: ['curl', '-v', '--name', 'y', '--'], opts: { name: 'x' } });
  });

  it('are refused by a command that takes none', async () => {
    const cmd = defineCommand({ name: 'plain', description: 'test', requires: 'none', run: async () => undefined });
    const r = await tp([cmd], noDaemons, 'plain', '--', 'ls');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("telepresence plain: error: plain takes no arguments after --; remove '-- ls'\n");
  });
});

describe('requires', () => {
  let connected: SessionInfo | null = null;
  let connectFails = false;
  const connects: ConnectRequest[] = [];
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  const servers: Server[] = [];
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tel-requires-'));
    env = { XDG_CONFIG_HOME: join(tmp, 'config'), XDG_RUNTIME_DIR: join(tmp, 'run'), XDG_CACHE_HOME: join(tmp, 'cache'), TELEPRESENCE_ROOT_RUN_DIR: join(tmp, 'root') };
    // Daemons of this build, not connected: served by the real IPC server on real sockets.
    const lifecycle = (name: string, apiVersion: number) => ({
      version: async () => ({ name, version: buildVersion, apiVersion, pid: process.pid, idle: true }),
      quit: async () => ({}),
      setLogLevel: async () => ({}),
    });
    const user: Handlers<Pick<UserDaemonContract, 'version' | 'quit' | 'setLogLevel' | 'sessionStatus' | 'connect'>> = {
      ...lifecycle('User Daemon', API_VERSIONS.userDaemon),
      sessionStatus: async () => ({ session: connected, portForward: null, network: null, rootDaemon: null }),
      // Connects as the real daemon would answer; `connectFails` makes it refuse.
      connect: async (req, { emit }) => {
        connects.push(req);
        emit({ message: 'installing Traffic Manager' });
        if (connectFails) throw userError('no such context', 'pick one');
        connected = { kubeconfigFiles: (req.kubeconfigEnv ?? '/home/.kube/config').split(':'), context: req.context ?? 'ctx-1', namespace: 'default', server: 'https://k8s', managerNamespace: 'ambassador', managerVersion: { version: buildVersion, apiVersion: 1 }, managerAction: 'installed', network: { dnsError: 'off' } } as never;
        return { session: connected!, alreadyConnected: false, elapsedMs: 5 };
      },
    };
    const root: Handlers<Pick<RootDaemonContract, 'version' | 'quit' | 'setLogLevel'>> = lifecycle('Root Daemon', API_VERSIONS.rootDaemon);
    servers.push(await serve(USER_DAEMON.socket(env), user), await serve(ROOT_DAEMON.socket(env), root));
  });
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("'daemons' hands the handler a connected user daemon", async () => {
    let pid = 0;
    const cmd = defineCommand({
      name: 'needs-daemons',
      description: 'test',
      requires: 'daemons',
      async run(ctx) {
        pid = (await ctx.userDaemon.version({})).pid;
        expect(ctx.daemons.rootDaemon.started).toBe(false);
      },
    });
    const r = await tp([cmd], env, 'needs-daemons');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(pid).toBe(process.pid);
  });

  it("'session' without a session connects first with connect's defaults (as 2.x), or stops with connect's error", async () => {
    let ran = 0;
    const cmd = defineCommand({ name: 'needs-session', description: 'test', requires: 'session', run: async () => void ran++ });
    connectFails = true;
    const refused = await tp([cmd], { ...env, KUBECONFIG: '/k/config' }, 'needs-session');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('telepresence needs-session: error: no such context; pick one\n');
    expect(ran).toBe(0);
    connectFails = false;
    const r = await tp([cmd], { ...env, KUBECONFIG: '/k/config' }, 'needs-session');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Connected to context ctx-1, namespace default (https://k8s)');
    expect(connects.at(-1)).toEqual({ kubeconfigEnv: '/k/config', alsoProxy: [], neverProxy: [] });
    expect(ran).toBe(1);
    // Connected now: no second connect.
    await tp([cmd], env, 'needs-session');
    expect(connects).toHaveLength(2);
    expect(ran).toBe(2);
  });

  it("'session' with the kube flags: connects with them, and refuses a session they do not name", async () => {
    let ran = 0;
    const cmd = defineCommand({ name: 'kube-session', description: 'test', requires: 'session', flags: KUBE_FLAGS, run: async () => void ran++ });
    const dir = mkdtempSync(join(tmpdir(), 'tel-kubeflags-'));
    writeFileSync(join(dir, 'config'), '');
    connected = null;
    const r = await tp([cmd], { ...env, KUBECONFIG: '/elsewhere' }, 'kube-session', '--kubeconfig', join(dir, 'config'), '--context', 'ctx-1');
    expect(r.code, r.stderr).toBe(0);
    expect(connects.at(-1)).toEqual({ kubeconfigEnv: join(dir, 'config'), context: 'ctx-1', alsoProxy: [], neverProxy: [] });
    const sameAgain = await tp([cmd], env, 'kube-session', '--kubeconfig', join(dir, 'config'), '--context', 'ctx-1');
    expect(sameAgain.code, sameAgain.stderr).toBe(0);
    const otherContext = await tp([cmd], env, 'kube-session', '--context', 'prod');
    expect(otherContext.code).toBe(2);
    expect(otherContext.stderr).toBe("telepresence kube-session: error: connected to context ctx-1, not prod; run 'telepresence quit' first to connect elsewhere, or leave out the flag\n");
    const otherFile = await tp([cmd], env, 'kube-session', '--kubeconfig', '/k/other');
    expect(otherFile.code).toBe(2);
    expect(otherFile.stderr).toContain(`connected with kubeconfig ${join(dir, 'config')}, not /k/other`);
    expect(ran).toBe(2);
    expect(connects).toHaveLength(3);
    rmSync(dir, { recursive: true, force: true });
  });
});
