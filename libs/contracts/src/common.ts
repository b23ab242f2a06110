// Messages more than one local contract uses.

/** What every daemon answers to `version`; the CLI compares it to its own build. */
export interface DaemonVersion {
  /** "User Daemon" or "Root Daemon": the name used in messages. */
  name: string;
  /** The build version baked into the daemon's bundle. */
  version: string;
  /** The daemon's API version for this boundary. */
  apiVersion: number;
  /** Process id, so `quit` can confirm the process is gone. */
  pid: number;
  /**
   * True when nothing depends on the daemon (no session, no routes or DNS installed): only then
   * may a CLI of another version replace it.
   */
  idle: boolean;
}

export interface Empty {}

/**
 * One step of a long operation (installing the traffic manager, connecting), streamed to the CLI
 * as it happens. Shown as a live line on a terminal, plain lines otherwise, and collected into
 * the `events` array of the `--output json` document.
 */
export interface ProgressEvent {
  /** One line for humans, e.g. "waiting for Traffic Manager in namespace x to be ready (3s)". */
  message: string;
  /** Something the user should read even when the operation succeeds (a version warning). */
  warning?: boolean;
}

/** `telepresence loglevel LEVEL [-d DURATION]`, sent to both daemons. */
export interface SetLogLevelRequest {
  /** A level as 2.x names it: trace, debug, info, warning (or warn), error. */
  level: string;
  /** Milliseconds until the daemon goes back to its configured level; absent or 0: until changed again. */
  durationMs?: number;
}
