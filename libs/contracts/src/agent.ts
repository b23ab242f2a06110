// Boundary: traffic agent ↔ traffic manager. CLUSTER-FACING: stays backward compatible within a
// release series.
//
// Control: the agent's HTTP/2 calls on MANAGER_AGENT_PORT (pod network). Every call carries the
// agent's projected service-account token (AGENT_TOKEN_AUDIENCE) in `authorization: Bearer`, which
// the manager checks with a TokenReview; the token's namespace must be the pod's.
// Data: one TCP connection per intercepted connection to MANAGER_AGENT_TUNNEL_PORT (see
// AGENT_TUNNEL_PREFIX): the agent session id the manager issued at arrive is its credential there.
import type { RouteTable, Unary, Watch } from './manager/kinds.js';
import type { HttpFilterSpec, WorkloadKind } from './manager/intercepts.js';

/**
 * The audience of the projected service-account token an agent presents (a token minted for any
 * other audience, e.g. the API server's, is refused), so a token leaked from elsewhere in the
 * pod cannot be replayed here and ours is useless anywhere else.
 */
export const AGENT_TOKEN_AUDIENCE = 'telepresence-traffic-manager';
/** The header carrying it: `authorization: Bearer <token>`. */
export const AGENT_TOKEN_HEADER = 'authorization';

export interface AgentArriveRequest {
  pod: string;
  podIp: string;
  namespace: string;
  workload: { kind: WorkloadKind; name: string };
  /** The agent's build version (the manager reports agents of another version). */
  version: string;
  /** The hash of the agent config the pod was injected with (@tel/agent-config configHash). */
  configHash: string;
  /** The app container's environment as the kubelet resolved it (TEL_AGENT_* left out). */
  environment: Record<string, string>;
}

export interface AgentLease {
  /**
   * The agent's session, alive while its `watchAgentIntercepts` stream is open (a manager that
   * restarts loses it: the agent arrives again). Also its credential on the data port.
   */
  agentSessionId: string;
}

/**
 * An active intercept of this agent's workload: connections to `agentPort` go to its client, or
 * with a filter (a personal intercept) the HTTP requests on them that it matches.
 */
export interface AgentIntercept {
  id: string;
  agentPort: number;
  /** Who, for the agent's log. */
  client: string;
  filter?: HttpFilterSpec;
}

export interface AgentContract {
  agentArrive: Unary<AgentArriveRequest, AgentLease>;
  /**
   * The active intercepts of the agent's workload, again after every change. The agent session
   * ends when this stream ends; an agent whose watch breaks sends everything to the app and
   * arrives again.
   */
  watchAgentIntercepts: Watch<{ agentSessionId: string }, { intercepts: AgentIntercept[] }>;
}

export const AGENT_ROUTES: RouteTable<AgentContract> = {
  agentArrive: { kind: 'unary', http: 'POST', path: '/agent/arrive' },
  watchAgentIntercepts: { kind: 'watch', path: '/agent/intercepts/watch' },
};

/**
 * The data port's request line, agent → manager: `TEL-AGENT/1 <agentSessionId> <interceptId>
 * <srcIp> <srcPort>\n` (the in-cluster peer that connected). Then the TCP stream tunnel protocol
 * (manager/tunnel.ts) from its step 2, with the agent as the client: `OK\n` or `ERR <reason>\n`
 * (from the manager when the intercept or its client is gone, or from the client's user daemon
 * when its local port refuses), then framed data both ways. The agent may send frames right after
 * its line; it keeps what it sent until `OK`, so on `ERR` it hands the connection, those bytes
 * first, to the app container: a connection is never dropped because a laptop went away.
 */
export const AGENT_TUNNEL_PREFIX = 'TEL-AGENT/1';
