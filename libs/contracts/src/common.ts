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
