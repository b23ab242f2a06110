// The commands that read the cluster themselves (list-namespaces, gather-logs): the kubeconfig
// flags as connect and helm spell them, the same kubeconfig loading, and API failures as one line.
// Loaded with import() by those commands: the Kubernetes client is not what every command needs at start.
import { clusterError } from '@tel/errors';
import { apiMessage, statusOf } from '../../install/errors.js';
import { loadKubeconfig, type LoadedKubeconfig } from '../../kube/kubeconfig.js';
import { kubeconfigSource, type CommandContext, type KubeOptions } from '../command.js';

export { kubeApi, resourcePath } from '../../kube/api.js';

/** How long one read of the API server may take before the command gives up with a line saying so. */
export const KUBE_READ_TIMEOUT_MS = 30_000;

export function kubeFor(ctx: CommandContext, opts: KubeOptions): LoadedKubeconfig {
  return loadKubeconfig(kubeconfigSource(ctx.env, opts));
}

/**
 * One API read, bounded in time and by Ctrl-C (the signal `call` gets ends its request); a failure
 * becomes a cluster error saying `what` failed (`list namespaces`), and for 403 which permission to ask for.
 */
export async function kubeRead<T>(kube: LoadedKubeconfig, what: string, call: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onCancel = () => abort.abort(new Error('cancelled'));
  const bounded = new Promise<never>((_, reject) => {
    abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true });
    timer = setTimeout(() => abort.abort(new Error(`no answer within ${KUBE_READ_TIMEOUT_MS / 1000} s`)), KUBE_READ_TIMEOUT_MS);
    if (signal?.aborted) onCancel();
    else signal?.addEventListener('abort', onCancel, { once: true });
  });
  try {
    return await Promise.race([call(abort.signal), bounded]);
  } catch (err) {
    const status = statusOf(err);
    if (status === 403) throw clusterError(`not allowed to ${what} (context ${kube.contextName})`, `ask your cluster admin for permission to ${what}`);
    if (status === 401) throw clusterError(`the API server refused the credentials of context ${kube.contextName} (401) to ${what}`, 'renew them, e.g. log in again, and check with kubectl');
    const detail = status === undefined ? String((err as Error).message ?? err).split('\n')[0] : `${apiMessage(err)} (HTTP ${status})`;
    throw clusterError(`cannot ${what} at ${kube.server}: ${detail}`, 'check that the cluster is reachable with kubectl');
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCancel);
  }
}
