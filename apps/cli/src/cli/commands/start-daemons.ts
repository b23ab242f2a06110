// `telepresence start-daemons`: start (or version-check) both daemons without connecting; `connect`
// does the same on demand. Useful to pre-warm daemons and to check an installation in CI.
import { ROOT_DAEMON, USER_DAEMON } from '../daemons.js';
import { defineCommand } from '../command.js';

export const startDaemonsCommand = defineCommand({
  name: 'start-daemons',
  description: 'Start the user and root daemons of this version (connect does this on demand)',
  requires: 'daemons',
  async run(ctx) {
    const { rootDaemon, userDaemon } = ctx.daemons;
    const rows = [
      { name: ROOT_DAEMON.name, version: rootDaemon.version.version, pid: rootDaemon.version.pid, started: rootDaemon.started },
      { name: USER_DAEMON.name, version: userDaemon.version.version, pid: userDaemon.version.pid, started: userDaemon.started },
    ];
    ctx.out.result({ daemons: rows }, () => rows.map((r) => `${r.name}: ${r.version} (pid ${r.pid}, ${r.started ? 'started' : 'already running'})`).join('\n'));
  },
});
