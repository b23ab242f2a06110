// `telepresence loglevel LEVEL [-d DURATION]`: the user and root daemons log at LEVEL for DURATION
// (2.x's default 30m; 0s: until changed again), then at their configured level (config.yml logLevels).
import type { RootDaemonContract } from '@tel/contracts';
import { userError } from '@tel/errors';
import { connect } from '@tel/ipc';
import { LEVELS_2X, levelFrom2x } from '@tel/logging';
import { formatDuration, parseDuration } from '../../config/config.js';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON } from '../daemons.js';

const DEFAULT_DURATION = '30m';

/** The level and milliseconds `loglevel` was given, or a user error naming the bad one. */
export function parseLogLevelArgs(level: string, duration: string | undefined): { level: string; durationMs: number } {
  if (!levelFrom2x(level)) throw userError(`unknown log level ${JSON.stringify(level)}`, `use one of ${LEVELS_2X.join(', ')}`);
  const durationMs = parseDuration(duration ?? DEFAULT_DURATION, { allowZero: true });
  if (durationMs === undefined) throw userError(`invalid duration ${JSON.stringify(duration)}`, "use a duration such as 30s, 10m or 1h30m (0s: until changed again)");
  return { level, durationMs };
}

export const loglevelCommand = defineCommand({
  name: 'loglevel',
  description: `Temporarily change the log level of the user and root daemons (${LEVELS_2X.join(', ')})`,
  args: ['<level>'],
  flags: [{ flags: '-d, --duration <duration>', description: `how long the level stays in effect before the configured one returns (default ${DEFAULT_DURATION}; 0s: until changed again)` }],
  requires: 'daemons',
  validate(opts, args) {
    parseLogLevelArgs(args[0]!, opts.duration);
  },
  async run(ctx, opts, args) {
    const req = parseLogLevelArgs(args[0]!, opts.duration);
    await ctx.userDaemon.setLogLevel(req, { signal: ctx.signal });
    const root = await connect<RootDaemonContract>(ROOT_DAEMON.socket(ctx.env), ROOT_DAEMON.name);
    try {
      await root.setLogLevel(req, { signal: ctx.signal });
    } finally {
      root.close();
    }
    const level = levelFrom2x(req.level)!;
    ctx.out.result({ level, durationMs: req.durationMs, daemons: ['User Daemon', 'Root Daemon'] }, () =>
      `Log level of the user and root daemons set to ${level}${req.durationMs ? ` for ${formatDuration(req.durationMs)}` : ' until changed again'}`,
    );
  },
});
