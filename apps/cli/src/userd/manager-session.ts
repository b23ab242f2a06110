// The user daemon's session in the traffic manager: arrive on connect (after checking the
// manager's capabilities), heartbeat with `remain`, depart on quit. When the manager no longer
// knows the session (it restarted, or the lease ran out) the daemon arrives again with its whole
// desired state, so a reconnect is the same reconcile as the first connect.
import { hostname, userInfo } from 'node:os';
import type { ClientIdentity, DesiredState, Lease, ManagerCapability, ManagerVersion } from '@tel/contracts';
import { clusterError } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { NoAnswerError, isUnknownSession, type ManagerApi } from './manager-api.js';

/** What this client uses of a manager; a manager lacking one is refused at connect. */
export const REQUIRED_CAPABILITIES: readonly ManagerCapability[] = ['tcp-stream', 'udp', 'dns', 'sessions'];
/** Heartbeats per lease: a lost heartbeat or two still leaves time before expiry. */
const HEARTBEATS_PER_LEASE = 3;
/** After a failed heartbeat (manager restarting, port-forward re-dialling), try again this soon. */
const RETRY_MS = 1000;
/**
 * Bound on one heartbeat: a manager pod that is going away must not hold the next attempt back
 * for the whole API timeout (a new pod is usually ready within seconds).
 */
const HEARTBEAT_TIMEOUT_MS = 3000;

/** Refuses a manager that does not announce every capability this client needs. */
export function requireCapabilities(v: ManagerVersion, required: readonly ManagerCapability[] = REQUIRED_CAPABILITIES): void {
  const have = new Set(v.capabilities ?? []);
  const missing = required.filter((c) => !have.has(c));
  if (missing.length === 0) return;
  const names = missing.map((c) => `"${c}"`).join(', ');
  throw clusterError(
    `the traffic manager ${v.version} lacks the ${names} ${missing.length === 1 ? 'capability' : 'capabilities'} this client needs`,
    "upgrade it with 'telepresence helm upgrade'",
  );
}

/** Who this daemon is, as the manager's session list shows it. */
export function clientIdentity(version: string, context?: string, namespace?: string): ClientIdentity {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return { user, host: hostname(), version, ...(context ? { context } : {}), ...(namespace ? { namespace } : {}) };
}

export interface ManagerSessionStatus {
  sessionId: string | undefined;
  /** The manager's version as it last answered `version`. */
  managerVersion: string;
  /** ISO time of the current session's arrival. */
  arrivedAt: string | undefined;
  /** ISO time the manager last answered anything. */
  lastAnswerAt: string | undefined;
  /** How many times the daemon arrived (1 = never had to arrive again). */
  arrivals: number;
  /** Why the last heartbeat failed, while it keeps failing. */
  lastError: string | undefined;
}

export interface ManagerSessionOptions {
  api: ManagerApi;
  client: ClientIdentity;
  log: Logger;
  /** The manager's version at connect (already checked). */
  version: ManagerVersion;
  /** Called after arriving again at a manager whose version differs (an upgrade under us). */
  onVersion?: (v: ManagerVersion) => void;
}

type ArriveListener = (sessionId: string) => void;

export class ManagerSession {
  private lease: Lease | undefined;
  private arrivedAt: number | undefined;
  private arrivals = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A heartbeat (remain or arrive) is in flight. */
  private beating = false;
  private version: ManagerVersion;
  /** What this client wants in the cluster; replayed in full on every arrive. */
  private desired: DesiredState = { intercepts: [] };
  /** The manager may not have the latest desired state: a setDesired got no answer. */
  private desiredUnsent = false;
  private readonly arriveListeners = new Set<ArriveListener>();

  constructor(private readonly opts: ManagerSessionOptions) {
    this.version = opts.version;
  }

  /** Arrive (connect fails if this fails), then heartbeat until stop(). */
  async start(): Promise<Lease> {
    const lease = await this.arrive();
    this.schedule(lease.leaseMs / HEARTBEATS_PER_LEASE);
    return lease;
  }

  /** The current session id (undefined while arriving again). */
  sessionId(): string | undefined {
    return this.lease?.sessionId;
  }

  /** The manager's version and capabilities as it last answered (they change with an upgrade under us). */
  managerVersion(): ManagerVersion {
    return this.version;
  }

  /** Called with the new session id after every arrive (the first and each re-arrive). */
  onArrive(listener: ArriveListener): void {
    this.arriveListeners.add(listener);
    if (this.lease) listener(this.lease.sessionId);
  }

  /**
   * Heartbeat now instead of at the next tick: a watch on the manager broke, so it may have
   * restarted; arriving again at once gets intercepts back in seconds rather than a lease third.
   */
  poke(): void {
    if (this.stopped || this.beating) return;
    clearTimeout(this.timer);
    void this.heartbeat();
  }

  /**
   * Replace the desired state; the manager gets it now, or with the next heartbeat when it gave no
   * answer (a manager pod restarting: the new one gets it with our arrive). Rejects only when the
   * manager refused it.
   */
  async setDesired(desired: DesiredState): Promise<void> {
    this.desired = desired;
    this.desiredUnsent = true;
    const id = this.lease?.sessionId;
    if (!id) return;
    try {
      await this.sendDesired(id);
    } catch (err) {
      if (isUnknownSession(err)) return void (await this.arrive());
      if (!(err instanceof NoAnswerError)) throw err;
      this.opts.log.info('the traffic manager did not answer; the desired state goes with the next heartbeat', { err: err.message });
      this.poke();
    }
  }

  /** Depart (best effort: an unreachable manager expires the session by itself) and stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const id = this.lease?.sessionId;
    this.lease = undefined;
    if (!id) return;
    try {
      await this.opts.api.call('depart', { sessionId: id });
      this.opts.log.info('departed from the traffic manager', { sessionId: id });
    } catch (err) {
      this.opts.log.warn('depart failed; the manager drops the session when its lease ends', { err: String(err) });
    }
  }

  status(): ManagerSessionStatus {
    const last = this.opts.api.lastAnswerAt;
    return {
      sessionId: this.lease?.sessionId,
      managerVersion: this.version.version,
      arrivedAt: this.arrivedAt ? new Date(this.arrivedAt).toISOString() : undefined,
      lastAnswerAt: last ? new Date(last).toISOString() : undefined,
      arrivals: this.arrivals,
      lastError: this.lastError,
    };
  }

  private async arrive(): Promise<Lease> {
    // A manager that forgot us may be another one (upgraded): check what it can do first.
    if (this.arrivals > 0) {
      const v = await this.opts.api.call('version', {});
      requireCapabilities(v);
      if (v.version !== this.version.version) this.opts.onVersion?.(v);
      this.version = v;
    }
    const desired = this.desired;
    const lease = await this.opts.api.call('arrive', { client: this.opts.client, desired });
    if (this.desired === desired) this.desiredUnsent = false;
    if (this.stopped) {
      // stop() ran while arriving (quit during a manager restart): leave no session behind.
      await this.opts.api.call('depart', { sessionId: lease.sessionId }).catch(() => undefined);
      throw new Error('the manager session was stopped while arriving');
    }
    this.lease = lease;
    this.arrivedAt = Date.now();
    this.arrivals++;
    this.opts.log.info(this.arrivals === 1 ? 'arrived at the traffic manager' : 'arrived at the traffic manager again; desired state replayed', {
      sessionId: lease.sessionId,
      leaseMs: lease.leaseMs,
      intercepts: this.desired.intercepts.length,
    });
    for (const l of this.arriveListeners) l(lease.sessionId);
    return lease;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.heartbeat(), ms);
    this.timer.unref();
  }

  private async heartbeat(): Promise<void> {
    let next = RETRY_MS;
    this.beating = true;
    try {
      const id = this.lease?.sessionId;
      const lease = id ? await this.remainOrArrive(id) : await this.arrive();
      if (this.desiredUnsent) await this.resendDesired(lease.sessionId);
      next = lease.leaseMs / HEARTBEATS_PER_LEASE;
      if (this.lastError) this.opts.log.info('the traffic manager answers again', { sessionId: lease.sessionId });
      this.lastError = undefined;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== this.lastError) this.opts.log.warn('heartbeat to the traffic manager failed; retrying', { err: msg });
      this.lastError = msg;
    } finally {
      this.beating = false;
    }
    if (!this.stopped) this.schedule(next);
  }

  /**
   * Sends the desired state as it is now. Once the manager has it, or refused it (sending the same
   * again would be refused again), nothing is left to send; a call without an answer leaves it unsent.
   */
  private async sendDesired(sessionId: string): Promise<void> {
    const desired = this.desired;
    try {
      await this.opts.api.call('setDesired', { sessionId, desired });
    } catch (err) {
      if (err instanceof NoAnswerError || isUnknownSession(err)) throw err;
      if (this.desired === desired) this.desiredUnsent = false;
      throw err;
    }
    if (this.desired === desired) this.desiredUnsent = false;
  }

  /** The same manager answers again after a setDesired it did not answer: send it once more. */
  private async resendDesired(sessionId: string): Promise<void> {
    try {
      await this.sendDesired(sessionId);
    } catch (err) {
      // No answer, or a manager that forgot us: the next heartbeat tries again (or arrives with it).
      if (err instanceof NoAnswerError || isUnknownSession(err)) throw err;
      // Refused: nobody waits for this call any more, so say so once.
      this.opts.log.warn('the traffic manager refused the desired state', { err: err instanceof Error ? err.message : String(err) });
    }
  }

  private async remainOrArrive(sessionId: string): Promise<Lease> {
    try {
      return await this.opts.api.call('remain', { sessionId }, { timeoutMs: HEARTBEAT_TIMEOUT_MS });
    } catch (err) {
      if (!isUnknownSession(err)) throw err;
      this.opts.log.info('the traffic manager no longer knows this session (restarted or lease expired); arriving again', { sessionId });
      this.lease = undefined;
      return this.arrive();
    }
  }
}
