// What a TokenReview's answer means for an agent (pure; the real API server is asked in the
// cluster e2e, apps/cli/src/userd/e2e/manager-session.e2e.spec.ts).
import { describe, expect, it } from 'vitest';
import { identityFromReview } from './agent-auth.js';

describe('identityFromReview', () => {
  it('an authenticated service account, with the pod of a bound token', () => {
    expect(identityFromReview({ authenticated: true, user: { username: 'system:serviceaccount:shop:web', extra: { 'authentication.kubernetes.io/pod-name': ['web-7d9f'] } } })).toEqual({
      namespace: 'shop',
      serviceAccount: 'web',
      pod: 'web-7d9f',
    });
    expect(identityFromReview({ authenticated: true, user: { username: 'system:serviceaccount:shop:web' } })).toEqual({ namespace: 'shop', serviceAccount: 'web' });
  });

  it.each([
    [undefined, 'agent token refused: not authenticated'],
    [{ authenticated: false, error: 'token has expired' }, 'agent token refused: token has expired'],
    [{ authenticated: true, user: { username: 'alice' } }, 'agent token refused: "alice" is not a service account'],
    [{ authenticated: true, user: { username: 'system:serviceaccount:shop' } }, 'agent token refused: malformed service account name "system:serviceaccount:shop"'],
    [{ authenticated: true, user: { username: 'system:serviceaccount:a:b:c' } }, 'agent token refused: malformed service account name "system:serviceaccount:a:b:c"'],
  ])('%j is refused with code unauthenticated', (status, message) => {
    expect(() => identityFromReview(status)).toThrow(expect.objectContaining({ code: 'unauthenticated', message }));
  });
});
