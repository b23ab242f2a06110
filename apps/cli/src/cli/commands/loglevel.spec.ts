// loglevel through the real parser against both daemons' own setLogLevel handler (the one
// createDaemonRuntime serves) on real sockets: the level changes in both, comes back to
// the configured one after the duration, and bad input changes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootDaemonContract, UserDaemonContract } from '@tel/contracts';
import { logLevelHandler, serve, type Handlers } from '@tel/ipc';
import { createLogger, type Logger } from '@tel/logging';
import { API_VERSIONS, buildVersion } from '@tel/version';
import { ROOT_DAEMON, USER_DAEMON } from '../daemons.js';
import { tp } from './testing/tp.js';

let dir: string;
let env: NodeJS.ProcessEnv;
const user = { log: createLogger('connector', { level: 'info', stream: { write: () => undefined } }) };
const root = { log: createLogger('daemon', { level: 'info', stream: { write: () => undefined } }) };
const servers: Server[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tel-loglevel-'));
  env = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CACHE_HOME: join(dir, 'cache'), TELEPRESENCE_ROOT_RUN_DIR: join(dir, 'root') };
  // The daemons' own setLogLevel (logLevelHandler, what createDaemonRuntime serves), configured at info.
  const lifecycle = (name: string, apiVersion: number, log: Logger) => ({
    version: async () => ({ name, version: buildVersion, apiVersion, pid: process.pid, idle: true }),
    quit: async () => ({}),
    setLogLevel: logLevelHandler(log, 'info'),
  });
  const userHandlers: Handlers<Pick<UserDaemonContract, 'version' | 'quit' | 'setLogLevel'>> = lifecycle('User Daemon', API_VERSIONS.userDaemon, user.log);
  const rootHandlers: Handlers<Pick<RootDaemonContract, 'version' | 'quit' | 'setLogLevel'>> = lifecycle('Root Daemon', API_VERSIONS.rootDaemon, root.log);
  servers.push(await serve(USER_DAEMON.socket(env), userHandlers), await serve(ROOT_DAEMON.socket(env), rootHandlers));
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
    [['loglevel', 'loud'], 'telepresence loglevel: error: unknown log level "loud"; use one of trace, debug, info, warning, error\n'],
    [['loglevel', 'debug', '-d', 'soon'], 'telepresence loglevel: error: invalid duration "soon"; use a duration such as 30s, 10m or 1h30m (0s: until changed again)\n'],
    [['loglevel', 'debug', '-d', '-5m'], 'telepresence loglevel: error: invalid duration "-5m"; use a duration such as 30s, 10m or 1h30m (0s: until changed again)\n'],
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
