// Topic: client sessions. A client arrives (gets a session id and a lease), keeps the lease alive
// with `remain`, and departs; a session whose lease runs out is dropped with everything it owns.
// A manager that answers `unknown-session` (it restarted, or the lease expired) is arrived at again
// with the client's desired state, so reconnecting is the same reconcile as connecting.
import type { Empty } from '../common.js';
import type { InterceptSpec } from './intercepts.js';
import type { Unary, Watch } from './kinds.js';

/**
 * The lease a manager gives unless configured otherwise (its CLIENT_CONNECTION_TTL): how long a
 * session outlives its client's last heartbeat. Clients use the lease each answer carries.
 */
export const DEFAULT_SESSION_LEASE_MS = 15_000;

/** Who is arriving: shown in session lists and logs. */
export interface ClientIdentity {
  /** The workstation user's name (for people reading `sessions`). */
  user: string;
  /** The workstation's host name. */
  host: string;
  /** The client's build version. */
  version: string;
  /** The kube context the client connected with. */
  context?: string;
  /** The namespace the client connected to. */
  namespace?: string;
}

/**
 * What a client wants to exist in the cluster on its behalf. Replayed in full on every arrive,
 * so a manager that lost its memory converges to it.
 */
export interface DesiredState {
  /** One entry per intercept the client wants. */
  intercepts: InterceptSpec[];
}

export interface ArriveRequest {
  client: ClientIdentity;
  desired: DesiredState;
}

export interface Lease {
  sessionId: string;
  /** How long the session lives without a `remain`, in ms; clients heartbeat well within it. */
  leaseMs: number;
}

/** What a manager reports about one session. */
export interface SessionSummary {
  sessionId: string;
  client: ClientIdentity;
  desired: DesiredState;
  /** ISO time of arrival. */
  arrivedAt: string;
  /** ISO time of the last arrive or remain. */
  lastSeen: string;
  /** ISO time the session expires unless the client remains. */
  expiresAt: string;
}

/** One event of the sessions watch: the complete current list (first event: the state now). */
export interface SessionsEvent {
  sessions: SessionSummary[];
  /** Why this event was sent: the first snapshot, or what changed. */
  reason: 'snapshot' | 'arrived' | 'departed' | 'expired' | 'updated';
}

export interface SessionsContract {
  /** Start a session; the answer's lease must be renewed with `remain`. */
  arrive: Unary<ArriveRequest, Lease>;
  /** Renew the lease; fails with code `unknown-session` when the manager no longer has it. */
  remain: Unary<{ sessionId: string }, Lease>;
  /** Replace the session's desired state (after an intercept is added or removed). */
  setDesired: Unary<{ sessionId: string; desired: DesiredState }, Empty>;
  /** End the session now (quit); unknown ids are not an error. */
  depart: Unary<{ sessionId: string }, Empty>;
  /** The sessions the manager holds now. */
  listSessions: Unary<Empty, { sessions: SessionSummary[] }>;
  /** The session list, again after every change, until the client cancels. */
  watchSessions: Watch<Empty, SessionsEvent>;
}
