// kubectl as the cluster admin, run inside the node's network namespace (the API server's
// address is not routable from the host namespace, on purpose).
import { join } from 'node:path';
import { type Layout, netnsPath } from './layout.js';
import { run, type RunOptions, type RunResult } from './proc.js';

export function kubectlPath(l: Layout): string {
  return join(l.binDir, 'kubectl');
}

/** Dir put first on PATH for `exec`/wsExec/nodeExec: holds a link to our kubectl. */
export function toolsBinDir(l: Layout): string {
  return join(l.stateDir, 'bin');
}

/** kubectl's discovery/HTTP cache, kept in the state dir instead of ~/.kube/cache. */
export function kubeCacheDir(l: Layout): string {
  return join(l.stateDir, 'kube-cache');
}

export function kubectl(l: Layout, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = { ...process.env, KUBECACHEDIR: kubeCacheDir(l), ...opts.env };
  return run('nsenter', [`--net=${netnsPath(l.netns.node)}`, '--', kubectlPath(l), `--kubeconfig=${l.adminKubeconfig}`, ...args], { ...opts, env });
}
