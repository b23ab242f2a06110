// Wires the manager role: in-cluster credentials, the HTTP/2 API server, and a tiny HTTP/1.1
// health server for the kubelet's readiness probe (kubelet probes cannot speak h2c).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { MANAGER_TCP_PORT, type ManagerVersion } from '@tel/contracts';
import { clusterInfoProvider } from './cluster-info.js';
import { parseLogLevel, stdoutLogger } from './log.js';
import { startManagerServer } from './server.js';
import { startTcpStreamServer } from './tcp-stream.js';

/** The health port's default; the Deployment sets MANAGER_HEALTH_PORT explicitly. */
export const DEFAULT_HEALTH_PORT = 8082;

function ownNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return 'ambassador';
  }
}

export async function runManager(env: NodeJS.ProcessEnv, version: ManagerVersion, apiPort: number): Promise<void> {
  const log = stdoutLogger(parseLogLevel(env.TELEPRESENCE_LOG_LEVEL));
  // 1. Credentials: the pod's service account (KUBECONFIG only for running outside a cluster).
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromCluster();
  const namespace = ownNamespace(env);

  // 2. The TCP stream tunnel (one connection per workstation TCP connection; @tel/tcp-wire),
  //    announced in /version so clients know to use it; then the API server for clients.
  const tcpStream = await startTcpStreamServer({ port: Number(env.MANAGER_TCP_PORT ?? MANAGER_TCP_PORT), dialTimeoutMs: 10_000, log });
  version = { ...version, tcpStreamPort: tcpStream.port };
  const server = await startManagerServer({
    port: apiPort,
    version,
    clusterInfo: clusterInfoProvider({ kc, namespace, log }),
    log,
    ...(env.TELEPRESENCE_UDP_IDLE_MS ? { udpIdleMs: Number(env.TELEPRESENCE_UDP_IDLE_MS) } : {}),
  });

  // 3. Health for the readiness probe: ready as soon as the API port accepts connections.
  const healthPort = Number(env.MANAGER_HEALTH_PORT ?? DEFAULT_HEALTH_PORT);
  const health = http.createServer((req, res) => {
    if (req.url === '/healthz') res.end('ok');
    else if (req.url === '/version') res.setHeader('content-type', 'application/json').end(JSON.stringify(version));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => health.listen(healthPort, '0.0.0.0', resolve));
  log.info(`${version.name} ${version.version} serving the API on :${server.port}, health on :${healthPort}`, { namespace });

  const statsTimer = setInterval(() => log.info('stats', { ...server.stats(), tcpStream: tcpStream.stats(), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }), 300_000);
  statsTimer.unref();
  const stop = () => {
    log.info('shutting down');
    health.close();
    void Promise.all([server.close(), tcpStream.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
