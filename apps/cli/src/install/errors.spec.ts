import { describe, expect, it } from 'vitest';
import { formatError } from '@tel/errors';
import { KubeApiError } from '../kube/api.js';
import { apiError, apiMessage, forbiddenError, statusOf } from './errors.js';
import { mismatchError } from './install.js';

describe('messages a person can act on', () => {
  it('a missing namespaced permission', () => {
    const e = forbiddenError([{ verb: 'create', resource: 'deployments', group: 'apps', namespace: 'ambassador' }], 'install');
    expect(formatError(e.toInfo())).toBe("you may not create deployments in namespace ambassador (forbidden); ask a cluster admin to run 'telepresence helm install'");
    expect(e.category).toBe('cluster');
  });

  it('several missing permissions, cluster-scoped ones named as such', () => {
    const e = forbiddenError(
      [
        { verb: 'delete', resource: 'deployments', group: 'apps', namespace: 'x' },
        { verb: 'delete', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
      ],
      'uninstall',
    );
    expect(formatError(e.toInfo())).toBe("you may not delete deployments in namespace x (forbidden) and 1 more (clusterroles); ask a cluster admin to run 'telepresence helm uninstall'");
  });

  it('a 403 from any call becomes the permission message', () => {
    const err = new KubeApiError(403, { kind: 'Status', message: 'deployments.apps is forbidden' }, 'GET /apis/apps/v1/namespaces/ns1/deployments/x');
    expect(apiError(err, { verb: 'get', resource: 'deployments', group: 'apps', namespace: 'ns1' }, 'install').message).toBe('you may not get deployments in namespace ns1 (forbidden)');
  });

  it('other API errors carry the server message and status', () => {
    const err = new KubeApiError(422, { message: 'Service "a" is invalid' }, 'PATCH /api/v1/namespaces/n/services/a');
    expect(apiError(err, { verb: 'patch', resource: 'services', group: '', namespace: 'n' }, 'install').message).toBe('could not patch services in namespace n: Service "a" is invalid (HTTP 422)');
    expect(apiMessage({ body: { message: 'obj' } })).toBe('obj');
    expect(apiMessage({ body: 'plain text' })).toBe('plain text');
  });

  it('a network failure has no status: its code is a string', () => {
    expect(statusOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(statusOf(new KubeApiError(404, undefined, 'GET /x'))).toBe(404);
    expect(apiMessage(new KubeApiError(404, undefined, 'GET /x'))).toBe('GET /x: HTTP 404: Not Found');
  });

  it('an unreachable API server says so', () => {
    const e = apiError(new Error('connect ECONNREFUSED 198.18.0.1:6443'), { verb: 'get', resource: 'deployments', group: 'apps', namespace: 'a' }, 'install');
    expect(e.message).toBe('cannot reach the Kubernetes API to get deployments in namespace a: connect ECONNREFUSED 198.18.0.1:6443');
  });

  it('a version mismatch is one line naming both versions and what to do', () => {
    const e = mismatchError({ installed: true, ready: true, version: 'v2.5.4' }, 'ambassador', 'v2.6.0', 'v2.5.4 and v2.6.0 are different release series');
    const line = formatError(e.toInfo());
    expect(line).toBe(
      "Traffic Manager v2.5.4 runs in namespace ambassador, this client is v2.6.0 (v2.5.4 and v2.6.0 are different release series); have someone allowed to update namespace ambassador run 'telepresence helm upgrade' with a v2.6.0 client, or use a v2.5.4 client",
    );
    expect(line.includes('\n')).toBe(false);
  });
});
