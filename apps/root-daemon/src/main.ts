// The root daemon ("daemon"): the privileged network side (TUN, routes, DNS from later issues).
// Started by the CLI as root; its socket is chowned to the user it serves.
import { rootDaemonSocket, type RootDaemonContract } from '@tel/contracts';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { createDaemonRuntime, parseDaemonFlags, type Handlers } from '@tel/ipc';
import { isLevel } from '@tel/logging';
import { API_VERSIONS, handleBuildInfoFlag } from '@tel/version';

handleBuildInfoFlag('root-daemon');

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if ((process.getuid?.() ?? 0) !== 0) {
    throw new Error('the root daemon must run as root');
  }
  const flags = parseDaemonFlags(argv);
  const level = env.TELEPRESENCE_ROOT_LOG_LEVEL && isLevel(env.TELEPRESENCE_ROOT_LOG_LEVEL) ? env.TELEPRESENCE_ROOT_LOG_LEVEL : 'info';
  const rt = createDaemonRuntime({
    name: 'Root Daemon',
    logName: 'daemon',
    apiVersion: API_VERSIONS.rootDaemon,
    socketPath: rootDaemonSocket(env),
    flags,
    level,
    // No routes or DNS are installed before `connect` lands.
    busy: () => false,
  });
  const handlers: Handlers<RootDaemonContract> = {
    ...rt.lifecycle,
    status: async () => ({
      version: await rt.lifecycle.version({}),
      logFile: rt.log.file ?? '',
      uptimeSeconds: Math.round((Date.now() - rt.startedAt) / 1000),
      ownerUid: flags.ownerUid,
    }),
  };
  await rt.listen(handlers);
}

main(process.argv.slice(2), process.env).catch((err) => {
  const info = toErrorInfo(err);
  process.stderr.write(`telepresence root daemon: ${formatError(info)}\n`);
  process.exit(EXIT_CODES[info.category]);
});
