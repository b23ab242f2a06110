// Traffic agents connected to this manager. An agent arrives (after its token was reviewed),
// then holds its intercepts watch open; the session ends with that stream. In memory only: after a
// manager restart every agent arrives again, and until then sends everything to its app.
import { randomUUID } from 'node:crypto';
import type { AgentArriveRequest, AgentInfo, AgentIntercept, AgentLease, WorkloadKind } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import type { AgentIdentity } from '../agent-auth.js';
import type { WorkloadRef } from '../inject/rollout.js';
import { RequestError } from '../router.js';
import type { WatchSink } from '../router.js';

export function workloadKey(w: WorkloadRef): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export interface HeldAgent {
  agentSessionId: string;
  pod: string;
  podIp: string;
  workload: WorkloadRef;
  version: string;
  configHash: string;
  environment: Record<string, string>;
  sink?: WatchSink<{ intercepts: AgentIntercept[] }>;
}

/** An agent that arrived but opened no watch within this long is forgotten. */
const WATCH_GRACE_MS = 10_000;
const KINDS: readonly WorkloadKind[] = ['Deployment', 'ReplicaSet', 'StatefulSet', 'Rollout'];

export class AgentStore {
  private readonly agents = new Map<string, HeldAgent>();
  private readonly listeners = new Set<(workload: WorkloadRef) => void>();

  /**
   * @param interceptsFor the intercepts `agent` must serve now
   */
  constructor(
    private readonly interceptsFor: (agent: HeldAgent) => AgentIntercept[],
    private readonly log: Logger,
  ) {}

  arrive(req: AgentArriveRequest, who: AgentIdentity): AgentLease {
    const r = checkArrive(req);
    // The token proves the service account; an agent may speak only for pods of its own namespace
    // (and for its own pod, when the API server bound the token to one).
    if (who.namespace !== r.namespace || (who.pod && who.pod !== r.pod)) {
      throw new RequestError('unauthenticated', 'user', `an agent of ${who.namespace}${who.pod ? `/${who.pod}` : ''} may not speak for pod ${r.namespace}/${r.pod}`);
    }
    const agentSessionId = randomUUID();
    const held: HeldAgent = { agentSessionId, pod: r.pod, podIp: r.podIp, workload: { namespace: r.namespace, ...r.workload }, version: r.version, configHash: r.configHash, environment: r.environment };
    this.agents.set(agentSessionId, held);
    setTimeout(() => {
      if (!held.sink && this.agents.get(agentSessionId) === held) this.drop(agentSessionId);
    }, WATCH_GRACE_MS).unref();
    this.log.info('agent arrived', { pod: `${r.namespace}/${r.pod}`, workload: workloadKey(held.workload), version: r.version, configHash: r.configHash });
    return { agentSessionId };
  }

  /** The agent's intercepts, now and after every change; the session ends with the stream. */
  watch(agentSessionId: unknown, sink: WatchSink<{ intercepts: AgentIntercept[] }>): void {
    const held = this.get(agentSessionId);
    held.sink = sink;
    sink.signal.addEventListener('abort', () => this.drop(held.agentSessionId), { once: true });
    sink.send({ intercepts: this.interceptsFor(held) });
    this.emit(held.workload);
  }

  get(agentSessionId: unknown): HeldAgent {
    const held = typeof agentSessionId === 'string' ? this.agents.get(agentSessionId) : undefined;
    if (!held) throw new RequestError('unknown-session', 'cluster', `the traffic manager has no agent session ${JSON.stringify(agentSessionId)}`, 'arrive again');
    return held;
  }

  find(agentSessionId: string): HeldAgent | undefined {
    return this.agents.get(agentSessionId);
  }

  /** Agents of a workload whose watch is open. */
  of(workload: WorkloadRef): HeldAgent[] {
    const key = workloadKey(workload);
    return [...this.agents.values()].filter((a) => a.sink && workloadKey(a.workload) === key);
  }

  /** Sends the workload's agents their current intercepts (after one started or ended). */
  notify(workload: WorkloadRef): void {
    for (const a of this.of(workload)) a.sink!.send({ intercepts: this.interceptsFor(a) });
  }

  /** Called with the workload whenever one of its agents starts or stops watching. */
  onChange(listener: (workload: WorkloadRef) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(namespace?: string): AgentInfo[] {
    const byWorkload = new Map<string, AgentInfo>();
    for (const a of this.agents.values()) {
      if (!a.sink || (namespace && a.workload.namespace !== namespace)) continue;
      const key = workloadKey(a.workload);
      const info = byWorkload.get(key) ?? { namespace: a.workload.namespace, workload: a.workload.name, kind: a.workload.kind, versions: [], pods: [] };
      if (!info.versions.includes(a.version)) info.versions.push(a.version);
      info.pods.push(a.pod);
      byWorkload.set(key, info);
    }
    return [...byWorkload.values()];
  }

  close(): void {
    this.agents.clear();
    this.listeners.clear();
  }

  private drop(agentSessionId: string): void {
    const held = this.agents.get(agentSessionId);
    if (!held) return;
    this.agents.delete(agentSessionId);
    this.log.info('agent left', { pod: `${held.workload.namespace}/${held.pod}` });
    if (held.sink) this.emit(held.workload);
  }

  private emit(workload: WorkloadRef): void {
    for (const l of this.listeners) l(workload);
  }
}

function checkArrive(v: unknown): AgentArriveRequest {
  const r = v as Partial<AgentArriveRequest> | null;
  const bad = (what: string) => new RequestError('bad-request', 'bug', `agent arrive: ${what}`);
  if (!r || typeof r !== 'object') throw bad('not an object');
  for (const k of ['pod', 'podIp', 'namespace', 'version', 'configHash'] as const) if (typeof r[k] !== 'string' || !r[k]) throw bad(`${k} missing`);
  if (!r.workload || !KINDS.includes(r.workload.kind) || typeof r.workload.name !== 'string') throw bad('workload must be {kind, name}');
  const env = r.environment ?? {};
  if (typeof env !== 'object' || Object.values(env).some((x) => typeof x !== 'string')) throw bad('environment must map names to strings');
  return { pod: r.pod!, podIp: r.podIp!, namespace: r.namespace!, workload: { kind: r.workload.kind, name: r.workload.name }, version: r.version!, configHash: r.configHash!, environment: env };
}
