// Public API of @tel/testcluster for e2e tests: bring the real test cluster up (idempotent),
// run commands on the workstation or the node, tear it down.
import { type Log, down, up, withLock } from './cluster.js';
import { createProgress, type Progress } from './progress.js';
import { type NsExecOptions, type NsExecResult, nsExec } from './exec.js';
import { type Layout, defaultLayout, MANAGER_NAMESPACE, NET, NODE_NAME, INET_NAMES } from './layout.js';
import { clusterStatus, type ClusterStatus } from './status.js';
import { DEMO_SERVER_IMAGE, MESH_PROXY_IMAGE } from './images.js';

export { type NsExecOptions, type NsExecResult } from './exec.js';
export { type ClusterStatus, type ComponentStatus } from './status.js';
export { NET, INET_NAMES, K8S_VERSION, MANAGER_NAMESPACE, NODE_NAME, DEVELOPER_USER } from './layout.js';

export interface ClusterInfo {
  /** Kubeconfig of the cluster admin (system:masters). */
  adminKubeconfig: string;
  /** Kubeconfig of user "developer": list namespaces, read services/workloads, pods + port-forward in `ambassador`. */
  developerKubeconfig: string;
  /** host:port of the registry, the same from the host namespace (image pushes) and the node (pulls). */
  registry: string;
  /** Image ref of the demo HTTP/UDP server (already pushed): `serve` on $PORT (8080), `get URL`, `lookup NAME`, `udp HOST:PORT MSG`. */
  demoServerImage: string;
  /** The Istio-style mesh stand-in (images/mesh-proxy): `init` as istio-init, `proxy` as istio-proxy. */
  meshProxyImage: string;
  /** https URL of the API server, reachable from the workstation and the node namespaces. */
  apiServer: string;
  netns: { node: string; ws: string; inet: string };
  nodeName: string;
  managerNamespace: string;
  /** Public names the inet DNS server answers (and serves HTTP on), name -> IPv4. */
  inetNames: Record<string, string>;
  stateDir: string;
  logsDir: string;
  /** Runs a command on the workstation: its netns + private mount ns (own /run, resolv.conf, resolved), KUBECONFIG set. */
  wsExec(cmd: string, args?: string[], opts?: NsExecOptions): Promise<NsExecResult>;
  /** Runs a command in the node's network + mount namespace. */
  nodeExec(cmd: string, args?: string[], opts?: NsExecOptions): Promise<NsExecResult>;
}

export function clusterInfo(l: Layout = defaultLayout()): ClusterInfo {
  return {
    adminKubeconfig: l.adminKubeconfig,
    developerKubeconfig: l.developerKubeconfig,
    registry: l.registry,
    demoServerImage: DEMO_SERVER_IMAGE(l),
    meshProxyImage: MESH_PROXY_IMAGE(l),
    apiServer: `https://${NET.nodeIp}:${NET.apiPort}`,
    netns: { ...l.netns },
    nodeName: NODE_NAME,
    managerNamespace: MANAGER_NAMESPACE,
    inetNames: { ...INET_NAMES },
    stateDir: l.stateDir,
    logsDir: l.logsDir,
    wsExec: (cmd, args = [], opts) => nsExec(l, 'ws', cmd, args, opts),
    nodeExec: (cmd, args = [], opts) => nsExec(l, 'node', cmd, args, opts),
  };
}

/**
 * For callers without a log (tests): silent, except for a cold build of the components, which takes
 * 20 minutes and must show in a CI log that it is alive (TPTC_VERBOSE shows everything).
 */
const quiet: Log = (msg, info) => (quietProgress ??= createProgress({ write: (s) => process.stderr.write(s), live: false, prefix: '[testcluster] ', buildOnly: !process.env.TPTC_VERBOSE })).log(msg, info);
let quietProgress: Progress | undefined;

/** Brings the cluster up unless it already is (safe to call from parallel test workers). */
export async function ensureClusterUp(opts: { log?: Log; layout?: Layout; instance?: string } = {}): Promise<ClusterInfo> {
  const l = opts.layout ?? defaultLayout(process.env, opts.instance);
  await withLock(l, () => up(l, opts.log ?? quiet));
  return clusterInfo(l);
}

/** Tears the cluster down completely (processes, namespaces, mounts, cgroups, sysctls). */
export async function clusterDown(opts: { log?: Log; layout?: Layout; instance?: string } = {}): Promise<void> {
  const l = opts.layout ?? defaultLayout(process.env, opts.instance);
  await withLock(l, () => down(l, opts.log ?? quiet));
}

export async function getClusterStatus(layout: Layout = defaultLayout()): Promise<ClusterStatus> {
  return clusterStatus(layout);
}
export { demoWorkloadManifest, type DemoWorkload } from './demo.js';
export { createProgress, formatElapsed, type Log, type LogInfo, type Progress } from './progress.js';
export {
  RESOLVER_FLAVOURS, type ResolverFlavour, type ResolvConfOverride, etcOverlayScript, flavourPrefix, workstationEtcFiles, givenResolvConfFile, nsswitchConf,
} from './workstation-etc.js';
export { restartApiServer, cutWorkstation, WS_NODE_LINK, type ApiServerRestart, type ApiServerRestartOptions, type WorkstationCut } from './faults.js';
