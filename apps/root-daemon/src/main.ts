// The root daemon ("daemon"): the privileged network side (TUN, routes, redirect rules, tunnel).
// Started by the CLI as root; its socket is chowned to the user it serves.
import { rootDaemonSocket, type RootDaemonContract } from '@tel/contracts';
import { EXIT_CODES, formatError, toErrorInfo } from '@tel/errors';
import { createDaemonRuntime, isAlive, parseDaemonFlags, startIdleMemory, type Handlers } from '@tel/ipc';
import { levelFrom2x } from '@tel/logging';
import { API_VERSIONS, handleBuildInfoFlag } from '@tel/version';
import { NetworkSession } from './network/session.js';
import { peerCred } from './sys/libc.js';

handleBuildInfoFlag('root-daemon');

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  if ((process.getuid?.() ?? 0) !== 0) {
    throw new Error('the root daemon must run as root');
  }
  const flags = parseDaemonFlags(argv);
  // A full collection once idle after connect or a burst of queries, and freed native memory back
  // to the kernel after every full collection (@tel/ipc idle-memory.ts).
  startIdleMemory();
  // The configured level (config.yml logLevels.rootDaemon, passed by the CLI that starts us as
  // --log-level, since sudo hands over no config dir), else the environment's; `loglevel -d` returns to it.
  const flagged = argv.includes('--log-level') ? levelFrom2x(argv[argv.indexOf('--log-level') + 1] ?? '') : undefined;
  const level = flagged ?? levelFrom2x(env.TELEPRESENCE_ROOT_LOG_LEVEL ?? '') ?? 'info';
  const socketPath = rootDaemonSocket(env);
  let network: NetworkSession | undefined;
  const rt = createDaemonRuntime({
    name: 'Root Daemon',
    logName: 'daemon',
    apiVersion: API_VERSIONS.rootDaemon,
    socketPath,
    flags,
    level,
    // Routes and rules depend on us while connected: version replacement must refuse.
    busy: () => network?.connected ?? false,
    cleanup: async () => network?.disconnect(),
    access: { peerCredentials: peerCred, authorize: (peer) => peer.uid === 0 || peer.uid === flags.ownerUid },
  });
  network = new NetworkSession({ log: rt.log, ownerUid: flags.ownerUid });
  // 1. Another daemon answering owns the network state: leave it alone (listen() reports it).
  // 2. Otherwise remove whatever a killed predecessor left (routes, rules, the DNS override table),
  //    before anything can be added.
  if (!(await isAlive(socketPath))) await network.removeLeftovers();
  const session = network;
  const handlers: Handlers<RootDaemonContract> = {
    ...rt.lifecycle,
    status: async () => ({
      version: await rt.lifecycle.version({}),
      logFile: rt.log.file ?? '',
      uptimeSeconds: Math.round((Date.now() - rt.startedAt) / 1000),
      ownerUid: flags.ownerUid,
    }),
    connectNetwork: (cfg) => session.connect(cfg),
    disconnectNetwork: async () => {
      await session.disconnect();
      return {};
    },
    networkStatus: async () => session.status(),
    setDnsNamespaces: async ({ namespaces }) => {
      await session.setDnsNamespaces(namespaces);
      return {};
    },
    setDnsRecords: async (update) => {
      session.setDnsRecords(update);
      return {};
    },
  };
  await rt.listen(handlers);
}

main(process.argv.slice(2), process.env).catch((err) => {
  const info = toErrorInfo(err);
  process.stderr.write(`telepresence root daemon: ${formatError(info)}\n`);
  process.exit(EXIT_CODES[info.category]);
});
