// The user daemon's view of "make sure a usable traffic manager runs" (install/upgrade and the
// version policy live in apps/cli/src/install; this file only names the signature the session uses).
import type { KubeConfig } from '@kubernetes/client-node';

export interface EnsureManagerOptions {
  namespace: string;
  /** Image to install when the manager is absent (or must be upgraded). */
  image: string;
  /** The client's version: what the version policy compares the running manager with. */
  version: string;
  /** False when the session must not install or change the manager. */
  mayInstall: boolean;
  timeoutMs: number;
  onProgress?: (message: string) => void;
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

