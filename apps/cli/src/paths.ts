// Where each process's socket, logs and config live; one name per process everywhere:
// "connector" is the user daemon, "daemon" the root daemon (as in Telepresence 2.x).
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT_DAEMON_V8_FLAGS, USER_DAEMON_V8_FLAGS } from '@tel/contracts';
import { logsDir } from '@tel/logging';

export { rootDaemonSocket, userDaemonSocket } from '@tel/contracts';
export { ROOT_DAEMON_V8_FLAGS, USER_DAEMON_V8_FLAGS };

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
  return { execPath: process.execPath, args: [...process.execArgv, ...ROOT_DAEMON_V8_FLAGS, script] };
}
