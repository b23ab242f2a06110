// Wires the manager role: in-cluster credentials, the HTTP/2 API server and the TCP stream tunnel
// (both on the pod's loopback, reached only through the port-forward), and a tiny HTTP/1.1 health
// server on the pod network for the kubelet's readiness probe (kubelet probes cannot speak h2c).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { AGENT_IMAGE_ENV } from '@tel/agent-config';
import { DEFAULT_MANAGER_NAMESPACE, MANAGER_AGENT_PORT, MANAGER_AGENT_TUNNEL_PORT, MANAGER_HEALTH_PORT, MANAGER_TCP_PORT, MANAGER_WEBHOOK_PORT, type ManagerVersion } from '@tel/contracts';
import { configError } from '@tel/errors';
import { createLogger, parseLevel } from '@tel/logging';
import { agentAuthenticator } from './agent-auth.js';
import { startAgentServer } from './agent-server.js';
import { clusterInfoProvider } from './cluster-info.js';
import { startInjector } from './inject/index.js';
import { startAgentTunnel } from './intercept-relay.js';
import { startManagerServer } from './server.js';
import { sessionLeaseMs } from './state/sessions.js';
import { startTcpStreamServer } from './tcp-stream.js';

/**
 * Where the client ports listen. The kubelet's port-forward dials the pod's localhost, so a
 * loopback listener is reachable through it and from nowhere else in the cluster: no pod can use
 * the manager as a relay around its NetworkPolicies.
 */
export const CLIENT_PORTS_HOST = '127.0.0.1';

function ownNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return DEFAULT_MANAGER_NAMESPACE;
  }
}

export async function runManager(env: NodeJS.ProcessEnv, version: ManagerVersion, apiPort: number): Promise<void> {
  const log = createLogger('manager', { level: parseLevel(env.TELEPRESENCE_LOG_LEVEL), stream: process.stdout });
  // 1. Configuration and credentials: the pod's service account (KUBECONFIG only for running
  //    outside a cluster). A malformed lease fails the start with a message naming the variable.
  const leaseMs = sessionLeaseMs(env);
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromCluster();
  const namespace = ownNamespace(env);

  const agentImage = env[AGENT_IMAGE_ENV];
  if (!agentImage) throw configError(`${AGENT_IMAGE_ENV} is not set`, "run 'telepresence helm upgrade' to update the manager's Deployment");

  // 2. The injector (webhook certificate, HTTPS server, caBundle), then the API server for
  //    clients, the TCP stream tunnel (whose park verb hands connections to the intercept relay),
  //    and the agents' control and data ports; all announced by the capabilities in `version`.
  const injector = await startInjector({ kc, namespace, log, agentImage, ...(env.TELEPRESENCE_LOG_LEVEL ? { logLevel: env.TELEPRESENCE_LOG_LEVEL } : {}), webhookPort: Number(env.MANAGER_WEBHOOK_PORT ?? MANAGER_WEBHOOK_PORT) });
  const server = await startManagerServer({
    port: apiPort,
    host: CLIENT_PORTS_HOST,
    version,
    clusterInfo: clusterInfoProvider({ kc, namespace, log }),
    log,
    sessionLeaseMs: leaseMs,
    installer: injector,
    agentImage,
    ...(env.TELEPRESENCE_UDP_IDLE_MS ? { udpIdleMs: Number(env.TELEPRESENCE_UDP_IDLE_MS) } : {}),
  });
  const tcpStream = await startTcpStreamServer({
    port: Number(env.MANAGER_TCP_PORT ?? MANAGER_TCP_PORT),
    host: CLIENT_PORTS_HOST,
    dialTimeoutMs: 10_000,
    log,
    onPark: (conn, park) => server.parked.park(conn, park),
  });
  // Agents cannot use a port-forward: their ports are on the pod network, guarded by the token
  // review (control) and the agent session id it yields (data).
  const agentServer = await startAgentServer({ port: Number(env.MANAGER_AGENT_PORT ?? MANAGER_AGENT_PORT), agents: server.agents, authenticate: agentAuthenticator(kc, log), log });
  const agentTunnel = await startAgentTunnel({ port: Number(env.MANAGER_AGENT_TUNNEL_PORT ?? MANAGER_AGENT_TUNNEL_PORT), agents: server.agents, intercepts: server.intercepts, parked: server.parked, log });

  // 3. Health for the readiness probe: ready once the API server trusts the webhook (its caBundle
  //    is in place), so a manager that reports ready also injects agents.
  const healthPort = Number(env.MANAGER_HEALTH_PORT ?? MANAGER_HEALTH_PORT);
  const health = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      if (injector.isReady()) res.end('ok');
      else res.writeHead(503).end('webhook CA not in place yet');
    }
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => health.listen(healthPort, '0.0.0.0', resolve));
  log.info(`${version.name} ${version.version} serving the API on ${CLIENT_PORTS_HOST}:${server.port}, the TCP tunnel on ${CLIENT_PORTS_HOST}:${tcpStream.port}, agents on :${agentServer.port} and :${agentTunnel.port}, the webhook on :${injector.webhookPort}, health on :${healthPort}`, { namespace, sessionLeaseMs: leaseMs });

  const statsTimer = setInterval(() => log.info('stats', { ...server.stats(), tcpStream: tcpStream.stats(), agentTunnel: agentTunnel.stats(), parked: server.parked.count(), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }), 300_000);
  statsTimer.unref();
  const stop = () => {
    log.info('shutting down');
    health.close();
    void Promise.all([server.close(), tcpStream.close(), agentServer.close(), agentTunnel.close(), injector.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
