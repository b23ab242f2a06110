// `telepresence quit [-s|-u|-r]`: end the session (root daemon network off, port-forwards closed),
// then stop the user daemon; -s stops both daemons (as in 2.x). Works whatever version the daemons
// are: that is how a mismatch gets fixed.
import type { UserDaemonContract } from '@tel/contracts';
import { connect } from '@tel/ipc';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, stopDaemon } from '../daemons.js';

export const quitCommand = defineCommand({
  name: 'quit',
  description: 'Tell telepresence daemons to quit',
  requires: 'none',
  flags: [
    { flags: '-s, --stop-daemons', description: 'stop both the user daemon and the root daemon' },
    { flags: '-u, --user', description: 'stop the user daemon (default)' },
    { flags: '-r, --root', description: 'stop the root daemon' },
  ],
  async run(ctx, opts) {
    const kinds = opts.stopDaemons ? [USER_DAEMON, ROOT_DAEMON] : [...(opts.root ? [ROOT_DAEMON] : []), ...(opts.user || !opts.root ? [USER_DAEMON] : [])];
    // 1. End the session first, whichever daemon is asked to stop: routes into a tunnel whose
    //    port-forward is gone would black-hole traffic. A user daemon of another version may not
    //    know `disconnect`; its own shutdown ends the session then.
    let disconnected = false;
    try {
      const c = await connect<UserDaemonContract>(USER_DAEMON.socket(ctx.env), USER_DAEMON.name);
      try {
        disconnected = (await c.disconnect({}, { timeoutMs: 90_000 })).wasConnected;
      } finally {
        c.close();
      }
    } catch {
      // not running, or an older daemon: nothing to disconnect here
    }
    // 2. Stop the daemons.
    const stopped: string[] = [];
    for (const kind of kinds) if (await stopDaemon(kind, ctx.env)) stopped.push(kind.name);
    ctx.out.result({ disconnected, stopped }, () => {
      const lines = [...(disconnected ? ['Disconnected'] : []), ...stopped.map((n) => `${n} quit`)];
      return lines.length ? lines.join('\n') : 'Telepresence daemons are not running';
    });
  },
});
