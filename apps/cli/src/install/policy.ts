// The compatibility policy between a client and a running traffic manager of another version.
// The client→manager contract is cluster-facing and backward compatible *within an API version*,
// so a manager of the same release series speaking the same API is good enough to connect to;
// anything else is refused, never replaced behind the user's back (a replaced manager breaks the
// sessions of every client of the other version).
import { parseVersion } from '@tel/version';

export interface PeerVersion {
  version: string;
  /** Client→manager API version; undefined when the Deployment does not say (older installs). */
  apiVersion?: number;
}

export type Compatibility =
  | { verdict: 'same' }
  | { verdict: 'compatible'; warning: string }
  | { verdict: 'incompatible'; reason: string };

/**
 * Policy, in order:
 * 1. identical version strings → same;
 * 2. either is not `v` + semver → incompatible (cannot reason about it);
 * 3. major version 0 (dev and untagged builds) → incompatible: no compatibility promise before 1.0;
 * 4. manager API version unknown or different → incompatible;
 * 5. same major.minor → compatible: connect, with a warning naming both versions;
 * 6. otherwise → incompatible.
 */
export function checkCompatibility(client: Required<PeerVersion>, manager: PeerVersion): Compatibility {
  if (client.version === manager.version) return { verdict: 'same' };
  const c = parseVersion(client.version);
  const m = parseVersion(manager.version);
  if (!c || !m) return { verdict: 'incompatible', reason: `${!c ? client.version : manager.version} is not a release version` };
  if (c.major === 0 || m.major === 0) return { verdict: 'incompatible', reason: 'pre-1.0 and development builds must match exactly' };
  if (manager.apiVersion === undefined) return { verdict: 'incompatible', reason: 'the manager does not state its API version' };
  if (manager.apiVersion !== client.apiVersion) {
    return { verdict: 'incompatible', reason: `the manager speaks API v${manager.apiVersion}, this client v${client.apiVersion}` };
  }
  if (c.major === m.major && c.minor === m.minor) {
    return {
      verdict: 'compatible',
      warning: `Traffic Manager ${manager.version} differs from this client ${client.version}; connecting anyway (same ${c.major}.${c.minor} series, API v${client.apiVersion})`,
    };
  }
  return { verdict: 'incompatible', reason: `${manager.version} and ${client.version} are different release series` };
}
