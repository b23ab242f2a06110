// The Kubernetes side of install: reading and applying objects
// generically (server-side apply, so re-running install repairs whatever is missing), RBAC checks.
import type { KubeConfig, V1SelfSubjectAccessReview } from '@kubernetes/client-node';
import { kubeApi, resourcePath, type KubeApi } from '../kube/api.js';
import { apiError, statusOf, type HelmAction, type Permission } from './errors.js';
import { RESOURCES, type KubeObject } from './manifests.js';

export const FIELD_MANAGER = 'telepresence';

export function permissionFor(obj: KubeObject, verb: string): Permission {
  const r = RESOURCES[obj.kind];
  if (!r) throw new Error(`no resource mapping for kind ${obj.kind}`);
  return { verb, resource: r.resource, group: r.group, ...(r.namespaced && obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}) };
}

/** Where `obj` lives in the API (RESOURCES gives the plural and whether the kind is namespaced). */
export function objectPath(obj: KubeObject): string {
  const r = RESOURCES[obj.kind];
  if (!r) throw new Error(`no resource mapping for kind ${obj.kind}`);
  return resourcePath(obj.apiVersion, r.resource, r.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
}

/** The permissions of `perms` the current user lacks, asked of the API server (SelfSubjectAccessReview). */
export async function missingPermissions(kc: KubeConfig, perms: Permission[], action: HelmAction): Promise<Permission[]> {
  const api = kubeApi(kc);
  const answers = await Promise.all(
    perms.map(async (p) => {
      try {
        const review: V1SelfSubjectAccessReview = {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { verb: p.verb, resource: p.resource, group: p.group, ...(p.namespace ? { namespace: p.namespace } : {}) } },
        };
        const r = await api.create<V1SelfSubjectAccessReview>(resourcePath('authorization.k8s.io/v1', 'selfsubjectaccessreviews'), review);
        return r.status?.allowed === true;
      } catch (err) {
        throw apiError(err, { verb: 'create', resource: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' }, action);
      }
    }),
  );
  return perms.filter((_, i) => !answers[i]);
}

export class ObjectStore {
  private readonly api: KubeApi;

  constructor(
    kc: KubeConfig,
    private readonly action: HelmAction,
  ) {
    this.api = kubeApi(kc);
  }

  /** The live object, or undefined when it does not exist. */
  async read(obj: KubeObject): Promise<KubeObject | undefined> {
    try {
      return await this.api.get<KubeObject>(objectPath(obj));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw apiError(err, permissionFor(obj, 'get'), this.action);
    }
  }

  /** Creates or updates `obj` to exactly our fields (server-side apply, our field manager, forced). */
  async apply(obj: KubeObject): Promise<void> {
    try {
      await this.api.patch(objectPath(obj), obj, 'apply', { fieldManager: FIELD_MANAGER, force: true });
    } catch (err) {
      throw apiError(err, permissionFor(obj, statusOf(err) === 403 ? 'create' : 'patch'), this.action);
    }
  }

  /** Deletes `obj`; true when it existed. */
  async delete(obj: KubeObject): Promise<boolean> {
    try {
      await this.api.delete(objectPath(obj), { propagationPolicy: 'Background' });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw apiError(err, permissionFor(obj, 'delete'), this.action);
    }
  }
}
