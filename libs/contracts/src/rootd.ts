// Boundary: CLI / user daemon → root daemon ("daemon"), over a unix socket readable only by root
// and the session's owner. Local contract: ships with the CLI, need not stay compatible.
import type { Method } from './contract.js';
import type { DaemonVersion, Empty } from './common.js';

export interface RootDaemonStatus {
  version: DaemonVersion;
  logFile: string;
  uptimeSeconds: number;
  /** uid of the user this root daemon serves (socket owner). */
  ownerUid: number;
}

export interface RootDaemonContract {
  version: Method<Empty, DaemonVersion>;
  status: Method<Empty, RootDaemonStatus>;
  quit: Method<Empty, Empty>;
  setLogLevel: Method<{ level: string }, Empty>;
}
