// Topic: what a manager is and what it can do. Clients decide which paths to use from
// `capabilities`, never from error text or status codes.
import type { Empty } from '../common.js';
import type { Unary } from './kinds.js';

/**
 * What a manager may announce. A client lists what it needs and refuses a manager lacking any of
 * them with a message naming it (see the user daemon's manager session).
 */
export type ManagerCapability =
  /** The TCP stream tunnel on MANAGER_TCP_PORT (tunnel.ts). */
  | 'tcp-stream'
  /** UDP flows: the raw route `POST /udp` (tunnel.ts). */
  | 'udp'
  /** Cluster DNS: the raw route `POST /dns` (../dns.ts). */
  | 'dns'
  /** Client sessions with leases: arrive / remain / depart / sessions watch (sessions.ts). */
  | 'sessions'
  /** Global intercepts: agents injected by the manager's webhook, the intercepts topic (intercepts.ts), the park/dial verbs of the TCP tunnel (tunnel.ts). */
  | 'intercepts'
  /** Personal intercepts: InterceptSpec.filter honoured (a manager without it would take the port whole). */
  | 'personal-intercepts'
  /** Argo Rollouts (argoproj.io/v1alpha1) as a workload kind, where the cluster serves them. */
  | 'argo-rollouts'
  /** Park lines carry the daemon's port-forward generation; newer parks retire older idle ones (tunnel.ts). */
  | 'park-generations';

/** Everything a manager of this build serves; the manager announces exactly this list. */
export const MANAGER_CAPABILITIES: readonly ManagerCapability[] = ['tcp-stream', 'udp', 'dns', 'sessions', 'intercepts', 'personal-intercepts', 'argo-rollouts', 'park-generations'];

/** `version` on the manager (and agent) API port. */
export interface ManagerVersion {
  /** "Traffic Manager" or "Traffic Agent". */
  name: string;
  version: string;
  apiVersion: number;
  /**
   * What this manager serves. Unknown names are ignored by clients (a newer manager of the same
   * series may announce more). Absent means none.
   */
  capabilities?: string[];
  /** The traffic-agent image a manager injects (its own image, so the agent is of its version). */
  agentImage?: string;
}

export interface VersionContract {
  version: Unary<Empty, ManagerVersion>;
}
