// Where each process's socket, logs and config live; one name per process everywhere:
// "connector" is the user daemon, "daemon" the root daemon (as in Telepresence 2.x).
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { logsDir } from '@tel/logging';

export { rootDaemonSocket, userDaemonSocket } from '@tel/contracts';

export { logsDir };

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'telepresence');
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.yml');
}

/** How to start a sibling process of this build: the same bundle, or sources under tsx. */
export interface Entry {
  execPath: string;
  args: string[];
}

/**
 * V8 flags of the user daemon, both measured with bench/connect:
 * - A young generation of 2 MiB semi-spaces (V8's default grows to 16 MiB) is scavenged often
 *   enough that the buffers and socket objects of finished connections don't pile up: after bulk
 *   and HTTP rounds the daemon held 160–200 MiB with the default, most of it garbage awaiting
 *   collection, at no lower CPU cost per connection.
 * - A fixed old-generation growing factor of 2×: with V8's adaptive one, after a burst of
 *   connections the limit sat just above the ~25 MiB live heap, and a following bulk transfer ran
 *   13–14 back-to-back mark-compacts that freed nothing ("GC in old space requested"), a third of
 *   the daemon's CPU: bulk fell from ~225 to ~185 MiB/s in 2 of 5 runs. With it: at most one per
 *   run, and the same RSS (134 vs 130 MiB at 1000 connections).
 */
export const USER_DAEMON_V8_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=100'];

/** The user daemon is this very bundle run with the hidden `connector-foreground` command. */
export function userDaemonEntry(): Entry {
  return { execPath: process.execPath, args: [...process.execArgv, ...USER_DAEMON_V8_FLAGS, process.argv[1]!, 'connector-foreground'] };
}

/** The root daemon bundle sits beside the CLI's: dist/apps/{cli,root-daemon}/main.js. */
export function rootDaemonEntry(env: NodeJS.ProcessEnv = process.env): Entry {
  const self = process.argv[1]!;
  const script = env.TELEPRESENCE_ROOT_DAEMON_ENTRY
    ? resolve(env.TELEPRESENCE_ROOT_DAEMON_ENTRY)
    : self.endsWith('.ts')
      ? resolve(dirname(self), '../../root-daemon/src/main.ts')
      : resolve(dirname(self), '../root-daemon/main.js');
  return { execPath: process.execPath, args: [...process.execArgv, script] };
}
