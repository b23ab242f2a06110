// Installing, upgrading and removing the traffic manager, and `ensureManager`, which the session
// owner calls on connect: install when absent (if the user may), wait until ready, and never
// replace a manager of another version behind anyone's back: clients of different versions that
// replace each other's manager break each other's sessions.
import type { KubeConfig, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { kubeApi, resourcePath } from '../kube/api.js';
import { clusterError, TelError } from '@tel/errors';
import { API_VERSIONS } from '@tel/version';
import { apiError, forbiddenError, statusOf, type HelmAction } from './errors.js';
import { missingPermissions, ObjectStore, permissionFor } from './kube.js';
import { MANAGED_BY, MANAGED_BY_LABEL, MANAGER_NAME, NAME_LABEL, managerCreatedObjects, managerObjects, type KubeObject } from './manifests.js';
import { checkCompatibility } from './policy.js';
import { getManagerState, podSummary, readManagerDeployment, stateOfDeployment, type ManagerState } from './state.js';

export interface InstallOptions {
  namespace: string;
  /** Image to run, `resolveImage(config, buildVersion).image`. */
  image: string;
  /** The client's version; the manager installed is of this version. */
  version: string;
  /** The client's client→manager API version (default: this build's). */
  apiVersion?: number;
  /** How long to wait for the Deployment to become ready (default 120 s). */
  timeoutMs?: number;
  onProgress?: (message: string) => void;
  /** Aborting it (Ctrl-C in the CLI) stops the waiting; what was applied stays applied. */
  signal?: AbortSignal;
}

export interface EnsureOptions extends InstallOptions {
  /** Whether this user/flow may install a manager when none runs. */
  mayInstall: boolean;
}

export interface ManagerResult {
  /** The version of the manager that now runs. */
  version: string;
  action: 'none' | 'installed' | 'upgraded';
  /** Set when connecting to a compatible manager of another version. */
  warning?: string;
}

const DEFAULT_TIMEOUT = 120_000;

/** The one-line refusal when a manager of another, incompatible version runs. */
export function mismatchError(state: ManagerState, namespace: string, clientVersion: string, reason: string): TelError {
  return clusterError(
    `Traffic Manager ${state.version ?? '(unknown version)'} runs in namespace ${namespace}, this client is ${clientVersion} (${reason})`,
    `have someone allowed to update namespace ${namespace} run 'telepresence helm upgrade' with a ${clientVersion} client, or use a ${state.version ?? 'matching'} client`,
  );
}

/**
 * What connect calls:
 * 1. read the live Deployment;
 * 2. present: check the compatibility policy; refuse (TelError) or warn; wait until ready;
 * 3. absent: install it when `mayInstall`, else say who can; wait until ready.
 */
export async function ensureManager(kc: KubeConfig, opts: EnsureOptions): Promise<ManagerResult> {
  const client = { version: opts.version, apiVersion: opts.apiVersion ?? API_VERSIONS.trafficManager };
  const state = await getManagerState(kc, opts.namespace);
  if (state.installed) {
    const c = checkCompatibility(client, { version: state.version ?? '', ...(state.apiVersion !== undefined ? { apiVersion: state.apiVersion } : {}) });
    if (c.verdict === 'incompatible') throw mismatchError(state, opts.namespace, opts.version, c.reason);
    if (c.verdict === 'compatible') opts.onProgress?.(`warning: ${c.warning}`);
    if (!state.ready) await waitReady(kc, opts.namespace, state.image ?? opts.image, opts.timeoutMs ?? DEFAULT_TIMEOUT, opts.onProgress, opts.signal);
    return { version: state.version ?? opts.version, action: 'none', ...(c.verdict === 'compatible' ? { warning: c.warning } : {}) };
  }
  if (!opts.mayInstall) {
    throw clusterError(`no Traffic Manager runs in namespace ${opts.namespace}`, `ask a cluster admin to run 'telepresence helm install --manager-namespace ${opts.namespace}'`);
  }
  return applyManager(kc, opts, 'install', state);
}

/** `telepresence helm install`: installs when absent, repairs a same-version install, refuses another version. */
export async function installManager(kc: KubeConfig, opts: InstallOptions): Promise<ManagerResult> {
  return applyManager(kc, opts, 'install');
}

/** `telepresence helm upgrade`: makes the manager exactly this client's version (installs when absent). */
export async function upgradeManager(kc: KubeConfig, opts: InstallOptions): Promise<ManagerResult> {
  return applyManager(kc, opts, 'upgrade');
}

async function namespaceExists(kc: KubeConfig, namespace: string, action: HelmAction): Promise<boolean> {
  const api = kubeApi(kc);
  try {
    await api.get<V1Namespace>(resourcePath('v1', 'namespaces', undefined, namespace));
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    if (statusOf(err) !== 403) throw apiError(err, { verb: 'get', resource: 'namespaces', group: '' }, action);
  }
  // May not get it: maybe list (developer roles often grant `list namespaces` without `get`).
  try {
    const l = await api.list<V1Namespace>(resourcePath('v1', 'namespaces'), { fieldSelector: `metadata.name=${namespace}` });
    return l.items.length > 0;
  } catch {
    return true; // cannot tell: never try to create it; the permission check names what is missing
  }
}

/**
 * Install or upgrade:
 * 1. check every permission first (SelfSubjectAccessReview), so a user without rights gets one
 *    message naming what is missing and nothing is half-created;
 * 2. refuse to replace another version unless upgrading;
 * 3. apply the objects in order; on failure remove what this run created;
 * 4. wait until the Deployment is rolled out and ready.
 */
async function applyManager(kc: KubeConfig, opts: InstallOptions, action: HelmAction, known?: ManagerState): Promise<ManagerResult> {
  const { namespace } = opts;
  const progress = opts.onProgress ?? (() => undefined);
  const apiVersion = opts.apiVersion ?? API_VERSIONS.trafficManager;
  const createNamespace = !(await namespaceExists(kc, namespace, action));
  const objects = managerObjects({ namespace, image: opts.image, version: opts.version, apiVersion, createNamespace });

  // 1. Permissions. Deployments first: that is the permission people recognise.
  progress(`checking permissions in namespace ${namespace}`);
  const order = ['Deployment', 'Service', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'Namespace'];
  const needed = [...objects].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)).flatMap((o) => [permissionFor(o, 'create'), permissionFor(o, 'patch')]);
  const missing = await missingPermissions(kc, needed, action);
  if (missing.length) throw forbiddenError(missing, action);

  // 2. What runs now.
  const state = known ?? (await getManagerState(kc, namespace));
  if (state.installed && state.version !== opts.version && action === 'install') {
    throw clusterError(
      `Traffic Manager ${state.version ?? '(unknown version)'} is already installed in namespace ${namespace} (this client is ${opts.version})`,
      `run 'telepresence helm upgrade' to replace it with ${opts.version}, or use a ${state.version ?? 'matching'} client`,
    );
  }

  // 3. Apply, remembering what did not exist so a failure can take it back.
  const store = new ObjectStore(kc, action);
  const live = await Promise.all(objects.map((o) => store.read(o)));
  const existed = live.map((o) => o !== undefined);
  keepCaBundles(objects, live);
  const created: KubeObject[] = [];
  progress(`${state.installed ? 'updating' : 'installing'} Traffic Manager ${opts.version} in namespace ${namespace}`);
  try {
    for (const [i, obj] of objects.entries()) {
      await store.apply(obj);
      if (!existed[i]) created.push(obj);
    }
  } catch (err) {
    for (const obj of created.reverse()) await store.delete(obj).catch(() => undefined);
    throw err;
  }

  // 4. Ready.
  await waitReady(kc, namespace, opts.image, opts.timeoutMs ?? DEFAULT_TIMEOUT, progress, opts.signal);
  const result: ManagerResult['action'] = !state.installed ? 'installed' : state.version !== opts.version ? 'upgraded' : 'none';
  return { version: opts.version, action: result };
}

type Webhooks = { webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] };

/**
 * The manager fills the caBundle of its webhook configuration with its own CA; applying ours
 * (which has none) must not take it away, or injection stops until the manager puts it back.
 */
function keepCaBundles(objects: KubeObject[], live: (KubeObject | undefined)[]): void {
  objects.forEach((o, i) => {
    if (o.kind !== 'MutatingWebhookConfiguration') return;
    for (const w of (o as Webhooks).webhooks ?? []) {
      const bundle = (live[i] as Webhooks | undefined)?.webhooks?.find((l) => l.name === w.name)?.clientConfig?.caBundle;
      if (bundle && w.clientConfig) w.clientConfig.caBundle = bundle;
    }
  });
}

/** Polls the Deployment until its rollout of `image` is complete and a replica is available. */
export async function waitReady(kc: KubeConfig, namespace: string, image: string, timeoutMs: number, progress?: (m: string) => void, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  let last = '';
  for (;;) {
    if (signal?.aborted) throw cancelledWaiting(namespace);
    const d = await readManagerDeployment(kc, namespace);
    const state = stateOfDeployment(d);
    if (!state.installed) throw clusterError(`the traffic-manager Deployment in namespace ${namespace} disappeared while waiting for it`, 'run the command again');
    if (state.ready && state.image === image) return;
    const pods = await podSummary(kc, namespace);
    const msg = `waiting for Traffic Manager in namespace ${namespace} to be ready (${Math.round((Date.now() - started) / 1000)}s): ${pods.text}`;
    if (msg !== last) progress?.(msg);
    last = msg;
    const tooLong = Date.now() >= deadline;
    if (tooLong || pods.fatal) {
      throw clusterError(
        `Traffic Manager in namespace ${namespace} not ready after ${Math.round((Date.now() - started) / 1000)}s: ${pods.text}`,
        `check that ${image} can be pulled by the cluster; 'kubectl -n ${namespace} describe pod -l ${NAME_LABEL}=${MANAGER_NAME}' shows why`,
      );
    }
    await new Promise<void>((r) => {
      const timer = setTimeout(done, 1000);
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        r();
      }
    });
  }
}

function cancelledWaiting(namespace: string): TelError {
  return new TelError('user', `cancelled while waiting for the Traffic Manager in namespace ${namespace} to be ready`, `it keeps starting in the cluster; run the command again to wait for it, or 'telepresence helm uninstall' to remove it`);
}

export interface UninstallResult {
  /** `Kind/name` of everything removed. */
  removed: string[];
  /** Set when the namespace was created by install but now holds other workloads, so it stays. */
  keptNamespace?: string;
}

/**
 * `telepresence helm uninstall`:
 * 1. check delete permissions; 2. delete every object install creates (Background propagation);
 * 3. delete the namespace only if install created it and nothing else runs there;
 * 4. wait until every object and the manager's pods are gone.
 */
export async function uninstallManager(kc: KubeConfig, opts: { namespace: string; timeoutMs?: number; onProgress?: (m: string) => void }): Promise<UninstallResult> {
  const { namespace } = opts;
  const progress = opts.onProgress ?? (() => undefined);
  const api = kubeApi(kc);
  // What the manager created (its webhook certificate) goes first: it is of no use without it.
  const objects = [...managerCreatedObjects(namespace), ...managerObjects({ namespace, image: 'x', version: 'x', apiVersion: 0, createNamespace: true }).reverse()];
  const missing = await missingPermissions(kc, objects.map((o) => permissionFor(o, 'delete')).filter((p) => p.resource !== 'namespaces'), 'uninstall');
  if (missing.length) throw forbiddenError(missing, 'uninstall');

  const store = new ObjectStore(kc, 'uninstall');
  const removed: string[] = [];
  const result: UninstallResult = { removed };
  for (const obj of objects) {
    if (obj.kind === 'Namespace') continue;
    progress(`deleting ${obj.kind} ${obj.metadata.name}`);
    if (await store.delete(obj)) removed.push(`${obj.kind}/${obj.metadata.name}`);
  }
  const nsObj = objects.find((o) => o.kind === 'Namespace')!;
  const ns = await store.read(nsObj);
  let deleteNs = false;
  if (ns && ns.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) {
    const pods = await api.list<V1Pod>(resourcePath('v1', 'pods', namespace)).catch((err: unknown) => {
      throw apiError(err, { verb: 'list', resource: 'pods', group: '', namespace }, 'uninstall');
    });
    const others = pods.items.filter((p) => p.metadata?.labels?.[NAME_LABEL] !== MANAGER_NAME);
    if (others.length === 0) deleteNs = true;
    else result.keptNamespace = namespace;
  }
  if (deleteNs) {
    progress(`deleting namespace ${namespace}`);
    if (await store.delete(nsObj)) removed.push(`Namespace/${namespace}`);
  }

  // Verify: nothing of ours answers any more.
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT);
  for (;;) {
    const left: string[] = [];
    for (const obj of objects) {
      if (obj.kind === 'Namespace' && !deleteNs) continue;
      if (await store.read(obj)) left.push(`${obj.kind}/${obj.metadata.name}`);
    }
    if (!deleteNs) {
      const pods = await api.list<V1Pod>(resourcePath('v1', 'pods', namespace), { labelSelector: `${NAME_LABEL}=${MANAGER_NAME}` }).catch(() => undefined);
      for (const p of pods?.items ?? []) left.push(`Pod/${p.metadata?.name}`);
    }
    if (left.length === 0) return result;
    if (Date.now() >= deadline) throw clusterError(`uninstall did not finish: ${left.join(', ')} still exist in namespace ${namespace}`, 'run the command again, or look at their finalizers');
    progress(`waiting for ${left.join(', ')} to go away`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
