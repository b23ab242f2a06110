// `telepresence connector-foreground`: the user daemon's entry point (hidden; the CLI starts it).
import { startIdleMemory } from '@tel/ipc';
import { defineCommand } from '../command.js';

export const connectorForegroundCommand = defineCommand({
  name: 'connector-foreground',
  description: 'Run the user daemon in the foreground',
  hidden: true,
  runsDaemon: true,
  requires: 'none',
  flags: [
    { flags: '--owner-uid <uid>', description: 'uid that owns the socket' },
    { flags: '--owner-gid <gid>', description: 'gid that owns the socket' },
  ],
  async run(ctx) {
    // Loaded here: the CLI's own commands start without the user daemon's code (and its Kubernetes client).
    const { runConnector } = await import('../../userd/connector.js');
    startIdleMemory();
    await runConnector(process.argv.slice(2), ctx.config(), ctx.env);
    // Keep running: the daemon's socket server holds the event loop open.
    return new Promise<never>(() => undefined);
  },
});
