// `telepresence version`: Client, Root Daemon, User Daemon, Traffic Manager and Traffic Agent, each
// with its API version. Starts no daemon (as in 2.x). The cluster side comes from the session when
// connected, else from the manager's Deployment read with the kubeconfig flags. Any component of
// another version than the client is flagged and named on stderr, and the exit is non-zero.
import type { DaemonVersion, SessionInfo, UserDaemonContract } from '@tel/contracts';
import { existsSync } from 'node:fs';
import { configError, EXIT_CODES, TelError } from '@tel/errors';
import { connect, QUICK_CALL_TIMEOUT_MS } from '@tel/ipc';
import { API_VERSIONS, buildVersion, formatComponent, mismatchMessage, versionFromTag } from '@tel/version';
import { imageTag } from '../../install/manifests.js';
import { managerNamespaceFor } from '../../kube/extension.js';
import type { LoadedKubeconfig } from '../../kube/kubeconfig.js';
import type { ClusterSide } from './version-cluster.js';
import { defineCommand, hasKubeFlags, KUBE_FLAGS, kubeconfigSource, MANAGER_NAMESPACE_FLAG, type CommandContext, type KubeOptions } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, probe, quitHint } from '../daemons.js';

/** The user daemon's session, if it has one (never starts anything). */
async function sessionOf(env: NodeJS.ProcessEnv): Promise<SessionInfo | null> {
  const client = await connect<UserDaemonContract>(USER_DAEMON.socket(env), USER_DAEMON.name).catch(() => undefined);
  try {
    return (await client?.sessionStatus({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }))?.session ?? null;
  } catch {
    return null;
  } finally {
    client?.close();
  }
}

/** One component, in the json/yaml document as in `components` (snake_case, as 2.x writes). */
export interface Component {
  name: string;
  version: string | null;
  api_version: number | null;
  running: boolean;
  version_mismatch: boolean;
  /** Traffic Manager / Agent: where the version was read ("session" or "cluster"), and their namespace and image. */
  source?: 'session' | 'cluster';
  namespace?: string;
  image?: string;
}

/**
 * The cluster side: the session's when connected (and no kube flag names another), else the
 * manager's Deployment. No kubeconfig at all (and no flag asking for one): no cluster side.
 */
async function clusterSide(ctx: CommandContext, opts: KubeOptions & { managerNamespace?: string }, session: SessionInfo | null): Promise<ClusterSide | undefined> {
  if (session && !hasKubeFlags(opts) && !opts.managerNamespace) {
    const m = session.managerVersion;
    return { manager: { version: m.version, apiVersion: m.apiVersion }, ...(m.agentImage ? { agentImage: m.agentImage } : {}), namespace: session.managerNamespace, source: 'session' };
  }
  // Loaded on use: the Kubernetes client stays out of the CLI's start.
  const [{ kubeconfigFiles, loadKubeconfig }, { readCluster }] = await Promise.all([import('../../kube/kubeconfig.js'), import('./version-cluster.js')]);
  const source = kubeconfigSource(ctx.env, opts);
  // A machine without any kubeconfig (and no flag asking for one) still has a client version to show.
  if (!hasKubeFlags(opts) && !opts.managerNamespace && !kubeconfigFiles(source).some((f) => existsSync(f))) return undefined;
  let kube: LoadedKubeconfig;
  try {
    kube = loadKubeconfig(source);
  } catch (err) {
    throw err instanceof TelError ? err : configError(String(err));
  }
  return readCluster(kube, managerNamespaceFor(opts.managerNamespace, kube.extension), ctx.config().timeouts.trafficManagerAPI);
}

function render(rows: Component[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const value = !r.running ? 'not running' : r.api_version === null ? r.version! : formatComponent({ name: r.name, version: r.version!, apiVersion: r.api_version });
      const where = r.source === 'cluster' && r.name === 'Traffic Manager' ? ` in namespace ${r.namespace}` : '';
      return `${r.name.padEnd(width)}: ${value}${where}${r.version_mismatch ? '  <- version mismatch' : ''}`;
    })
    .join('\n');
}

/** The document's keys: `client`, `root_daemon`, `user_daemon`, `traffic_manager`, `traffic_agent`. */
const keyOf = (name: string) => name.toLowerCase().replace(/ /g, '_');

export const versionCommand = defineCommand({
  name: 'version',
  description: 'Show the version of the client, the daemons and the Traffic Manager',
  requires: 'none',
  flags: [...KUBE_FLAGS, MANAGER_NAMESPACE_FLAG],
  validate(opts) {
    kubeconfigSource({}, opts);
  },
  async run(ctx, opts) {
    const rows: Component[] = [{ name: 'Client', version: buildVersion, api_version: API_VERSIONS.userDaemon, running: true, version_mismatch: false }];
    const mismatches: string[] = [];
    for (const kind of [ROOT_DAEMON, USER_DAEMON]) {
      const v: DaemonVersion | undefined = await probe(kind, ctx.env);
      const odd = v !== undefined && v.version !== buildVersion;
      if (v && odd) mismatches.push(`${mismatchMessage(buildVersion, v)}; ${quitHint}`);
      rows.push({ name: kind.name, version: v?.version ?? null, api_version: v?.apiVersion ?? null, running: !!v, version_mismatch: odd });
    }
    // The session of a user daemon of this version only: another one may not speak our contract.
    const userDaemon = rows.find((r) => r.name === USER_DAEMON.name);
    const session = userDaemon?.running && !userDaemon.version_mismatch ? await sessionOf(ctx.env) : null;
    const cluster = await clusterSide(ctx, opts, session);
    if (cluster) {
      const { version, apiVersion, image } = cluster.manager;
      const where = { source: cluster.source, namespace: cluster.namespace };
      const manager = { name: 'Traffic Manager', version, api_version: apiVersion, running: true, version_mismatch: version !== buildVersion, ...where, ...(image ? { image } : {}) };
      rows.push(manager);
      if (manager.version_mismatch) mismatches.push(`${mismatchMessage(buildVersion, { name: manager.name, version, apiVersion: apiVersion ?? 0 })}; run 'telepresence helm upgrade'`);
      if (cluster.agentImage) {
        // The agent runs the image the manager injects; an untagged image has no version to compare.
        const tag = imageTag(cluster.agentImage);
        const agentVersion = (tag && versionFromTag(tag)) || tag || cluster.agentImage;
        const odd = agentVersion !== buildVersion;
        rows.push({ name: 'Traffic Agent', version: agentVersion, api_version: apiVersion, running: true, version_mismatch: odd, ...where, image: cluster.agentImage });
        if (odd) mismatches.push(`${mismatchMessage(buildVersion, { name: 'Traffic Agent', version: agentVersion, apiVersion: apiVersion ?? 0 })}; run 'telepresence helm upgrade'`);
      }
    }
    const doc = { ...Object.fromEntries(rows.map((r) => [keyOf(r.name), r])), components: rows, mismatches };
    ctx.out.result(doc, () => render(rows));
    for (const m of mismatches) ctx.out.error(m);
    return mismatches.length ? EXIT_CODES.user : 0;
  },
});
