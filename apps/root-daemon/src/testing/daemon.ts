// Starts the real root daemon (from source, via tsx) inside a test namespace and talks to it over
// its real socket, as the CLI would.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RootDaemonContract } from '@tel/contracts';
import { connect, isAlive, type Client } from '@tel/ipc';
import type { Netns } from './netns.js';

const here = fileURLToPath(new URL('.', import.meta.url));
export const DAEMON_MAIN = resolve(here, '../main.ts');

export interface RunningDaemon {
  proc: ChildProcess;
  socketPath: string;
  logs: () => string;
  client(): Promise<Client<RootDaemonContract>>;
  /** Ask it to quit and wait for the process to exit. */
  quit(): Promise<void>;
  kill9(): Promise<void>;
}

export async function startDaemon(ns: Netns, dir: string, ownerUid: number): Promise<RunningDaemon> {
  const socketPath = join(dir, 'run', 'daemon.socket');
  // TEL_ROOTD_E2E_BUNDLE=dist/apps/root-daemon/main.js runs the same tests against the bundle.
  // TEL_ROOTD_E2E_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" profiles the daemon under test.
  const nodeArgs = process.env.TEL_ROOTD_E2E_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const entry = [...nodeArgs, ...(process.env.TEL_ROOTD_E2E_BUNDLE ? [resolve(process.env.TEL_ROOTD_E2E_BUNDLE)] : ['--import', 'tsx', DAEMON_MAIN])];
  const proc = ns.spawn(process.execPath, [...entry, '--owner-uid', String(ownerUid), '--owner-gid', String(ownerUid)], {
    env: { ...process.env, TELEPRESENCE_ROOT_RUN_DIR: join(dir, 'run'), XDG_CACHE_HOME: join(dir, 'cache'), TELEPRESENCE_ROOT_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(proc, 'exit');
  const deadline = Date.now() + 20_000;
  while (!(await isAlive(socketPath))) {
    if (proc.exitCode !== null) throw new Error(`root daemon exited early (${proc.exitCode}): ${out}`);
    if (Date.now() > deadline) throw new Error(`root daemon did not listen within 20 s: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    socketPath,
    logs: () => out,
    client: () => connect<RootDaemonContract>(socketPath, 'root daemon'),
    async quit() {
      const c = await connect<RootDaemonContract>(socketPath, 'root daemon');
      await c.quit({});
      c.close();
      await exited;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
