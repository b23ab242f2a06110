// Topic: intercepts and agents, as clients see them. A client puts the intercepts it wants into
// its session's desired state (sessions.ts `setDesired`, replayed in full on every arrive); the
// manager installs agents, reports each intercept's state on the client's watch, and drops the
// intercepts of a session whose lease runs out (agents then send traffic to the app again).
import type { Unary, Watch } from './kinds.js';

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'Rollout';

/** One intercept a client wants. `name` is unique within its session (2.x: the intercept's id is session:name). */
export interface InterceptSpec {
  name: string;
  namespace: string;
  workload: string;
  /** The workload's kind when the client knows it (it looked it up); the manager checks it. */
  workloadKind?: WorkloadKind;
  /** The Service to intercept through, when the workload has several. */
  service?: string;
  /** The Service port (number) or its name; absent: the only one. */
  port?: number | string;
  /** Where intercepted connections go on the workstation (127.0.0.1:localPort). */
  localPort: number;
  /**
   * A personal intercept: only the HTTP requests (HTTP/1.1 requests, HTTP/2 streams) this filter
   * matches go to the workstation, every other one to the app. Absent: a global intercept (every
   * connection). Several personal intercepts may share a port; a global one takes it alone.
   */
  filter?: HttpFilterSpec;
}

/** The 2.x flags of a personal intercept, as the user gave them (@tel/agent-config parseFilter reads them). */
export interface HttpFilterSpec {
  /** `NAME=VALUE` each (--http-header); all must match. NAME is case-insensitive, VALUE a regular expression for the whole value. */
  headers?: string[];
  /** --http-path-equal */
  pathEqual?: string;
  /** --http-path-prefix */
  pathPrefix?: string;
  /** --http-path-regex: a regular expression for the whole path. */
  pathRegex?: string;
}

/**
 * An intercept's life: `installing` (the agent is being added: pods rolling), `active` (every
 * ready pod of the workload runs our agent and sends this port's connections to the client),
 * `failed` (message says why and what to do; nothing is intercepted).
 */
export type InterceptState = 'installing' | 'active' | 'failed';

export interface InterceptInfo {
  /** Manager-assigned id, unique for the intercept's life (the tunnel's dial line names it). */
  id: string;
  spec: InterceptSpec;
  /** The session that owns it, and who that is. */
  sessionId: string;
  client: { user: string; host: string };
  state: InterceptState;
  /** installing: the step being waited for ("rollout 1/2 pods ready"); failed: why, with a hint. */
  message?: string;
  hint?: string;
  /** The Service port resolved on the manager's side. */
  service?: string;
  servicePort?: number;
  servicePortName?: string;
  /** The pods' app port the agent stands in front of. */
  appPort?: number;
  /** Ready pods with our agent / pods the workload wants. */
  podsReady?: number;
  podsWanted?: number;
  /** ISO time it became active. */
  activeSince?: string;
  /**
   * The app container's environment as one agent of the workload sees it (ConfigMap, Secret and
   * downward-API values resolved by the kubelet), once an agent has reported it.
   */
  environment?: Record<string, string>;
  /** Why `failed`, machine-readable (clients act on it, never on the message). */
  code?: InterceptErrorCode;
}

export type InterceptErrorCode =
  | 'no-workload'
  | 'not-interceptable'
  | 'no-port'
  | 'port-taken'
  | 'not-http'
  | 'agent-version-in-use'
  | 'webhook-not-called'
  | 'image-pull'
  | 'crash-loop'
  | 'rollout-timeout'
  | 'forbidden'
  | 'internal';

/** One workload's agent as the manager knows it (from its pods and the agents that arrived). */
export interface AgentInfo {
  namespace: string;
  workload: string;
  kind: WorkloadKind;
  /** The version of the agents that arrived (several while a rollout replaces them). */
  versions: string[];
  /** Pods whose agent is connected to this manager. */
  pods: string[];
}

export interface InterceptsContract {
  /** The intercepts of one session, again after every change, until the client cancels. */
  watchIntercepts: Watch<{ sessionId: string }, { intercepts: InterceptInfo[] }>;
  /** Every intercept the manager holds (all sessions), optionally of one namespace: `list`. */
  listIntercepts: Unary<{ namespace?: string }, { intercepts: InterceptInfo[] }>;
  /** The workloads that have agents, optionally of one namespace: `list --agents`, `version`. */
  listAgents: Unary<{ namespace?: string }, { agents: AgentInfo[] }>;
  /**
   * Remove the agent of workloads (pod templates back to exactly what they were). Refused for a
   * workload with someone else's active intercept; the caller's own intercepts there end.
   */
  uninstallAgents: Unary<{ sessionId: string; namespace: string; workloads?: string[]; all?: boolean }, { removed: { namespace: string; workload: string }[] }>;
}
