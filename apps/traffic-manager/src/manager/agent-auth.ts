// Who an agent is: it presents its projected service-account token (audience AGENT_TOKEN_AUDIENCE)
// and the API server says whose it is (TokenReview). The agent port will run this before serving
// any agent call; the manager's ClusterRole allows creating tokenreviews for it.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig, type V1TokenReviewStatus } from '@kubernetes/client-node';
import { AGENT_TOKEN_AUDIENCE } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { RequestError } from './router.js';

export interface AgentIdentity {
  namespace: string;
  serviceAccount: string;
  /** The pod the token was bound to, when the API server says (bound tokens do). */
  pod?: string;
}

const SA_PREFIX = 'system:serviceaccount:';
const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
/** How long a reviewed token is trusted without asking again (bound tokens live an hour or more). */
const CACHE_MS = 60_000;

const refused = (why: string) => new RequestError('unauthenticated', 'user', `agent token refused: ${why}`, 'the agent must present its projected service-account token for the traffic manager');

/** The identity in a TokenReview's status; refuses anything but an authenticated service account. */
export function identityFromReview(status: V1TokenReviewStatus | undefined): AgentIdentity {
  if (!status?.authenticated) throw refused(status?.error || 'not authenticated');
  const username = status.user?.username ?? '';
  if (!username.startsWith(SA_PREFIX)) throw refused(`${JSON.stringify(username)} is not a service account`);
  const [namespace, serviceAccount, ...rest] = username.slice(SA_PREFIX.length).split(':');
  if (!namespace || !serviceAccount || rest.length) throw refused(`malformed service account name ${JSON.stringify(username)}`);
  const pod = status.user?.extra?.[POD_NAME_EXTRA]?.[0];
  return { namespace, serviceAccount, ...(pod ? { pod } : {}) };
}

/** Checks agent tokens with the API server; answers for the same token are reused for a minute. */
export function agentAuthenticator(kc: KubeConfig, log: Logger, audience = AGENT_TOKEN_AUDIENCE): (token: string) => Promise<AgentIdentity> {
  const api = kc.makeApiClient(AuthenticationV1Api);
  const cache = new Map<string, { at: number; identity: AgentIdentity }>();
  return async (token) => {
    if (!token) throw refused('no token');
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < CACHE_MS) return hit.identity;
    const review = await api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } } });
    let identity: AgentIdentity;
    try {
      identity = identityFromReview(review.status);
      // The API server lists the audiences the token is valid for among those asked; ours must be one.
      if (!(review.status?.audiences ?? []).includes(audience)) throw refused(`not minted for audience ${audience}`);
    } catch (err) {
      log.warn('agent token refused', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    for (const [k, v] of cache) if (now - v.at >= CACHE_MS) cache.delete(k);
    cache.set(key, { at: now, identity });
    return identity;
  };
}
