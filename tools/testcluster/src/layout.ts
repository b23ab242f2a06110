// Where everything of the test cluster lives: versions, namespace names, addresses and paths.
// Pure data; every other module takes a Layout so tests (and a second cluster) can relocate it.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MANAGER_NAMESPACE } from '@tel/contracts';

/** Kubernetes release the components are built from (containerd 1.6 + cgroup v1 fit 1.30). */
export const K8S_VERSION = 'v1.30.14';
export const COREDNS_VERSION = 'v1.14.7';

/** Everything is addressed from 198.18.0.0/15 (RFC 2544 benchmarking space), never the host's. */
export const NET = {
  /** node <-> workstation veth (/30). The node IP is where the API server answers. */
  nodeIp: '198.18.0.1',
  wsIp: '198.18.0.2',
  /** node <-> inet veth (/30). */
  nodeInetIp: '198.18.0.5',
  inetNodeSideIp: '198.18.0.6',
  /** workstation <-> inet veth (/30). */
  wsInetIp: '198.18.0.9',
  inetWsSideIp: '198.18.0.10',
  /** Addresses the "internet" namespace answers on (all local there). */
  inetPublicCidr: '198.18.64.0/24',
  inetDnsIp: '198.18.64.53',
  /** Pods get addresses here; the node's bridge is the first one. */
  podCidr: '198.18.128.0/17',
  nodePodSubnet: '198.18.128.0/24',
  podBridgeIp: '198.18.128.1',
  serviceCidr: '198.19.0.0/16',
  apiServiceIp: '198.19.0.1',
  dnsServiceIp: '198.19.0.10',
  apiPort: 6443,
  /** The registry: 127.0.0.1:<port> in the node namespace and, via a forwarder, in the host's (TPTC_REGISTRY_PORT overrides). */
  registryPort: 5077,
} as const;

/** Names of the public hosts the inet DNS server knows, and their addresses. */
export const INET_NAMES: Record<string, string> = {
  'docs.rs': '198.18.64.10',
  'example.com': '198.18.64.11',
  'www.example.com': '198.18.64.11',
  'dns.inet.test': NET.inetDnsIp,
};

export const NODE_NAME = 'tptc-node';
/** The clients' default: the cluster grants the developer exactly what connecting there needs. */
export const MANAGER_NAMESPACE = DEFAULT_MANAGER_NAMESPACE;
export const DEVELOPER_USER = 'developer';
export const CLUSTER_DOMAIN = 'cluster.local';

export interface Layout {
  /** Prefix of netns names, cgroup and links, e.g. "tptc". */
  prefix: string;
  netns: { node: string; ws: string; inet: string };
  /** Built binaries, shared by every cluster of this version. */
  binDir: string;
  /** Go build scratch modules. */
  buildDir: string;
  /** Runtime state of one cluster: removed by `down`. */
  stateDir: string;
  /** Registry storage, kept across `down` so pushes are cheap. */
  registryDir: string;
  logsDir: string;
  pidDir: string;
  pkiDir: string;
  /** Name of the cgroup (in every v1 hierarchy) holding every process of the cluster. */
  cgroup: string;
  registry: string;
  adminKubeconfig: string;
  developerKubeconfig: string;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.TPTC_CACHE_DIR || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'telepresence-testcluster');
}

/**
 * The layout of one cluster instance. The default instance ("") is the shared one other e2e
 * tests use; a named instance (TPTC_INSTANCE, or the argument) gets its own namespaces, cgroup,
 * state dir, registry and registry port, so e.g. the smoke test can bring its own cluster up and
 * down without disturbing the shared one. Addresses are the same: each lives in its own namespaces.
 */
export function defaultLayout(env: NodeJS.ProcessEnv = process.env, instance: string = env.TPTC_INSTANCE ?? ''): Layout {
  if (instance && !/^[a-z0-9]{1,8}$/.test(instance)) throw new Error(`instance name '${instance}': use 1-8 lowercase letters or digits`);
  const root = cacheRoot(env);
  const prefix = instance ? `tptc-${instance}` : 'tptc';
  const stateDir = env.TPTC_STATE_DIR || join(root, instance ? `state-${instance}` : 'state');
  const binRoot = join(root, K8S_VERSION);
  const port = Number(env.TPTC_REGISTRY_PORT) || NET.registryPort + (instance ? 1 + (hash(instance) % 100) : 0);
  return {
    prefix,
    netns: { node: `${prefix}-node`, ws: `${prefix}-ws`, inet: `${prefix}-inet` },
    binDir: join(binRoot, 'bin'),
    buildDir: binRoot,
    stateDir,
    registryDir: join(root, instance ? `registry-${instance}` : 'registry'),
    logsDir: join(stateDir, 'logs'),
    pidDir: join(stateDir, 'pids'),
    pkiDir: join(stateDir, 'pki'),
    cgroup: prefix,
    registry: `127.0.0.1:${port}`,
    adminKubeconfig: join(stateDir, 'kubeconfig', 'admin.kubeconfig'),
    developerKubeconfig: join(stateDir, 'kubeconfig', 'developer.kubeconfig'),
  };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

/** True for the cgroup names of every instance ("tptc", "tptc-<instance>"). */
export const isClusterCgroupName = (name: string) => /^tptc(-[a-z0-9]{1,8})?$/.test(name);

export function registryPort(l: Layout): number {
  return Number(l.registry.split(':')[1]);
}

export const netnsPath = (name: string) => `/var/run/netns/${name}`;
