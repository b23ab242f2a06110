// Boundary: traffic agent ↔ traffic manager, over the manager's agent port (MANAGER_AGENT_PORT,
// on the pod network). CLUSTER-FACING: stays backward compatible within a release series.
// Every agent call will carry the agent's projected service-account token, checked by the manager
// with a TokenReview. No methods yet: intercepts add them (arrive, remain, intercept watch).
import type { RouteTable } from './manager/kinds.js';

/**
 * The audience of the projected service-account token an agent presents (a token minted for any
 * other audience, e.g. the API server's, is refused), so a token leaked from elsewhere in the
 * pod cannot be replayed here and ours is useless anywhere else.
 */
export const AGENT_TOKEN_AUDIENCE = 'telepresence-traffic-manager';
/** The header carrying it: `authorization: Bearer <token>`. */
export const AGENT_TOKEN_HEADER = 'authorization';

/** Method name → Unary | Watch (manager/kinds.ts), as in the manager contract. */
export type AgentContract = Record<never, never>;

export const AGENT_ROUTES: RouteTable<AgentContract> = {};
