// Turning Kubernetes API failures into errors a person can act on: a 403 names the verb, the
// resource and the namespace that are missing and who can help; everything else says what failed.
import { clusterError, TelError } from '@tel/errors';

export interface Permission {
  verb: string;
  /** Plural resource, e.g. "deployments". */
  resource: string;
  group: string;
  /** Undefined for cluster-scoped resources. */
  namespace?: string;
}

export type HelmAction = 'install' | 'upgrade' | 'uninstall';

export function describePermission(p: Permission): string {
  return `${p.verb} ${p.resource} ${p.namespace ? `in namespace ${p.namespace}` : 'cluster-wide'}`;
}

/** `you may not create deployments in namespace ambassador (forbidden); ask a cluster admin to run 'telepresence helm install'`. */
export function forbiddenError(missing: Permission[], action: HelmAction): TelError {
  const first = missing[0]!;
  const others = [...new Set(missing.slice(1).map((p) => p.resource))];
  const more = missing.length > 1 ? ` and ${missing.length - 1} more (${others.join(', ')})` : '';
  return clusterError(`you may not ${describePermission(first)} (forbidden)${more}`, `ask a cluster admin to run 'telepresence helm ${action}'`);
}

/**
 * The HTTP status of a failed Kubernetes API call (a KubeApiError, also for a refused port-forward
 * upgrade), when it got an answer; undefined for network failures.
 */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message: the `message` of the Status object it answered (KubeApiError's `body`). */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  const body = e.body;
  // KubeApiError keeps a body that was not a Status object as its text.
  if (typeof body === 'string' && body.trim()) return body.trim();
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  const msg = e.message ?? String(err);
  return msg.split('\n')[0]!;
}

/** Wraps a failed API call as a cluster error naming what we tried; 403s name the permission. */
export function apiError(err: unknown, what: Permission, action: HelmAction): TelError {
  if (err instanceof TelError) return err;
  const status = statusOf(err);
  if (status === 403) return forbiddenError([what], action);
  if (status === undefined) {
    const msg = (err as Error).message ?? String(err);
    return clusterError(`cannot reach the Kubernetes API to ${describePermission(what)}: ${msg.split('\n')[0]}`, 'check your kubeconfig and that the cluster is reachable');
  }
  return clusterError(`could not ${describePermission(what)}: ${apiMessage(err)} (HTTP ${status})`, '');
}
