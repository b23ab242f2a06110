// kubectl as the cluster admin, run inside the node's network namespace (the API server's
// address is not routable from the host namespace, on purpose).
import { join } from 'node:path';
import { type Layout, netnsPath } from './layout.js';
import { run, type RunOptions, type RunResult } from './proc.js';

export function kubectlPath(l: Layout): string {
  return join(l.binDir, 'kubectl');
}

export function kubectl(l: Layout, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('nsenter', [`--net=${netnsPath(l.netns.node)}`, '--', kubectlPath(l), `--kubeconfig=${l.adminKubeconfig}`, ...args], opts);
}
