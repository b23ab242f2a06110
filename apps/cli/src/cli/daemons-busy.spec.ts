// A daemon of another version that something depends on must never be replaced: served here by
// the real IPC server on a real socket, answering as a busy daemon of another version would.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UserDaemonContract } from '@tel/contracts';
import { serve, type Handlers } from '@tel/ipc';
import { buildVersion } from '@tel/version';
import { USER_DAEMON, ensureDaemon } from './daemons.js';
import { Output } from './output.js';

let tmp: string;
let server: Server;
let quitCalls = 0;
const env = () => ({ XDG_RUNTIME_DIR: join(tmp, 'run'), XDG_CACHE_HOME: join(tmp, 'cache') });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tel-busy-'));
  const version = { name: 'User Daemon', version: 'v9.9.9', apiVersion: 1, pid: process.pid, idle: false };
  const handlers: Handlers<Pick<UserDaemonContract, 'version' | 'status' | 'quit' | 'setLogLevel'>> = {
    version: async () => version,
    status: async () => ({ version, logFile: '', uptimeSeconds: 1 }),
    quit: async () => {
      quitCalls++;
      return {};
    },
    setLogLevel: async () => ({}),
  };
  server = await serve(USER_DAEMON.socket(env()), handlers);
});

afterAll(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

it('stops with the mismatch message and leaves the busy daemon alone', async () => {
  const notices: string[] = [];
  const out = new Output('text', process.stdout, { write: (s: string) => notices.push(s) } as never);
  await expect(ensureDaemon(USER_DAEMON, { out, env: env(), startTimeoutMs: 1000 })).rejects.toMatchObject({
    category: 'user',
    message: `version mismatch: Client ${buildVersion} != User Daemon v9.9.9`,
    hint: "run 'telepresence quit -s'",
  });
  expect(quitCalls).toBe(0);
  expect(notices).toEqual([]);
});
