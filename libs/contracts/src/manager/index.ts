// Boundary: client (user daemon, root daemon) → traffic manager, reached only through the
// RBAC-authorised Kubernetes port-forward (the client ports listen on the pod's loopback).
// CLUSTER-FACING: stays backward compatible within a release series; add optional fields and new
// methods (announced as capabilities), never change meanings.
import { DNS_PATH } from '../dns.js';
import type { ClusterInfoContract } from './cluster-info.js';
import type { InterceptsContract } from './intercepts.js';
import type { RouteTable } from './kinds.js';
import type { SessionsContract } from './sessions.js';
import type { StatusContract } from './status.js';
import { TUNNEL_UDP_PATH } from './tunnel.js';
import type { VersionContract } from './version.js';

export * from './kinds.js';
export * from './version.js';
export * from './cluster-info.js';
export * from './sessions.js';
export * from './tunnel.js';
export * from './status.js';
export * from './intercepts.js';

/** Every typed method of the manager API, topic by topic. */
export interface ManagerContract extends VersionContract, ClusterInfoContract, SessionsContract, StatusContract, InterceptsContract {}

/**
 * Where each method is served. Typed by the contract: a method without a route does not compile,
 * and the manager's route table and the client are both built from this object.
 */
export const MANAGER_ROUTES: RouteTable<ManagerContract> = {
  version: { kind: 'unary', http: 'GET', path: '/version' },
  clusterInfo: { kind: 'unary', http: 'GET', path: '/cluster-info' },
  arrive: { kind: 'unary', http: 'POST', path: '/sessions/arrive' },
  remain: { kind: 'unary', http: 'POST', path: '/sessions/remain' },
  setDesired: { kind: 'unary', http: 'POST', path: '/sessions/desired' },
  depart: { kind: 'unary', http: 'POST', path: '/sessions/depart' },
  listSessions: { kind: 'unary', http: 'GET', path: '/sessions' },
  watchSessions: { kind: 'watch', path: '/sessions/watch' },
  stats: { kind: 'unary', http: 'GET', path: '/stats' },
  watchIntercepts: { kind: 'watch', path: '/intercepts/watch' },
  listIntercepts: { kind: 'unary', http: 'POST', path: '/intercepts' },
  listAgents: { kind: 'unary', http: 'POST', path: '/agents' },
  uninstallAgents: { kind: 'unary', http: 'POST', path: '/agents/uninstall' },
};

/**
 * Raw routes on the API port (bytes, not JSON), each with its own protocol: `udp` (tunnel.ts) and
 * `dns` (../dns.ts). The TCP stream tunnel has its own port (MANAGER_TCP_PORT).
 */
export const MANAGER_RAW_ROUTES = {
  udp: { http: 'POST', path: TUNNEL_UDP_PATH },
  dns: { http: 'POST', path: DNS_PATH },
} as const;
export type ManagerRawRoute = keyof typeof MANAGER_RAW_ROUTES;
