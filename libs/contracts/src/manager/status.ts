// Topic: the manager's own counters, for operators and tests (`GET /stats`).
import type { Empty } from '../common.js';
import type { Unary } from './kinds.js';

export interface ManagerStatsReport {
  /** UDP flows open now / since start. */
  udpActive: number;
  udpTotal: number;
  /** HTTP/2 connections to the API port (each one port-forward stream). */
  connections: number;
  /** Client sessions held (arrived, lease not expired). */
  clientSessions: number;
  /** The manager process's resident memory. */
  rssBytes: number;
}

export interface StatusContract {
  stats: Unary<Empty, ManagerStatsReport>;
}
