// loglevel through the real parser against both daemons' real runtimes (createDaemonRuntime: the
// same setLogLevel the daemons serve) on real sockets: the level changes in both, comes back to
// the configured one after the duration, and bad input changes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootDaemonContract, UserDaemonContract } from '@tel/contracts';
import { createDaemonRuntime, type DaemonRuntime, type Handlers } from '@tel/ipc';
import { API_VERSIONS } from '@tel/version';
import { ROOT_DAEMON, USER_DAEMON } from '../daemons.js';
import { tp } from './testing/tp.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let user: DaemonRuntime;
let root: DaemonRuntime;
const servers: Server[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-loglevel-'));
  env = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CACHE_HOME: join(dir, 'cache'), TELEPRESENCE_ROOT_RUN_DIR: join(dir, 'root') };
  const flags = { ownerUid: process.getuid!(), ownerGid: process.getgid!() };
  const runtime = (name: string, logName: string, apiVersion: number, socketPath: string) =>
    createDaemonRuntime({ name, logName, apiVersion, socketPath, flags, level: 'info', busy: () => false });
  // The runtimes' log files go under the test's cache dir, never the real user's.
  const cache = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = env.XDG_CACHE_HOME;
  user = runtime('User Daemon', 'test-connector', API_VERSIONS.userDaemon, USER_DAEMON.socket(env));
  root = runtime('Root Daemon', 'test-daemon', API_VERSIONS.rootDaemon, ROOT_DAEMON.socket(env));
  if (cache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = cache;
  expect(user.log.file?.startsWith(dir)).toBe(true);
  servers.push(
    await user.listen<Pick<UserDaemonContract, 'version' | 'quit' | 'setLogLevel'>>(user.lifecycle as Handlers<Pick<UserDaemonContract, 'version' | 'quit' | 'setLogLevel'>>),
    await root.listen<Pick<RootDaemonContract, 'version' | 'quit' | 'setLogLevel'>>(root.lifecycle as Handlers<Pick<RootDaemonContract, 'version' | 'quit' | 'setLogLevel'>>),
  );
});

afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('telepresence loglevel', () => {
  it('sets both daemons for the duration, then they go back to the configured level', async () => {
    const r = await tp(env, ['loglevel', 'debug', '-d', '300ms']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Log level of the user and root daemons set to debug for 300ms\n');
    expect([user.log.level, root.log.level]).toEqual(['debug', 'debug']);
    await new Promise((res) => setTimeout(res, 450));
    expect([user.log.level, root.log.level]).toEqual(['info', 'info']);
  });

  it("takes 2.x's names (warning), 0s means until changed again, -o json prints what it set", async () => {
    const r = await tp(env, ['loglevel', 'warning', '--duration', '0s', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ level: 'warn', durationMs: 0, daemons: ['User Daemon', 'Root Daemon'] });
    expect([user.log.level, root.log.level]).toEqual(['warn', 'warn']);
    const trace = await tp(env, ['loglevel', 'trace']);
    expect(trace.stdout).toBe('Log level of the user and root daemons set to trace for 30m\n');
    await tp(env, ['loglevel', 'info', '-d', '0']);
    expect([user.log.level, root.log.level]).toEqual(['info', 'info']);
  });

  it.each([
    [['loglevel', 'loud'], 'telepresence: error: unknown log level "loud"; use one of trace, debug, info, warning, error\n'],
    [['loglevel', 'debug', '-d', 'soon'], 'telepresence: error: invalid duration "soon"; use a duration such as 30s, 10m or 1h30m (0s: until changed again)\n'],
    [['loglevel', 'debug', '-d', '-5m'], 'telepresence: error: invalid duration "-5m"; use a duration such as 30s, 10m or 1h30m (0s: until changed again)\n'],
  ])('%j: one line, user exit code, nothing changed', async (argv, line) => {
    const r = await tp(env, argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(line);
    expect(r.stdout).toBe('');
    expect([user.log.level, root.log.level]).toEqual(['info', 'info']);
  });

  it('without a level: the parser says what is missing', async () => {
    const r = await tp(env, ['loglevel']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'level'");
  });
});
