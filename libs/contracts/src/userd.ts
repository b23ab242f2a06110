// Boundary: CLI → user daemon ("connector"), over a unix socket owned by the user.
// Local contract: the CLI and the user daemon ship in one bundle, so it need not stay compatible.
import type { Method } from './contract.js';
import type { DaemonVersion, Empty } from './common.js';

export type { DaemonVersion, Empty } from './common.js';

export interface UserDaemonStatus {
  version: DaemonVersion;
  /** Absolute path of the daemon's log file. */
  logFile: string;
  /** Seconds since the daemon started. */
  uptimeSeconds: number;
}

export interface UserDaemonContract {
  /** The daemon's build version, for the CLI's version check. */
  version: Method<Empty, DaemonVersion>;
  status: Method<Empty, UserDaemonStatus>;
  /** Stop the daemon after answering. */
  quit: Method<Empty, Empty>;
  /** Change the log level at run time (`telepresence loglevel`). */
  setLogLevel: Method<{ level: string }, Empty>;
}
