// Loads the user's kubeconfig the way kubectl does (KUBECONFIG list, else ~/.kube/config; the first
// file defining a name wins), selects the context, and reads the cluster's telepresence.io extension.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Cluster, Context, User } from '@kubernetes/client-node';
// The module itself, not the package's index: the index loads every generated API and model class.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { load } from 'js-yaml';
import { configError, userError } from '@tel/errors';
import { findExtension, parseClusterExtension, type ClusterExtension } from './extension.js';

export interface KubeconfigSource {
  /** The CLI's KUBECONFIG value (a path list), when set. */
  kubeconfigEnv?: string;
  /** Home directory used for the ~/.kube/config default. */
  home: string;
  /** `--context`; else the files' current-context. */
  context?: string;
}

export interface LoadedKubeconfig {
  kc: KubeConfig;
  files: string[];
  contextName: string;
  clusterName: string;
  /** The file that defines the selected cluster (named in extension errors). */
  clusterFile: string;
  /** API server URL of the selected cluster. */
  server: string;
  /** The context's namespace, "default" when it names none. */
  namespace: string;
  extension: ClusterExtension;
}

export function kubeconfigFiles(src: KubeconfigSource): string[] {
  if (src.kubeconfigEnv) return src.kubeconfigEnv.split(delimiter).filter((f) => f.length > 0);
  return [join(src.home, '.kube', 'config')];
}

interface RawNamed {
  name?: unknown;
  cluster?: { extensions?: unknown };
}

/** Every kubeconfig file of `src` merged as kubectl does: the first definition of each name wins. */
interface MergedKubeconfig {
  present: string[];
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
  clusterFile: Map<string, string>;
  rawClusters: Map<string, RawNamed>;
}

function mergeKubeconfigs(src: KubeconfigSource): MergedKubeconfig {
  const files = kubeconfigFiles(src);
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) {
    const which = src.kubeconfigEnv ? `KUBECONFIG=${src.kubeconfigEnv}` : files[0]!;
    throw configError(`no kubeconfig found (${which})`, 'set KUBECONFIG or create ~/.kube/config');
  }
  const clusters: Cluster[] = [];
  const users: User[] = [];
  const contexts: Context[] = [];
  const clusterFile = new Map<string, string>();
  const rawClusters = new Map<string, RawNamed>();
  let currentContext = '';
  for (const file of present) {
    const one = new KubeConfig();
    let raw: { clusters?: RawNamed[] } | null | undefined;
    try {
      raw = load(readFileSync(file, 'utf8')) as { clusters?: RawNamed[] } | null | undefined;
      one.loadFromFile(file);
    } catch (err) {
      throw configError(`${file} is not a valid kubeconfig: ${String((err as Error).message).split('\n')[0]}`, `fix ${file}`);
    }
    for (const c of one.clusters) if (!clusterFile.has(c.name)) (clusters.push(c), clusterFile.set(c.name, file));
    for (const u of one.users) if (!users.some((x) => x.name === u.name)) users.push(u);
    for (const c of one.contexts) if (!contexts.some((x) => x.name === c.name)) contexts.push(c);
    if (!currentContext && one.currentContext) currentContext = one.currentContext;
    for (const rc of Array.isArray(raw?.clusters) ? raw.clusters : []) {
      if (typeof rc?.name === 'string' && !rawClusters.has(rc.name)) rawClusters.set(rc.name, rc);
    }
  }
  return { present, clusters, users, contexts, currentContext, clusterFile, rawClusters };
}

/** The contexts `telepresence list-contexts` shows: every one of the merged files, and which is current. */
export function listContexts(src: KubeconfigSource): { current: string; contexts: { name: string; cluster: string; user: string; namespace?: string }[] } {
  const m = mergeKubeconfigs(src);
  return {
    current: src.context || m.currentContext,
    contexts: m.contexts.map((c) => ({ name: c.name, cluster: c.cluster, user: c.user, ...(c.namespace ? { namespace: c.namespace } : {}) })),
  };
}

export function loadKubeconfig(src: KubeconfigSource): LoadedKubeconfig {
  const { present, clusters, users, contexts, currentContext, clusterFile, rawClusters } = mergeKubeconfigs(src);
  const contextName = src.context || currentContext;
  if (!contextName) throw userError(`no current context in ${present.join(', ')}`, 'pass --context or run kubectl config use-context');
  const context = contexts.find((c) => c.name === contextName);
  if (!context) {
    throw userError(`context ${JSON.stringify(contextName)} not found in ${present.join(', ')}`, `use one of: ${contexts.map((c) => c.name).join(', ') || '(none)'}`);
  }
  const cluster = clusters.find((c) => c.name === context.cluster);
  if (!cluster) throw configError(`context ${JSON.stringify(contextName)} names cluster ${JSON.stringify(context.cluster)}, which no kubeconfig file defines`, `fix ${present.join(', ')}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters, users, contexts, currentContext: contextName });
  const file = clusterFile.get(cluster.name)!;
  const origin = { file, cluster: cluster.name };
  const extension = parseClusterExtension(findExtension(rawClusters.get(cluster.name)?.cluster?.extensions, origin), origin);
  return {
    kc,
    files: present,
    contextName,
    clusterName: cluster.name,
    clusterFile: file,
    server: cluster.server,
    namespace: context.namespace || 'default',
    extension,
  };
}
