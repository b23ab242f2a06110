// The commands that read the cluster themselves (list-namespaces, gather-logs): the kubeconfig
// flags as connect and helm spell them, the same kubeconfig loading, and API failures as one line.
// Loaded with import() by those commands: the Kubernetes client is not what every command needs at start.
import { clusterError } from '@tel/errors';
import { httpStatusOf } from '../../kube/portforward.js';
import { loadKubeconfig, type LoadedKubeconfig } from '../../kube/kubeconfig.js';
import { kubeconfigSource, type CommandContext, type KubeOptions } from '../command.js';

// Named, not `import('@kubernetes/client-node')` in the commands: a namespace import would keep
// every API of the client in the bundle.
export { CoreV1Api } from '@kubernetes/client-node';

/** How long one read of the API server may take before the command gives up with a line saying so. */
export const KUBE_READ_TIMEOUT_MS = 30_000;

export function kubeFor(ctx: CommandContext, opts: KubeOptions): LoadedKubeconfig {
  return loadKubeconfig(kubeconfigSource(ctx.env, opts));
}

/**
 * One API read, bounded in time and by Ctrl-C; a failure becomes a cluster error saying `what`
 * failed (`list namespaces`), and for 403 which permission to ask for.
 */
export async function kubeRead<T>(kube: LoadedKubeconfig, what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${KUBE_READ_TIMEOUT_MS / 1000} s`)), KUBE_READ_TIMEOUT_MS);
    signal?.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
  });
  try {
    return await Promise.race([call(), bounded]);
  } catch (err) {
    const status = httpStatusOf(err);
    if (status === 403) throw clusterError(`not allowed to ${what} (context ${kube.contextName})`, `ask your cluster admin for permission to ${what}`);
    if (status === 401) throw clusterError(`the API server refused the credentials of context ${kube.contextName} (401) to ${what}`, 'renew them, e.g. log in again, and check with kubectl');
    const detail = String((err as { body?: unknown }).body ?? (err as Error).message ?? err).split('\n')[0];
    throw clusterError(`cannot ${what} at ${kube.server}: ${detail}`, 'check that the cluster is reachable with kubectl');
  } finally {
    clearTimeout(timer);
  }
}
