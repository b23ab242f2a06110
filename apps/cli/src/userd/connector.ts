// The user daemon ("connector"): runs as the user, owns the session with the cluster (kubeconfig,
// traffic manager, port-forward) and asks the root daemon for the network. Started by the CLI as
// `telepresence connector-foreground`.
import type { UserDaemonContract } from '@tel/contracts';
import { createDaemonRuntime, parseDaemonFlags, type Handlers } from '@tel/ipc';
import { API_VERSIONS } from '@tel/version';
import { loadConfig, type Config } from '../config/config.js';
import { configFile, rootDaemonSocket, userDaemonSocket } from '../paths.js';
import { ensureManager } from '../install/index.js';
import { Session, managerSocketPath } from './session.js';

export async function runConnector(argv: string[], config: Config, env: NodeJS.ProcessEnv): Promise<void> {
  let session: Session | undefined;
  const rt = createDaemonRuntime({
    name: 'User Daemon',
    logName: 'connector',
    apiVersion: API_VERSIONS.userDaemon,
    socketPath: userDaemonSocket(env),
    flags: parseDaemonFlags(argv),
    level: config.logLevels.userDaemon,
    // A session means routes point at our port-forward: a CLI of another version may not replace us.
    busy: () => session?.busy() ?? false,
    // quit (and SIGTERM) end the session: root daemon network off, port-forwards closed.
    cleanup: async () => void (await session?.disconnect()),
  });
  session = new Session({
    log: rt.log.child('session'),
    env,
    loadConfig: () => loadConfig(configFile(env), (line) => rt.log.warn(line)),
    configFile: configFile(env),
    managerSocket: managerSocketPath(userDaemonSocket(env)),
    rootDaemonSocket: rootDaemonSocket(env),
    ensureManager,
  });
  const s = session;
  const handlers: Handlers<UserDaemonContract> = {
    ...rt.lifecycle,
    status: async () => ({
      version: await rt.lifecycle.version({}),
      logFile: rt.log.file ?? '',
      uptimeSeconds: Math.round((Date.now() - rt.startedAt) / 1000),
    }),
    // The install's progress streams to the CLI; its Ctrl-C (or going away) aborts `signal`.
    connect: (req, { emit, signal }) => {
      signal.addEventListener('abort', () => rt.log.info('connect cancelled by the client', { reason: String((signal.reason as Error | undefined)?.message ?? signal.reason) }), { once: true });
      return s.connect(req, { emit, signal });
    },
    disconnect: () => s.disconnect(),
    sessionStatus: () => s.status(),
    list: (req) => s.list(req),
    intercept: (req, { emit, signal }) => s.intercept(req, { emit, signal }),
    leave: (req) => s.leave(req.name),
    intercepts: async () => s.interceptList(),
    uninstall: (req) => s.uninstall(req),
  };
  await rt.listen(handlers);
}
