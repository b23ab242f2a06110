// Boundary: client (user daemon) → traffic manager, reached through the Kubernetes port-forward.
// CLUSTER-FACING: must stay backward compatible; add optional fields, never change meanings.

/** `GET /version` on the manager (and agent) API port. */
export interface ManagerVersion {
  /** "Traffic Manager" or "Traffic Agent". */
  name: string;
  version: string;
  apiVersion: number;
}

/** Port the manager's API listens on inside its pod. */
export const MANAGER_API_PORT = 8081;
/** Port the agent's API listens on inside the intercepted pod. */
export const AGENT_API_PORT = 9900;
