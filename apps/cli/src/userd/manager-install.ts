// The user daemon's view of "make sure a usable traffic manager runs" (install/upgrade and the
// version policy live in apps/cli/src/install; this file only names the signature the session uses).
import type { KubeConfig } from '@kubernetes/client-node';
import type { ProgressEvent } from '@tel/contracts';

export interface EnsureManagerOptions {
  namespace: string;
  /** Image to install when the manager is absent (or must be upgraded). */
  image: string;
  /** The client's version: what the version policy compares the running manager with. */
  version: string;
  /** False when the session must not install or change the manager. */
  mayInstall: boolean;
  timeoutMs: number;
  /** Human lines; one starting with "warning: " is a warning (see `progressEvent`). */
  onProgress?: (message: string) => void;
  /** Aborted when the caller cancels (Ctrl-C in the CLI, or the CLI went away). */
  signal?: AbortSignal;
}

export interface EnsureManagerResult {
  /** The manager's version after the call. */
  version: string;
  /** What was done, e.g. "installed", "upgraded", "unchanged". */
  action: string;
  /** Set when connecting to a compatible manager of another version. */
  warning?: string;
}

export type EnsureManager = (kc: KubeConfig, opts: EnsureManagerOptions) => Promise<EnsureManagerResult>;


/** An install progress line as the event streamed to the CLI. */
export function progressEvent(message: string): ProgressEvent {
  return message.startsWith('warning: ') ? { message, warning: true } : { message };
}
