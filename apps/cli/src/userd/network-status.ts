// The root daemon's network status as the IPC layer delivers it; a module of its own so that
// `telepresence status` reads it without loading the session (and the Kubernetes client).
import type { NetworkStatus } from '@tel/contracts';

/** The IPC layer carries a null result as `{}`: anything without routes is "no network". */
export function asNetworkStatus(v: NetworkStatus | null | undefined): NetworkStatus | null {
  return v && Array.isArray(v.routedSubnets) ? v : null;
}
