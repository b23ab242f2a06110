// The agent's own API port (AGENT_API_PORT, HTTP/2 cleartext like the manager's API): `GET
// /version` for version checks and `/healthz` for probes.
import http2 from 'node:http2';
import type { ManagerVersion } from '@tel/contracts';
import { API_VERSIONS, buildVersion } from '@tel/version';

export const AGENT_NAME = 'Traffic Agent';

export function agentVersion(): ManagerVersion {
  return { name: AGENT_NAME, version: buildVersion, apiVersion: API_VERSIONS.trafficManager };
}

export interface AgentApiServer {
  port: number;
  close(): Promise<void>;
}

export async function startAgentApi(port: number, host = '0.0.0.0'): Promise<AgentApiServer> {
  const body = JSON.stringify(agentVersion());
  const server = http2.createServer((req, res) => {
    if (req.url === '/version') {
      res.setHeader('content-type', 'application/json');
      res.end(body);
    } else if (req.url === '/healthz') {
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: Error) => {
    throw new Error(`can't listen on the agent API port ${port}: ${err.message}`);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.close();
      }),
  };
}
