// The manager's API server (HTTP/2 cleartext on MANAGER_API_PORT, reached through the port-forward):
// the tunnel (CONNECT streams, POST /udp flows), POST /dns (cluster DNS for the workstation
// resolver, @tel/dns-wire), GET /version, GET /cluster-info, GET /healthz.
import http2, { type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createDnsHandler, type Nameserver } from '@tel/dns-wire';
import { TUNNEL_DESTINATION_HEADER, TUNNEL_ERROR_HEADER, TUNNEL_UDP_PATH, type ClusterInfo, type ManagerVersion } from '@tel/contracts';
import { headerSafe, parseDestination } from './address.js';
import type { ManagerLogger } from './log.js';
import { tunnelTcp } from './tcp.js';
import { tunnelUdp } from './udp.js';

export interface ManagerServerOptions {
  port: number;
  host?: string;
  version: ManagerVersion;
  clusterInfo: () => Promise<ClusterInfo>;
  log: ManagerLogger;
  dialTimeoutMs?: number;
  udpIdleMs?: number;
  /**
   * Where `POST /dns` sends queries. Default: the nameservers of this pod's /etc/resolv.conf, which
   * in a pod is the cluster DNS.
   */
  dnsNameservers?: Nameserver[];
  dnsTimeoutMs?: number;
}

export interface ManagerStats {
  tcpActive: number;
  tcpTotal: number;
  udpActive: number;
  udpTotal: number;
  sessions: number;
}

export interface ManagerServer {
  port: number;
  stats(): ManagerStats;
  close(): Promise<void>;
}

/** Connection-level receive window: 1000 streams must not starve each other on one connection. */
const SESSION_WINDOW = 32 << 20;

export async function startManagerServer(opts: ManagerServerOptions): Promise<ManagerServer> {
  const log = opts.log;
  const stats: ManagerStats = { tcpActive: 0, tcpTotal: 0, udpActive: 0, udpTotal: 0, sessions: 0 };
  const server: Http2Server = http2.createServer({
    settings: { maxConcurrentStreams: 10_000, initialWindowSize: 256 << 10 },
    // Outstanding (unacknowledged) bytes across all streams of a session, in MB.
    maxSessionMemory: 256,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    stats.sessions++;
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    session.on('error', (err) => log.debug('session error', { error: err.message }));
    session.on('close', () => {
      sessions.delete(session);
      stats.sessions--;
    });
  });

  const json = (stream: ServerHttp2Stream, status: number, body: unknown) => {
    stream.respond({ ':status': status, 'content-type': 'application/json' });
    stream.end(JSON.stringify(body));
  };
  const fail = (stream: ServerHttp2Stream, status: number, message: string) => {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': status, [TUNNEL_ERROR_HEADER]: headerSafe(message) }, { endStream: true });
  };

  const dns = createDnsHandler({
    log: log.child('dns'),
    ...(opts.dnsNameservers ? { nameservers: opts.dnsNameservers } : {}),
    ...(opts.dnsTimeoutMs ? { timeoutMs: opts.dnsTimeoutMs } : {}),
  });

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined); // each handler reports its own; never crash the server
    if (dns(stream, headers)) return; // POST /dns
    const method = headers[':method'];
    if (method === 'CONNECT') {
      const dest = parseDestination(headers[':authority']);
      if (!dest) return fail(stream, 400, `CONNECT authority must be ip:port, got ${JSON.stringify(headers[':authority'] ?? '')}`);
      stats.tcpActive++;
      stats.tcpTotal++;
      tunnelTcp(stream, dest, { dialTimeoutMs: opts.dialTimeoutMs ?? 10_000, log, onClose: () => stats.tcpActive-- });
      return;
    }
    const path = headers[':path'] ?? '';
    if (method === 'POST' && path === TUNNEL_UDP_PATH) {
      const raw = headers[TUNNEL_DESTINATION_HEADER];
      const dest = parseDestination(Array.isArray(raw) ? raw[0] : raw);
      if (!dest) return fail(stream, 400, `${TUNNEL_DESTINATION_HEADER} must be ip:port`);
      stats.udpActive++;
      stats.udpTotal++;
      tunnelUdp(stream, dest, { idleMs: opts.udpIdleMs ?? 60_000, log, onClose: () => stats.udpActive-- });
      return;
    }
    if (method !== 'GET') return fail(stream, 405, `${method} ${path} is not supported`);
    switch (path) {
      case '/version':
        return json(stream, 200, opts.version);
      case '/healthz':
        stream.respond({ ':status': 200 });
        return void stream.end('ok');
      case '/stats':
        return json(stream, 200, { ...stats, rssBytes: process.memoryUsage().rss });
      case '/cluster-info':
        opts.clusterInfo().then(
          (info) => !stream.destroyed && json(stream, 200, info),
          (err: Error) => {
            log.error('cluster-info failed', { error: err.message });
            fail(stream, 500, err.message);
          },
        );
        return;
      default:
        return fail(stream, 404, `no such path ${path}`);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    port,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
