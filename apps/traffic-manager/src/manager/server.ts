// The manager's API server (HTTP/2 cleartext on MANAGER_API_PORT, on the pod's loopback: the only
// way in is the RBAC-authorised port-forward). Routes come from the contract (@tel/contracts
// manager/): version, cluster-info, sessions, stats; raw routes: POST /udp flows and POST /dns
// (@tel/dns-wire). TCP has its own port (tcp-stream.ts).
import { listen } from '../listen.js';
import http2, { type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createDnsHandler, type Nameserver } from '@tel/dns-wire';
import { MANAGER_CAPABILITIES, MANAGER_RAW_ROUTES, MANAGER_ROUTES, TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, type ClusterInfo, type ManagerContract, type ManagerVersion } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { headerSafe, parseDestination } from './address.js';
import { ParkedConnections } from './intercept-relay.js';
import { createRouter, RequestError, type Handlers, type RawHandler } from './router.js';
import type { WorkloadRef } from './inject/rollout.js';
import type { WorkloadInjector } from './inject/workloads.js';
import { AgentStore } from './state/agents.js';
import { InterceptStore } from './state/intercepts.js';
import { DEFAULT_SESSION_LEASE_MS, SessionStore } from './state/sessions.js';
import { tunnelUdp } from './udp.js';

export interface ManagerServerOptions {
  port: number;
  /** Default 127.0.0.1: client ports are reached through the port-forward only. */
  host?: string;
  /** Name, version and API version; the server adds its capabilities. */
  version: ManagerVersion;
  clusterInfo: () => Promise<ClusterInfo>;
  log: Logger;
  udpIdleMs?: number;
  /** How long a client session outlives its last heartbeat. Default DEFAULT_SESSION_LEASE_MS. */
  sessionLeaseMs?: number;
  /**
   * Where `POST /dns` sends queries. Default: the nameservers of this pod's /etc/resolv.conf, which
   * in a pod is the cluster DNS.
   */
  dnsNameservers?: Nameserver[];
  dnsTimeoutMs?: number;
  /** The traffic-agent image the injector uses, announced in `version`. */
  agentImage?: string;
  /** Adds and removes agents (the injector); without it intercepts fail with a message saying so. */
  installer: WorkloadInjector;
}

export interface ManagerStats {
  udpActive: number;
  udpTotal: number;
  /** HTTP/2 connections (each a port-forward stream). */
  connections: number;
  /** Client sessions (arrived, lease not expired). */
  clientSessions: number;
}

export interface ManagerServer {
  port: number;
  /** The state the agent ports and the TCP tunnel's park verb share with the API. */
  agents: AgentStore;
  intercepts: InterceptStore;
  parked: ParkedConnections;
  stats(): ManagerStats;
  close(): Promise<void>;
}

/** Connection-level receive window: 1000 streams must not starve each other on one connection. */
const SESSION_WINDOW = 32 << 20;

export async function startManagerServer(opts: ManagerServerOptions): Promise<ManagerServer> {
  const log = opts.log;
  const counts = { udpActive: 0, udpTotal: 0, connections: 0 };
  const store = new SessionStore(opts.sessionLeaseMs ?? DEFAULT_SESSION_LEASE_MS, log.child('sessions'));
  const intercepts = new InterceptStore(opts.installer, log.child('intercepts'));
  const agents = new AgentStore((a) => intercepts.agentIntercepts(a.workload, a.configHash), log);
  intercepts.attach(agents);
  const parked = new ParkedConnections((id) => store.has(id));
  const storeWatch = new AbortController();
  const known = new Set<string>();
  store.watch((e) => {
    intercepts.reconcile(e.sessions);
    const now = new Set(e.sessions.map((x) => x.sessionId));
    for (const id of known) if (!now.has(id)) parked.drop(id);
    for (const s of e.sessions) if (s.desired.intercepts.length === 0) parked.drop(s.sessionId);
    known.clear();
    for (const id of now) known.add(id);
  }, storeWatch.signal);
  const version: ManagerVersion = { ...opts.version, capabilities: [...MANAGER_CAPABILITIES], ...(opts.agentImage ? { agentImage: opts.agentImage } : {}) };
  const server: Http2Server = http2.createServer({
    settings: { maxConcurrentStreams: 10_000, initialWindowSize: 256 << 10 },
    // Outstanding (unacknowledged) bytes across all streams of a session, in MB.
    maxSessionMemory: 256,
  });
  const connections = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    connections.add(session);
    counts.connections++;
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.on('error', (err) => log.debug('session error', { error: err.message }));
    session.on('close', () => {
      connections.delete(session);
      counts.connections--;
    });
  });

  const fail = (stream: ServerHttp2Stream, status: number, message: string) => {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': status, [TUNNEL_ERROR_HEADER]: headerSafe(message) }, { endStream: true });
  };

  const handlers: Handlers<ManagerContract> = {
    version: () => version,
    clusterInfo: () => opts.clusterInfo(),
    arrive: (req) => store.arrive(req),
    remain: (req) => store.remain(req.sessionId),
    setDesired: (req) => {
      store.setDesired(req.sessionId, req.desired);
      return {};
    },
    depart: (req) => {
      store.depart(req.sessionId);
      return {};
    },
    listSessions: () => ({ sessions: store.list() }),
    watchSessions: (_req, sink) => store.watch((e) => sink.send(e), sink.signal),
    stats: () => ({ ...counts, clientSessions: store.size, rssBytes: process.memoryUsage().rss }),
    watchIntercepts: (req, sink) => {
      const sessionId = req?.sessionId;
      if (typeof sessionId !== 'string' || !store.has(sessionId)) throw new RequestError('unknown-session', 'cluster', `the traffic manager has no session ${JSON.stringify(sessionId)}`, 'arrive again');
      const off = intercepts.onChange((id) => {
        if (id === sessionId) sink.send({ intercepts: intercepts.ofSession(sessionId) });
      });
      sink.signal.addEventListener('abort', off, { once: true });
      sink.send({ intercepts: intercepts.ofSession(sessionId) });
    },
    listIntercepts: (req) => ({ intercepts: intercepts.list(typeof req?.namespace === 'string' ? req.namespace : undefined) }),
    listAgents: (req) => ({ agents: agents.list(typeof req?.namespace === 'string' ? req.namespace : undefined) }),
    uninstallAgents: async (req) => {
      store.remain(req?.sessionId);
      if (typeof req.namespace !== 'string') throw new RequestError('bad-request', 'bug', 'uninstallAgents needs a namespace');
      const names = req.all ? [...new Set(agents.list(req.namespace).map((a) => `${a.kind}/${a.workload}`))] : (req.workloads ?? []).map(String);
      const refs = await Promise.all(names.map(async (n) => {
        const [kind, name] = n.includes('/') ? (n.split('/') as [string, string]) : [undefined, n];
        return (await opts.installer.describe(req.namespace, name, kind as WorkloadRef['kind'] | undefined)).ref;
      }));
      const removed = await intercepts.uninstall(req.sessionId, refs);
      return { removed: removed.map((r) => ({ namespace: r.namespace, workload: r.name })) };
    },
  };

  const dns = createDnsHandler({
    log: log.child('dns'),
    ...(opts.dnsNameservers ? { nameservers: opts.dnsNameservers } : {}),
    ...(opts.dnsTimeoutMs ? { timeoutMs: opts.dnsTimeoutMs } : {}),
  });
  const udp: RawHandler = (stream, headers) => {
    const raw = headers[TUNNEL_DESTINATION_HEADER];
    const dest = parseDestination(Array.isArray(raw) ? raw[0] : raw);
    if (!dest) return fail(stream, 400, `${TUNNEL_DESTINATION_HEADER} must be ip:port`);
    counts.udpActive++;
    counts.udpTotal++;
    tunnelUdp(stream, dest, { idleMs: opts.udpIdleMs ?? 60_000, log, onClose: () => counts.udpActive-- });
  };
  const route = createRouter(MANAGER_ROUTES, handlers, {
    udp: { route: MANAGER_RAW_ROUTES.udp, handler: udp },
    dns: { route: MANAGER_RAW_ROUTES.dns, handler: (stream, headers) => void dns(stream, headers) },
  }, log);
  server.on('stream', route);

  const port = await listen(server, opts.port, opts.host ?? '127.0.0.1');
  return {
    port,
    agents,
    intercepts,
    parked,
    stats: () => ({ ...counts, clientSessions: store.size }),
    close: () =>
      new Promise<void>((resolve) => {
        storeWatch.abort();
        intercepts.close();
        agents.close();
        store.close();
        for (const s of connections) s.destroy();
        server.close(() => resolve());
      }),
  };
}
