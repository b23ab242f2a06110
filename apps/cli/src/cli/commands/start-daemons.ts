// `telepresence start-daemons`: start (or version-check) both daemons without connecting; `connect`
// does the same on demand. Useful to pre-warm daemons and to check an installation in CI.
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, ensureDaemon } from '../daemons.js';

export const startDaemonsCommand = defineCommand({
  name: 'start-daemons',
  description: 'Start the user and root daemons of this version (connect does this on demand)',
  async run(ctx) {
    const startTimeoutMs = ctx.config().timeouts.daemonStart;
    const rows: { name: string; version: string; pid: number; started: boolean }[] = [];
    for (const kind of [ROOT_DAEMON, USER_DAEMON]) {
      const { client, version, started } = await ensureDaemon(kind, { out: ctx.out, env: ctx.env, startTimeoutMs });
      client.close();
      rows.push({ name: kind.name, version: version.version, pid: version.pid, started });
    }
    ctx.out.result({ daemons: rows }, () => rows.map((r) => `${r.name}: ${r.version} (pid ${r.pid}, ${r.started ? 'started' : 'already running'})`).join('\n'));
  },
});
