// The agents' control port (MANAGER_AGENT_PORT, HTTP/2 cleartext on the pod network): the agent
// contract (@tel/contracts agent.ts). Arriving needs the agent's projected service-account token,
// reviewed by the API server; the agent session id it gets is the credential from then on.
import { listen } from '../listen.js';
import http2 from 'node:http2';
import net from 'node:net';
import { guardH2 } from '../h2-frame-guard.js';
import { AGENT_ROUTES, AGENT_TOKEN_HEADER, type AgentContract } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import type { AgentIdentity } from './agent-auth.js';
import { createRouter, type Handlers } from './router.js';
import type { AgentStore } from './state/agents.js';

export interface AgentServerOptions {
  port: number;
  host?: string;
  agents: AgentStore;
  authenticate: (token: string) => Promise<AgentIdentity>;
  log: Logger;
}

export interface AgentServer {
  port: number;
  close(): Promise<void>;
}

/** `Bearer <token>` → token ('' when absent or malformed: the authenticator refuses it). */
export function bearerToken(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  const m = /^Bearer (\S+)$/.exec(v ?? '');
  return m ? m[1]! : '';
}

export async function startAgentServer(opts: AgentServerOptions): Promise<AgentServer> {
  const log = opts.log.child('agents');
  const handlers: Handlers<AgentContract> = {
    agentArrive: async (req, ctx) => opts.agents.arrive(req, await opts.authenticate(bearerToken(ctx.headers[AGENT_TOKEN_HEADER]))),
    // An unknown session id throws: the router ends the stream and the agent arrives again.
    watchAgentIntercepts: (req, sink) => opts.agents.watch(req?.agentSessionId, sink),
  };
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', createRouter(AGENT_ROUTES, handlers, {}, log));
  // Any pod can connect here: frame sizes are checked before node:http2 reads them (a bad frame
  // can abort the process; h2-frame-guard.ts).
  const tcp = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const from = socket.remoteAddress;
    guardH2(socket, {
      onBad: (why) => log.info(`closing an agent connection from ${from} that sent ${why}`),
      serve: (inner) => server.emit('connection', inner),
    });
  });
  const port = await listen(tcp, opts.port, opts.host ?? '0.0.0.0');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        tcp.close(() => resolve());
      }),
  };
}
