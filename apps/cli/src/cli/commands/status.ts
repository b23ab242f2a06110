// `telepresence status`: the daemons (versions, logs) and, when connected, the session: context,
// namespaces, traffic manager, routed and excluded subnets, tunnel health. Starts nothing. A daemon
// of another version is marked and the exit is non-zero (as `version`). In json/yaml the document
// has 2.x's keys (`user_daemon`, `root_daemon`, `traffic_manager`, snake_case), ours added inside.
import type { Contract, NetworkStatus, RootDaemonContract, RootDaemonStatus, SessionStatus, UserDaemonContract, UserDaemonStatus } from '@tel/contracts';
import { EXIT_CODES } from '@tel/errors';
import { NotRunningError, connect, type Client, QUICK_CALL_TIMEOUT_MS } from '@tel/ipc';
import { buildVersion, formatComponent, mismatchMessage } from '@tel/version';
import { asNetworkStatus } from '../../userd/network-status.js';
import { defineCommand } from '../command.js';
import { ROOT_DAEMON, USER_DAEMON, quitHint } from '../daemons.js';
import { snakeCase } from '../output.js';

export interface StatusDoc {
  client: { version: string };
  userDaemon: UserDaemonStatus | null;
  rootDaemon: RootDaemonStatus | null;
  /** The session as the user daemon holds it; null when not connected (or daemon not running). */
  session: SessionStatus['session'];
  portForward: SessionStatus['portForward'];
  /** The user daemon's session in the traffic manager (id, manager version, last answer). */
  manager?: SessionStatus['manager'];
  /** This session's intercepts. */
  intercepts?: SessionStatus['intercepts'];
  /** The root daemon's routes, exclusions and tunnel health; null when it has no network. */
  network: NetworkStatus | null;
}

async function call<C extends Contract<C>, T>(socket: string, name: string, f: (c: Client<C>) => Promise<T>): Promise<T | null> {
  let c: Client<C> | undefined;
  try {
    c = await connect<C>(socket, name);
    return await f(c);
  } catch (err) {
    if (err instanceof NotRunningError) return null;
    throw err;
  } finally {
    c?.close();
  }
}

const isOdd = (d: { version: { version: string } } | null) => !!d && d.version.version !== buildVersion;
const marker = (d: { version: { version: string } }) => (isOdd(d) ? '  <- version mismatch' : '');

/** One line per daemon of another version than this client, naming it. */
export function statusMismatches(d: StatusDoc): string[] {
  return [d.rootDaemon, d.userDaemon].filter(isOdd).map((x) => mismatchMessage(buildVersion, x!.version));
}

/** A daemon as 2.x's status document shows it, with our fields beside its own. */
function daemonDoc(s: UserDaemonStatus | RootDaemonStatus | null): Record<string, unknown> {
  if (!s) return { running: false };
  const v = s.version;
  return {
    running: true,
    name: v.name,
    version: v.version,
    api_version: v.apiVersion,
    ...(isOdd(s) ? { version_mismatch: true } : {}),
    pid: v.pid,
    idle: v.idle,
    log_file: s.logFile,
    uptime_seconds: s.uptimeSeconds,
  };
}

function dnsDoc(n: NetworkStatus): Record<string, unknown> | undefined {
  if (!n.dns) return n.dnsError ? { error: n.dnsError } : undefined;
  const { lookupTimeoutMs, ...dns } = n.dns;
  // 2.x's lookup_timeout is a Go duration, which encodes as nanoseconds.
  return { ...(snakeCase(dns) as Record<string, unknown>), lookup_timeout: lookupTimeoutMs * 1e6 };
}

/** The json/yaml document: 2.x's `user_daemon`, `root_daemon` and `traffic_manager` keys and fields. */
export function statusDocument(d: StatusDoc): Record<string, unknown> {
  const s = d.session;
  const user = daemonDoc(d.userDaemon);
  if (d.userDaemon) {
    user.status = s ? 'Connected' : 'Not connected';
    if (s) {
      Object.assign(user, {
        kubernetes_server: s.server,
        kubernetes_context: s.context,
        namespace: s.namespace,
        manager_namespace: s.managerNamespace,
        ...(d.network?.dns?.namespaces.length ? { mapped_namespaces: d.network.dns.namespaces } : {}),
        kubeconfig_files: s.kubeconfigFiles,
        connected_at: s.connectedAt,
        intercepts: (d.intercepts ?? []).map(({ client, environment: _env, ...i }) => ({ name: i.spec.name, client: `${client.user}@${client.host}`, ...(snakeCase(i) as object) })),
        ...(d.portForward ? { port_forward: snakeCase(d.portForward) } : {}),
        ...(d.manager ? { manager_session: snakeCase(d.manager) } : {}),
      });
    }
  }
  const root = daemonDoc(d.rootDaemon);
  const n = d.network;
  if (d.rootDaemon && n) {
    const dns = dnsDoc(n);
    const neverProxy = n.excluded.filter((e) => e.reason === 'never-proxy').map((e) => e.cidr);
    Object.assign(root, {
      ...(dns ? { dns } : {}),
      subnets: n.routedSubnets,
      ...(neverProxy.length ? { never_proxy_subnets: neverProxy } : {}),
      device: n.device,
      excluded: n.excluded,
      tunnel_healthy: n.tunnelHealthy,
      active_streams: n.activeStreams,
      ...(n.tcp ? { tcp: snakeCase(n.tcp) } : {}),
      ...(n.dnsView ? { dns_view: snakeCase(n.dnsView) } : {}),
    });
  }
  // 2.x always writes these three keys, empty when not connected.
  const m = s?.managerVersion;
  const manager = { name: m ? 'Traffic Manager' : '', version: m?.version ?? '', traffic_agent: m?.agentImage ?? '', ...(m ? { api_version: m.apiVersion } : {}) };
  return { client: { name: 'Client', version: buildVersion }, user_daemon: user, root_daemon: root, traffic_manager: manager };
}

export function renderStatus(d: StatusDoc): string {
  const lines = [`Client: ${buildVersion}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(18)}: ${value}`);
  if (!d.userDaemon) lines.push('User Daemon: Not running');
  else {
    lines.push('User Daemon: Running');
    row('Version', formatComponent(d.userDaemon.version) + marker(d.userDaemon));
    row('Log', d.userDaemon.logFile);
    const s = d.session;
    row('Status', s ? 'Connected' : 'Not connected');
    if (s) {
      row('Kubernetes context', s.context);
      row('Kubernetes server', s.server);
      row('Namespace', s.namespace);
      row('Manager namespace', s.managerNamespace);
      row('Traffic Manager', `${formatComponent({ name: 'Traffic Manager', ...s.managerVersion })}`);
      const m = d.manager;
      if (m) {
        row('Manager session', m.sessionId ? `${m.sessionId}${m.arrivals > 1 ? ` (arrived ${m.arrivals} times)` : ''}` : `none, arriving again${m.lastError ? ` (${m.lastError})` : ''}`);
        row('Manager version', m.managerVersion);
        row('Manager answered', m.lastAnswerAt ? `${m.lastAnswerAt} (${Math.round((Date.now() - Date.parse(m.lastAnswerAt)) / 1000)}s ago)` : 'never');
      }
      const icpts = d.intercepts ?? [];
      row('Intercepts', `${icpts.length} total`);
      for (const i of icpts) {
        lines.push(`    - ${i.spec.name}: ${(i.spec.workloadKind ?? 'workload').toLowerCase()}/${i.spec.workload} in ${i.spec.namespace}, ${i.service ?? i.spec.service ?? '?'}:${i.servicePortName ?? i.servicePort ?? i.spec.port ?? '?'} → 127.0.0.1:${i.spec.localPort}, ${i.state.toUpperCase()}${i.state === 'active' ? '' : `: ${i.message ?? ''}`}`);
      }
      if (d.portForward) row('Port-forward', `${d.portForward.serving ? 'serving' : 'closed'}${d.portForward.pod ? ` to pod ${d.portForward.pod}` : ''}${d.portForward.lastError ? ` (last error: ${d.portForward.lastError})` : ''}`);
    }
  }
  if (!d.rootDaemon) lines.push('Root Daemon: Not running');
  else {
    lines.push('Root Daemon: Running');
    row('Version', formatComponent(d.rootDaemon.version) + marker(d.rootDaemon));
    row('Log', d.rootDaemon.logFile);
    const n = d.network;
    if (n) {
      row('Tunnel', `${n.tunnelHealthy ? 'healthy' : 'NOT healthy'} (${n.device}, ${n.activeStreams} active streams)`);
      if (n.tcp) {
        const t = d.portForward?.tcp;
        const via =
          n.tcp.via === 'user-daemon'
            ? `stream tunnel, accepted and carried by the user daemon (${t?.ok ?? 0} connections, ${t?.failed ?? 0} refused${t?.lastError ? `; last: ${t.lastError}` : ''})`
            : `stream tunnel, carried by the root daemon (${n.tcp.ok ?? 0} connections, ${n.tcp.failed ?? 0} refused${n.tcp.lastError ? `; last: ${n.tcp.lastError}` : ''})`;
        row('TCP via', via);
      }
      lines.push('  Routed subnets:');
      for (const s of n.routedSubnets) lines.push(`    - ${s}`);
      lines.push('  Excluded:');
      for (const e of n.excluded) lines.push(`    - ${e.cidr} (${e.reason})`);
      if (n.dns) {
        row('DNS', `${n.dns.mode}, server ${n.dns.server}, upstream ${n.dns.upstream.join(', ') || 'none'}`);
        if (n.dns.modeReason) lines.push(`  Mode chosen    : ${n.dns.modeReason}`);
        lines.push(`  Routing domains: ${n.dns.routingDomains.join(' ')}`);
        if (n.dns.searchDomains.length) lines.push(`  Search domains : ${n.dns.searchDomains.join(' ')}`);
        if (n.dns.leftOut.length) {
          lines.push('  Namespaces without a routing domain:');
          for (const l of n.dns.leftOut) lines.push(`    - ${l.namespace} (${l.reason}: ${l.detail})`);
        }
        if (n.dnsView) {
          const where = { local: 'answered on the workstation', cluster: 'asked in the cluster', mixed: 'answered on the workstation, some namespaces asked in the cluster' }[n.dnsView.path];
          lines.push(`  Cluster names  : ${where} (${n.dnsView.namespaces} namespaces, ${n.dnsView.services} services in the view)`);
          for (const f of n.dnsView.fallback) lines.push(`    - ${f}`);
        }
      } else if (n.dnsError) row('DNS', `NOT running: ${n.dnsError}`);
    } else row('Network', 'Not connected');
  }
  return lines.join('\n');
}

export const statusCommand = defineCommand({
  name: 'status',
  description: 'Show connectivity status',
  requires: 'none',
  async run(ctx) {
    const userSocket = USER_DAEMON.socket(ctx.env);
    const rootSocket = ROOT_DAEMON.socket(ctx.env);
    const userDaemon = await call(userSocket, USER_DAEMON.name, (c: Client<UserDaemonContract>) => c.status({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }));
    // A user daemon of another version may not know sessionStatus: then there is no session to show.
    const sessionStatus = userDaemon
      ? await call(userSocket, USER_DAEMON.name, (c: Client<UserDaemonContract>) => c.sessionStatus({}, { timeoutMs: 10_000 })).catch(() => null)
      : null;
    const rootDaemon = await call(rootSocket, ROOT_DAEMON.name, (c: Client<RootDaemonContract>) => c.status({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS }));
    const network = rootDaemon
      ? asNetworkStatus(sessionStatus?.network ?? (await call(rootSocket, ROOT_DAEMON.name, (c: Client<RootDaemonContract>) => c.networkStatus({}, { timeoutMs: QUICK_CALL_TIMEOUT_MS })).catch(() => null)))
      : null;
    const doc: StatusDoc = {
      client: { version: buildVersion },
      userDaemon,
      rootDaemon,
      session: sessionStatus?.session ?? null,
      portForward: sessionStatus?.portForward ?? null,
      ...(sessionStatus?.manager ? { manager: sessionStatus.manager } : {}),
      ...(sessionStatus?.intercepts ? { intercepts: sessionStatus.intercepts } : {}),
      network,
    };
    ctx.out.result(statusDocument(doc), () => renderStatus(doc));
    const mismatches = statusMismatches(doc);
    for (const m of mismatches) ctx.out.error(`${m}; ${quitHint}`);
    return mismatches.length ? EXIT_CODES.user : 0;
  },
});
