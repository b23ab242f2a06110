// What the cluster benchmarks share: the embedded cluster with dist/ built for its registry,
// kubectl as its admin, and a workstation user of their own (home, runtime, cache, config dirs).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureClusterUp, type ClusterInfo } from '@tel/testcluster';
import { readBuildInfo, workspaceRoot, type BuildInfo } from '@tel/genversion';

export interface BenchCluster {
  cluster: ClusterInfo;
  info: BuildInfo;
  kubectl(args: string[], input?: string): Promise<string>;
}

export async function benchCluster(): Promise<BenchCluster> {
  const cluster = await ensureClusterUp();
  const info = readBuildInfo(workspaceRoot());
  if (info.registry !== cluster.registry) throw new Error(`dist/ was built for ${info.registry}; run 'bash scripts/main.sh' first (builds for ${cluster.registry})`);
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.wsExec('kubectl', args, { timeoutMs: 180_000, ...(input ? { input } : {}) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  return { cluster, info, kubectl };
}

/** A workstation user under the cluster's state dir, connecting as the admin. */
export function benchUser(cluster: ClusterInfo, name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = join(cluster.stateDir, name);
  const env: NodeJS.ProcessEnv = {
    HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config'),
    TELEPRESENCE_ROOT_RUN_DIR: join(home, 'rootrun'), KUBECONFIG: cluster.adminKubeconfig, ...extra,
  };
  for (const d of [env.XDG_RUNTIME_DIR!, env.XDG_CACHE_HOME!, env.XDG_CONFIG_HOME!, env.TELEPRESENCE_ROOT_RUN_DIR!]) mkdirSync(d, { recursive: true, mode: 0o700 });
  return env;
}
