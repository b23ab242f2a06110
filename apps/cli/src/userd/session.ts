// The user daemon's session with one cluster: connect orchestrates kubeconfig → manager →
// port-forward → cluster info → root daemon network; disconnect undoes it in reverse.
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ListRequest, ListResult, ConnectRequest, ConnectResult, DnsRecordsUpdate, InterceptInfo, InterceptRequest, InterceptResult, InterceptSpec, ProgressEvent, NetworkConfig, RootDaemonContract, SessionInfo, SessionStatus, UninstallRequest } from '@tel/contracts';
import { MANAGER_API_PORT, MANAGER_TCP_PORT } from '@tel/contracts';
import { clusterError, userError } from '@tel/errors';
import { NotRunningError, connect as ipcConnect, type Client, QUICK_CALL_TIMEOUT_MS } from '@tel/ipc';
import type { Logger } from '@tel/logging';
import { buildVersion } from '@tel/version';
import type { Config } from '../config/config.js';
import { resolveImage } from '../config/registry.js';
import { managerNamespaceFor } from '../kube/extension.js';
import { loadKubeconfig, type LoadedKubeconfig } from '../kube/kubeconfig.js';
import { ManagerForwarder } from '../kube/portforward.js';
import { startNamespaceFeed, type NamespaceFeed } from './dns-namespaces.js';
import { startTcpListener, type TcpListener } from './tcp-listener.js';
import { interceptTarget, listWorkloads } from './workloads.js';
import { personalFilter } from '../intercept/filter-flags.js';
import { UserIntercepts } from './intercepts/intercepts.js';
import { Parker } from './intercepts/parker.js';
import { ManagerApi } from './manager-api.js';
import { ManagerSession, clientIdentity, requireCapabilities } from './manager-session.js';
import { progressEvent, type EnsureManager } from './manager-install.js';
import { apiServerAddresses, mergeCidrs, planNetwork } from './subnets.js';
import { StepClock } from './connect-timings.js';
import { asNetworkStatus } from './network-status.js';
export { asNetworkStatus };
import { INSTALL_TIMEOUT_MS, ROOT_NETWORK_TIMEOUT_MS, timeoutError } from './timeouts.js';

/**
 * Bound on connect waiting for the namespace list to be in the system resolver. Listing takes
 * tens of ms; a slow or failing list must not hold connect up for long, as the feed retries.
 */
const DNS_READY_TIMEOUT_MS = 5_000;

export interface SessionDeps {
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Re-read on every connect so edited timeouts apply without restarting the daemon. */
  loadConfig(): Config;
  configFile: string;
  /** Where the port-forward socket is served (in the user's runtime dir). */
  managerSocket: string;
  rootDaemonSocket: string;
  ensureManager: EnsureManager;
}

/** Where connect reports its progress, and the caller's cancellation. */
export interface ProgressSink {
  emit?(event: ProgressEvent): void;
  signal?: AbortSignal;
}

interface Active {
  info: SessionInfo;
  kube: LoadedKubeconfig;
  forwarder: ManagerForwarder;
  api: ManagerApi;
  network: NetworkConfig;
  feed: NamespaceFeed;
  tcpListener: TcpListener;
  managerSession: ManagerSession;
  /** Absent when the manager does not announce the `intercepts` capability. */
  intercepts?: UserIntercepts;
}

export class Session {
  private active: Active | null = null;
  /** connect/disconnect run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: SessionDeps) {}

  busy(): boolean {
    return this.active !== null;
  }

  /** `progress` receives the manager install's steps; aborting its signal stops the waiting. */
  connect(req: ConnectRequest, progress: ProgressSink = {}): Promise<ConnectResult> {
    return this.serialized(() => this.doConnect(req, progress));
  }

  disconnect(): Promise<{ wasConnected: boolean }> {
    return this.serialized(() => this.doDisconnect());
  }

  async status(): Promise<SessionStatus> {
    const a = this.active;
    let network: SessionStatus['network'] = null;
    let rootDaemon: SessionStatus['rootDaemon'] = null;
    const rootd = await this.rootd().catch(() => null);
    if (rootd) {
      try {
        rootDaemon = await rootd.status({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS });
        if (a) network = asNetworkStatus(await rootd.networkStatus({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }));
      } catch (err) {
        this.deps.log.warn('root daemon status failed', { err: String(err) });
      } finally {
        rootd.close();
      }
    }
    const pf = a?.forwarder.status();
    return {
      session: a?.info ?? null,
      portForward: pf
        ? { ...(pf.pod ? { pod: pf.pod } : {}), serving: pf.serving, activeStreams: pf.activeStreams, ...(pf.lastError ? { lastError: pf.lastError } : {}), ...(a ? { tcp: a.tcpListener.stats() } : {}) }
        : null,
      network,
      rootDaemon,
      ...(a ? { manager: definedOnly(a.managerSession.status()) } : {}),
      ...(a?.intercepts ? { intercepts: a.intercepts.list().map(({ environment: _env, ...i }) => i) } : {}),
    };
  }

  /** `telepresence list`: the workloads of a namespace (default: the session's), as the user may see them. */
  async list(req: ListRequest): Promise<ListResult> {
    const a = this.connected();
    const namespace = req.namespace || a.info.namespace;
    const [workloads, intercepts, agents] = await Promise.all([
      listWorkloads(a.kube.kc, namespace),
      a.intercepts ? a.api.client.listIntercepts({ namespace }).then((r) => r.intercepts) : [],
      a.intercepts ? a.api.client.listAgents({ namespace }).then((r) => r.agents) : [],
    ]);
    return { namespace, workloads, intercepts, agents };
  }

  /** An intercept (global, or personal with a filter), checked first with the user's own credentials; returns once it serves. */
  async intercept(req: InterceptRequest, progress: Required<ProgressSink>): Promise<InterceptResult> {
    const started = Date.now();
    const a = this.connected();
    const intercepts = this.interceptsOf(a);
    const namespace = req.namespace || a.info.namespace;
    const workload = req.workload || req.name;
    const target = await interceptTarget(a.kube.kc, namespace, workload, { ...(req.service ? { service: req.service } : {}), ...(req.remotePort !== undefined ? { port: req.remotePort } : {}) });
    // What this intercept needs of the manager, from what it announces: an older one would take a
    // filtered port whole, or refuse a Rollout as malformed.
    requireCapabilities(a.managerSession.managerVersion(), ['intercepts', 'park-generations', ...(req.filter ? (['personal-intercepts'] as const) : []), ...(target.kind === 'Rollout' ? (['argo-rollouts'] as const) : [])]);
    const filter = req.filter ? personalFilter(req.filter, a.managerSession.sessionId() ?? randomUUID(), req.name) : undefined;
    const spec: InterceptSpec = { name: req.name, namespace, workload, workloadKind: target.kind, service: target.port.service, port: target.port.servicePort, localPort: req.localPort, ...(filter ? { filter } : {}) };
    const info = await intercepts.add(spec, { emit: progress.emit, signal: progress.signal, timeoutMs: this.deps.loadConfig().timeouts.agentInstall });
    return { intercept: info, elapsedMs: Date.now() - started };
  }

  async leave(name: string): Promise<{ left: boolean }> {
    const a = this.connected();
    if (!(await this.interceptsOf(a).remove(name))) throw userError(`no intercept named ${name}`, "see your intercepts with 'telepresence list --intercepts'");
    return { left: true };
  }

  interceptList(): { intercepts: InterceptInfo[] } {
    const a = this.active;
    return { intercepts: a?.intercepts?.list() ?? [] };
  }

  async uninstall(req: UninstallRequest): Promise<{ removed: { namespace: string; workload: string }[] }> {
    const a = this.connected();
    const intercepts = this.interceptsOf(a);
    const namespace = req.namespace || a.info.namespace;
    // Our own intercepts on those workloads end first (the manager refuses only others').
    for (const i of intercepts.list()) if (i.spec.namespace === namespace && (req.all || req.workloads.includes(i.spec.workload))) await intercepts.remove(i.spec.name);
    const sessionId = a.managerSession.sessionId();
    if (!sessionId) throw clusterError('the traffic manager is restarting', 'try again in a few seconds');
    return a.api.client.uninstallAgents({ sessionId, namespace, ...(req.all ? { all: true } : { workloads: req.workloads }) });
  }

  private connected(): Active {
    if (!this.active) throw userError('not connected', "run 'telepresence connect' first");
    return this.active;
  }

  private interceptsOf(a: Active): UserIntercepts {
    if (!a.intercepts) throw clusterError(`the Traffic Manager ${a.info.managerVersion.version} cannot intercept (it lacks the intercepts capability)`, "have someone allowed to run 'telepresence helm upgrade' do so");
    return a.intercepts;
  }

  private serialized<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async rootd(): Promise<Client<RootDaemonContract>> {
    try {
      return await ipcConnect<RootDaemonContract>(this.deps.rootDaemonSocket, 'Root Daemon');
    } catch (err) {
      if (err instanceof NotRunningError) throw userError('the Root Daemon is not running', "run 'telepresence connect' again (it starts the daemons)");
      throw err;
    }
  }

  private async doConnect(req: ConnectRequest, progress: ProgressSink): Promise<ConnectResult> {
    const started = Date.now();
    const log = this.deps.log.child('connect');
    const config = this.deps.loadConfig();
    const clock = new StepClock(started);
    // 1. kubeconfig, context and the cluster's telepresence.io extension.
    const kube = clock.timeSync('kubeconfig', () => loadKubeconfig({ kubeconfigEnv: req.kubeconfigEnv, home: this.deps.env.HOME || homedir(), context: req.context }));
    const namespace = req.namespace || kube.namespace;
    const managerNamespace = managerNamespaceFor(req.managerNamespace, kube.extension);
    const alsoProxy = mergeCidrs(kube.extension.alsoProxy, req.alsoProxy ?? [], '--also-proxy');
    const neverProxy = mergeCidrs(kube.extension.neverProxy, req.neverProxy ?? [], '--never-proxy');

    // 2. An existing session: same target → make sure the root daemon still has the network
    //    (it may have been restarted), else refuse to silently switch clusters.
    if (this.active) {
      const a = this.active.info;
      if (a.context !== kube.contextName || a.server !== kube.server || a.managerNamespace !== managerNamespace || a.namespace !== namespace) {
        throw userError(`already connected to context ${a.context} (namespace ${a.namespace}, manager namespace ${a.managerNamespace})`, "run 'telepresence quit' first to connect elsewhere");
      }
      const rootd = await this.rootd();
      try {
        const current = asNetworkStatus(await rootd.networkStatus({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }));
        if (!current) {
          log.info('root daemon has no network (restarted?); connecting it again');
          a.network = await rootd.connectNetwork(this.active.network, { timeoutMs: ROOT_NETWORK_TIMEOUT_MS });
          await this.active.feed.resend();
        } else a.network = current;
      } finally {
        rootd.close();
      }
      return { session: a, alreadyConnected: true, elapsedMs: Date.now() - started };
    }

    // 3. The traffic manager: install when absent, version policy otherwise. Meanwhile (4.) the port-forward
    //    starts: it finds a ready pod and connects; nothing talks to the manager before the check passed.
    const image = resolveImage(config, buildVersion, { TELEPRESENCE_REGISTRY: req.registryEnv }).image;
    log.info('ensuring traffic manager', { namespace: managerNamespace, image });
    const apiAddresses = apiServerAddresses(kube.server); // a DNS lookup at most, meanwhile: the plan needs them
    apiAddresses.catch(() => undefined); // awaited below; no unhandled rejection if we fail first
    const connectMs = config.timeouts.trafficManagerConnect;
    const sockets = [{ path: this.deps.managerSocket, podPort: MANAGER_API_PORT }, { path: tcpTunnelSocketPath(this.deps.managerSocket), podPort: MANAGER_TCP_PORT }];
    const onConnectTimeout = () => timeoutError('trafficManagerConnect', connectMs, this.deps.configFile);
    const newForwarder = () => new ManagerForwarder({ kc: kube.kc, namespace: managerNamespace, sockets, connectTimeoutMs: connectMs, onConnectTimeout, log: this.deps.log.child('port-forward') });
    const earlyForwarder = newForwarder();
    const earlyForward = clock.time('port-forward', () => earlyForwarder.start());
    earlyForward.catch(() => undefined); // settled below
    const onProgress = (m: string) => (log.info(m), progress.emit?.(progressEvent(m)));
    let manager: Awaited<ReturnType<EnsureManager>>;
    try {
      const opts = { namespace: managerNamespace, image, version: buildVersion, mayInstall: true, timeoutMs: INSTALL_TIMEOUT_MS, onProgress, ...(progress.signal ? { signal: progress.signal } : {}) };
      manager = await clock.time('manager-check', () => this.deps.ensureManager(kube.kc, opts));
      log.info('traffic manager ready', { ...manager });
      // Cancelled during the install: stop before anything of a session exists.
      progress.signal?.throwIfAborted();
    } catch (err) {
      await earlyForward.then(() => earlyForwarder.close(), () => earlyForwarder.close()).catch(() => undefined);
      throw err;
    }
    // The early port-forward stands when the manager was there as it is now; after an install or
    // upgrade, or when it found no ready pod yet (the check waited for one), it starts again.
    let forwarder = earlyForwarder;
    const forwardAgain = async () => {
      await earlyForward.catch(() => undefined);
      await earlyForwarder.close().catch(() => undefined);
      forwarder = newForwarder();
      await clock.time('port-forward', () => forwarder.start());
    };
    const forwarding = manager.action !== 'none' ? forwardAgain() : earlyForward.catch((err: unknown) => (log.info('port-forward begun beside the manager check failed; starting it again', { err: String(err) }), forwardAgain()));
    const api = new ManagerApi(this.deps.managerSocket, config.timeouts.trafficManagerAPI, this.deps.configFile);
    let feed: NamespaceFeed | undefined;
    let tcpListener: TcpListener | undefined;
    let managerSession: ManagerSession | undefined;
    let intercepts: UserIntercepts | undefined;
    try {
      // The namespace list is fetched while the port-forward comes up: connect waits for it below.
      const quick = { timeoutMs: QUICK_CALL_TIMEOUT_MS };
      const records = (update: DnsRecordsUpdate) => this.toResolver((r) => r.setDnsRecords(update, quick));
      feed = startNamespaceFeed(kube.kc, (namespaces) => this.toResolver((r) => r.setDnsNamespaces({ namespaces }, quick)), { log: this.deps.log.child('dns'), fallback: [{ name: namespace }], records });
      // TCP: the root daemon redirects connections to our listener, which carries them on the manager's stream tunnel (listening overlaps the port-forward).
      const [forwarded, listening] = await Promise.allSettled([
        forwarding,
        clock.time('tcp-listener', () => startTcpListener({ dial: () => forwarder.openStream(MANAGER_TCP_PORT), log: this.deps.log.child('tcp') })),
      ]);
      if (listening.status === 'fulfilled') tcpListener = listening.value; // closed below if connect fails
      if (forwarded.status === 'rejected') throw forwarded.reason;
      if (listening.status === 'rejected') throw listening.reason;
      const listener = listening.value;
      // 5. What the manager can do (its capabilities decide, nothing else), our session in it, and
      //    what it knows of the cluster (asked meanwhile: one HTTP/2 connection carries them all);
      //    the API server's own addresses stay off the tunnel.
      const clusterInfoAnswer = clock.time('cluster-info', () => api.client.clusterInfo({}));
      clusterInfoAnswer.catch(() => undefined); // awaited below, after the arrive
      const managerVersion = await clock.time('manager-version', () => api.client.version({}));
      requireCapabilities(managerVersion);
      const ms = new ManagerSession({ api, version: managerVersion, client: clientIdentity(buildVersion, kube.contextName, namespace), log: this.deps.log.child('manager-session') });
      managerSession = ms;
      await clock.time('manager-session', () => ms.start());
      if (managerVersion.capabilities?.includes('intercepts')) {
        const parker = new Parker({ open: () => forwarder.openGenerationStream(MANAGER_TCP_PORT), sessionId: () => ms.sessionId(), localPort: (id) => intercepts?.localPort(id), log: this.deps.log.child('intercepts') });
        intercepts = new UserIntercepts({ api, session: ms, parker, log: this.deps.log.child('intercepts'), configFile: this.deps.configFile });
        const ui = intercepts;
        ms.onArrive((id) => ui.arrived(id));
      }
      const clusterInfo = await clusterInfoAnswer;
      const plan = planNetwork({ cluster: clusterInfo, alsoProxy, neverProxy, apiServerAddresses: await apiAddresses });
      const network: NetworkConfig = {
        managerSocket: this.deps.managerSocket,
        tcpTunnelSocket: tcpTunnelSocketPath(this.deps.managerSocket),
        tcpListenerPort: listener.port,
        ...plan,
        dns: { connectedNamespace: namespace, clusterDomain: clusterInfo.clusterDomain, includeSuffixes: config.dns.includeSuffixes, excludeSuffixes: config.dns.excludeSuffixes, lookupTimeoutMs: config.dns.lookupTimeout },
      };
      log.info('connecting network', { ...plan });
      // 6. The root daemon: tel0, routes, rules.
      const rootd = await this.rootd();
      let status;
      try {
        status = await clock.time('routes', () => rootd.connectNetwork(network, { timeoutMs: ROOT_NETWORK_TIMEOUT_MS }));
      } finally {
        rootd.close();
      }
      // 7. Connect promises cluster names: every namespace's routing and search domains (and the
      //    per-service domains of public-suffix namespaces) are in the system resolver first.
      const namespacesReady = feed.ready(DNS_READY_TIMEOUT_MS);
      if (!(await clock.time('dns', () => namespacesReady))) {
        log.warn(`dns: the namespace list was not in the resolver within ${DNS_READY_TIMEOUT_MS} ms; names of some namespaces may resolve a little later`);
      }
      const info: SessionInfo = {
        kubeconfigFiles: kube.files,
        context: kube.contextName,
        server: kube.server,
        namespace,
        managerNamespace,
        managerVersion: { version: managerVersion.version, apiVersion: managerVersion.apiVersion, ...(managerVersion.agentImage ? { agentImage: managerVersion.agentImage } : {}) },
        managerAction: manager.action,
        ...(manager.warning ? { managerWarning: manager.warning } : {}),
        managerSocket: this.deps.managerSocket,
        connectedAt: new Date().toISOString(),
        network: status,
      };
      // 8. From here on the daemon is busy: another version's CLI may not replace it.
      this.active = { info, kube, forwarder, api, network, feed, tcpListener: listener, managerSession, ...(intercepts ? { intercepts } : {}) };
      const timings = clock.timings(); // bench/connect reads them from this line
      log.info('connected', { context: info.context, elapsedMs: Date.now() - started, timings });
      return { session: info, alreadyConnected: false, elapsedMs: Date.now() - started, timings };
    } catch (err) {
      feed?.stop();
      intercepts?.close();
      await tcpListener?.close();
      await managerSession?.stop();
      api.close();
      await forwarder.close().catch(() => undefined);
      throw err;
    }
  }

  /** The namespace feed's and the Service view's sink: the root daemon's resolver. */
  private async toResolver(send: (rootd: Client<RootDaemonContract>) => Promise<unknown>): Promise<void> {
    const rootd = await this.rootd();
    try {
      await send(rootd);
    } finally {
      rootd.close();
    }
  }

  private async doDisconnect(): Promise<{ wasConnected: boolean }> {
    const a = this.active;
    if (!a) return { wasConnected: false };
    const log = this.deps.log.child('disconnect');
    a.feed.stop();
    // Routes first: nothing may be sent into a tunnel whose port-forward is gone.
    try {
      const rootd = await ipcConnect<RootDaemonContract>(this.deps.rootDaemonSocket, 'Root Daemon');
      try {
        await rootd.disconnectNetwork({}, { timeoutMs: ROOT_NETWORK_TIMEOUT_MS });
      } finally {
        rootd.close();
      }
    } catch (err) {
      // A root daemon that is gone has removed its network on the way out (or will at start).
      if (!(err instanceof NotRunningError)) log.warn('root daemon disconnectNetwork failed', { err: String(err) });
    }
    a.intercepts?.close();
    await a.tcpListener.close();
    await a.managerSession.stop();
    a.api.close();
    await a.forwarder.close();
    this.active = null;
    log.info('disconnected', { context: a.info.context });
    return { wasConnected: true };
  }
}

/** Drops undefined fields (the status travels as JSON; absent reads better than null). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The TCP stream tunnel's socket, beside the manager socket. */
export function tcpTunnelSocketPath(managerSocket: string): string {
  return join(dirname(managerSocket), 'manager-tcp.socket');
}

/** The manager socket lives beside the user daemon's socket (0700 runtime dir). */
export function managerSocketPath(userDaemonSocketPath: string): string {
  return join(dirname(userDaemonSocketPath), 'manager.socket');
}
