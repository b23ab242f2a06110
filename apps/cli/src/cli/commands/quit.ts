// `telepresence quit [-s|-u|-r]`: stop the user daemon; -s stops both daemons (as in 2.x).
// Works whatever version the daemons are: that is how a mismatch gets fixed.
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, stopDaemon } from '../daemons.js';

interface QuitOpts {
  stopDaemons?: boolean;
  user?: boolean;
  root?: boolean;
}

export const quitCommand = defineCommand<QuitOpts>({
  name: 'quit',
  description: 'Tell telepresence daemons to quit',
  flags: [
    { flags: '-s, --stop-daemons', description: 'stop both the user daemon and the root daemon' },
    { flags: '-u, --user', description: 'stop the user daemon (default)' },
    { flags: '-r, --root', description: 'stop the root daemon' },
  ],
  async run(ctx, opts) {
    const kinds = opts.stopDaemons ? [USER_DAEMON, ROOT_DAEMON] : [...(opts.root ? [ROOT_DAEMON] : []), ...(opts.user || !opts.root ? [USER_DAEMON] : [])];
    const stopped: string[] = [];
    for (const kind of kinds) if (await stopDaemon(kind, ctx.env)) stopped.push(kind.name);
    ctx.out.result({ stopped }, () => (stopped.length ? stopped.map((n) => `${n} quit`).join('\n') : 'Telepresence daemons are not running'));
  },
});
