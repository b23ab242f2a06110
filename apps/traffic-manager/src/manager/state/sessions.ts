// Client sessions held by the manager: arrive (id + lease), remain (renew), depart, and expiry of
// sessions whose client stopped renewing. In memory only: a restarted manager knows no session,
// answers `unknown-session`, and each client arrives again with its desired state.
import { randomUUID } from 'node:crypto';
import { DEFAULT_SESSION_LEASE_MS, type ArriveRequest, type ClientIdentity, type DesiredState, type HttpFilterSpec, type InterceptSpec, type WorkloadKind, type Lease, type SessionSummary, type SessionsEvent } from '@tel/contracts';
import { configError } from '@tel/errors';
import type { Logger } from '@tel/logging';
import { parseFilter } from '@tel/agent-config';
import { RequestError } from '../router.js';

export { DEFAULT_SESSION_LEASE_MS };
/**
 * The manager's environment variable for the lease (2.x calls the same knob the client connection
 * TTL): a Go-style duration ("15s", "1m30s", "500ms") or plain milliseconds.
 */
export const SESSION_LEASE_ENV = 'CLIENT_CONNECTION_TTL';

interface Held {
  sessionId: string;
  client: ClientIdentity;
  desired: DesiredState;
  arrivedAt: number;
  lastSeen: number;
  timer: NodeJS.Timeout;
}

type Listener = (event: SessionsEvent) => void;

export class SessionStore {
  private readonly sessions = new Map<string, Held>();
  private readonly listeners = new Set<Listener>();

  constructor(
    readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  arrive(req: ArriveRequest): Lease {
    const client = checkClient(req?.client);
    const desired = checkDesired(req?.desired);
    const now = Date.now();
    const sessionId = randomUUID();
    this.sessions.set(sessionId, { sessionId, client, desired, arrivedAt: now, lastSeen: now, timer: this.expireTimer(sessionId) });
    this.log.info('client arrived', { sessionId, user: client.user, host: client.host, version: client.version, intercepts: desired.intercepts.length });
    this.emit('arrived');
    return { sessionId, leaseMs: this.leaseMs };
  }

  remain(sessionId: unknown): Lease {
    const s = this.get(sessionId);
    s.lastSeen = Date.now();
    s.timer.refresh();
    return { sessionId: s.sessionId, leaseMs: this.leaseMs };
  }

  setDesired(sessionId: unknown, desired: unknown): void {
    const s = this.get(sessionId);
    s.desired = checkDesired(desired);
    s.lastSeen = Date.now();
    s.timer.refresh();
    this.emit('updated');
  }

  depart(sessionId: unknown): void {
    if (typeof sessionId !== 'string' || !this.sessions.has(sessionId)) return;
    this.drop(sessionId, 'departed');
  }

  list(): SessionSummary[] {
    return [...this.sessions.values()].map((s) => ({
      sessionId: s.sessionId,
      client: s.client,
      desired: s.desired,
      arrivedAt: new Date(s.arrivedAt).toISOString(),
      lastSeen: new Date(s.lastSeen).toISOString(),
      expiresAt: new Date(s.lastSeen + this.leaseMs).toISOString(),
    }));
  }

  /** Calls `listener` with the list now and after every change until `signal` aborts. */
  watch(listener: Listener, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.listeners.add(listener);
    signal.addEventListener('abort', () => this.listeners.delete(listener), { once: true });
    listener({ sessions: this.list(), reason: 'snapshot' });
  }

  close(): void {
    for (const s of this.sessions.values()) clearTimeout(s.timer);
    this.sessions.clear();
    this.listeners.clear();
  }

  private get(sessionId: unknown): Held {
    const s = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!s) {
      throw new RequestError('unknown-session', 'cluster', `the traffic manager has no session ${JSON.stringify(sessionId)}`, 'arrive again (the manager restarted or the lease expired)');
    }
    return s;
  }

  /** One timer per session, refreshed by remain: expiry costs nothing while clients heartbeat. */
  private expireTimer(sessionId: string): NodeJS.Timeout {
    const t = setTimeout(() => this.drop(sessionId, 'expired'), this.leaseMs);
    t.unref();
    return t;
  }

  private drop(sessionId: string, reason: 'departed' | 'expired'): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    clearTimeout(s.timer);
    this.sessions.delete(sessionId);
    this.log.info(`client ${reason}`, { sessionId, user: s.client.user, host: s.client.host, ...(reason === 'expired' ? { idleMs: Date.now() - s.lastSeen } : {}) });
    this.emit(reason);
  }

  private emit(reason: SessionsEvent['reason']): void {
    if (this.listeners.size === 0) return;
    const event: SessionsEvent = { sessions: this.list(), reason };
    for (const l of this.listeners) l(event);
  }
}

/**
 * The lease from the manager's environment (SESSION_LEASE_ENV): a duration like "15s", "1m30s",
 * "500ms", or a number of milliseconds. Unset → the default; malformed → an error that says so.
 */
export function sessionLeaseMs(env: NodeJS.ProcessEnv): number {
  const raw = env[SESSION_LEASE_ENV]?.trim();
  if (!raw) return DEFAULT_SESSION_LEASE_MS;
  if (/^\d+$/.test(raw)) return positive(Number(raw), raw);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(raw))) {
    total += Number(m[1]) * unit[m[2]!]!;
    at = re.lastIndex;
  }
  if (at !== raw.length || at === 0) {
    throw configError(`${SESSION_LEASE_ENV}=${JSON.stringify(raw)} is not a duration`, 'use a duration like 15s or 1m, or milliseconds');
  }
  return positive(total, raw);
}

function positive(ms: number, raw: string): number {
  if (!(ms >= 1000)) throw configError(`${SESSION_LEASE_ENV}=${JSON.stringify(raw)} is shorter than 1s`, 'use at least 1s (clients heartbeat at a third of the lease)');
  return Math.round(ms);
}

function checkClient(v: unknown): ClientIdentity {
  const c = v as ClientIdentity | undefined;
  if (!c || typeof c.user !== 'string' || typeof c.host !== 'string' || typeof c.version !== 'string') {
    throw new RequestError('bad-request', 'bug', 'arrive needs client {user, host, version}');
  }
  return {
    user: c.user.slice(0, 256),
    host: c.host.slice(0, 256),
    version: c.version.slice(0, 128),
    ...(typeof c.context === 'string' ? { context: c.context.slice(0, 256) } : {}),
    ...(typeof c.namespace === 'string' ? { namespace: c.namespace.slice(0, 256) } : {}),
  };
}

function checkDesired(v: unknown): DesiredState {
  const d = v as DesiredState | undefined;
  if (!d || !Array.isArray(d.intercepts)) throw new RequestError('bad-request', 'bug', 'desired state needs intercepts: [...]');
  const intercepts = d.intercepts.map(checkInterceptSpec);
  const names = new Set<string>();
  for (const i of intercepts) {
    if (names.has(i.name)) throw new RequestError('bad-request', 'user', `intercept ${i.name} is listed twice`, 'give each intercept its own name');
    names.add(i.name);
  }
  return { intercepts };
}

const KINDS: readonly WorkloadKind[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'Rollout'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** One desired intercept, as the manager accepts it (a client of this series never sends less). */
export function checkInterceptSpec(v: unknown): InterceptSpec {
  const i = v as Partial<InterceptSpec> | null;
  const bad = (what: string) => new RequestError('bad-request', 'bug', `intercept spec: ${what}`);
  if (!i || typeof i !== 'object') throw bad('not an object');
  if (typeof i.name !== 'string' || !DNS_SUBDOMAIN.test(i.name)) throw bad(`name ${JSON.stringify(i.name)} is not a DNS subdomain`);
  if (typeof i.namespace !== 'string' || !DNS_LABEL.test(i.namespace)) throw bad(`namespace ${JSON.stringify(i.namespace)} is not a DNS label`);
  if (typeof i.workload !== 'string' || !DNS_SUBDOMAIN.test(i.workload)) throw bad(`workload ${JSON.stringify(i.workload)} is not a DNS subdomain`);
  if (i.workloadKind !== undefined && !KINDS.includes(i.workloadKind)) throw bad(`workloadKind ${JSON.stringify(i.workloadKind)}`);
  if (i.service !== undefined && (typeof i.service !== 'string' || !DNS_LABEL.test(i.service))) throw bad(`service ${JSON.stringify(i.service)}`);
  if (i.port !== undefined && !(typeof i.port === 'string' ? /^[a-z0-9-]{1,15}$/.test(i.port) : Number.isInteger(i.port) && i.port >= 1 && i.port <= 65535)) throw bad(`port ${JSON.stringify(i.port)}`);
  if (!Number.isInteger(i.localPort) || i.localPort! < 1 || i.localPort! > 65535) throw bad(`localPort ${JSON.stringify(i.localPort)}`);
  const filter = i.filter === undefined ? undefined : checkFilter(i.filter, i.name);
  return {
    name: i.name,
    namespace: i.namespace,
    workload: i.workload,
    ...(i.workloadKind ? { workloadKind: i.workloadKind } : {}),
    ...(i.service ? { service: i.service } : {}),
    ...(i.port !== undefined ? { port: i.port } : {}),
    localPort: i.localPort!,
    ...(filter ? { filter } : {}),
  };
}

/** A personal intercept's filter: the shape a client sends, then the one parser's verdict on it. */
function checkFilter(v: unknown, name: string): HttpFilterSpec {
  const f = v as HttpFilterSpec | null;
  const str = (x: unknown) => x === undefined || (typeof x === 'string' && x.length <= 1024);
  if (!f || typeof f !== 'object' || !str(f.pathEqual) || !str(f.pathPrefix) || !str(f.pathRegex) || (f.headers !== undefined && !(Array.isArray(f.headers) && f.headers.length <= 32 && f.headers.every((h) => typeof h === 'string' && h.length <= 1024)))) {
    throw new RequestError('bad-request', 'bug', `intercept spec ${name}: filter is not {headers?: string[], pathEqual?, pathPrefix?, pathRegex?}`);
  }
  const parsed = parseFilter(f);
  if ('error' in parsed) throw new RequestError('bad-request', 'user', `intercept ${name}: ${parsed.error}`);
  return {
    ...(f.headers?.length ? { headers: [...f.headers] } : {}),
    ...(f.pathEqual !== undefined ? { pathEqual: f.pathEqual } : {}),
    ...(f.pathPrefix !== undefined ? { pathPrefix: f.pathPrefix } : {}),
    ...(f.pathRegex !== undefined ? { pathRegex: f.pathRegex } : {}),
  };
}
