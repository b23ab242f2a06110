// The user daemon ("connector"): runs as the user, owns the session with the cluster (from the
// connect issue on). Started by the CLI as `telepresence connector-foreground`.
import type { UserDaemonContract } from '@tel/contracts';
import { createDaemonRuntime, parseDaemonFlags, type Handlers } from '@tel/ipc';
import { API_VERSIONS } from '@tel/version';
import type { Config } from '../config/config.js';
import { userDaemonSocket } from '../paths.js';

export async function runConnector(argv: string[], config: Config, env: NodeJS.ProcessEnv): Promise<void> {
  const rt = createDaemonRuntime({
    name: 'User Daemon',
    logName: 'connector',
    apiVersion: API_VERSIONS.userDaemon,
    socketPath: userDaemonSocket(env),
    flags: parseDaemonFlags(argv),
    level: config.logLevels.userDaemon,
    // No session exists before `connect` lands, so nothing depends on this daemon yet.
    busy: () => false,
  });
  const handlers: Handlers<UserDaemonContract> = {
    ...rt.lifecycle,
    status: async () => ({
      version: await rt.lifecycle.version({}),
      logFile: rt.log.file ?? '',
      uptimeSeconds: Math.round((Date.now() - rt.startedAt) / 1000),
    }),
  };
  await rt.listen(handlers);
}
