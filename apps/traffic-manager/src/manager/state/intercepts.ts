// Intercepts held by the manager: what sessions want (their desired state), reconciled into
// agents and rollouts, reported per session and to the agents that serve them. A session that
// departs or whose lease runs out loses its intercepts at once; its agents then send traffic to
// the app again. In memory only: after a restart, clients arrive again with their desired state.
import { randomUUID } from 'node:crypto';
import { AgentConfigError, agentPodPatch, notHttpReason, pickServicePort } from '@tel/agent-config';
import type { AgentIntercept, InterceptErrorCode, InterceptInfo, InterceptSpec, SessionSummary } from '@tel/contracts';
import type { Logger } from '@tel/logging';
import { RequestError } from '../router.js';
import type { RolloutStatus, WorkloadRef } from '../inject/rollout.js';
import type { WorkloadInjector } from '../inject/workloads.js';
import { workloadKey, type AgentStore } from './agents.js';

interface Held {
  info: InterceptInfo;
  ref?: WorkloadRef;
  hash?: string;
  agentPort?: number;
  rollout?: RolloutStatus;
  /** When the rollout's old pods stopped counting (gone, or out of the endpoints long enough). */
  settleTimer?: NodeJS.Timeout;
  settled?: boolean;
  /** A status of this rollout not yet done was seen: pods were replaced, endpoints changed. */
  sawRollout?: boolean;
  /**
   * The agent is wanted with this intercept's config: agents of that config serve it from now on,
   * pod by pod as the rollout brings them up (the intercept reports active once all do).
   */
  routable?: boolean;
  /** This intercept put the agent annotation there (it was absent or another config before). */
  installedAgent?: boolean;
  abort: AbortController;
}

type Listener = (sessionId: string) => void;

/** How long after a rollout's endpoint changes kube-proxy is taken to have applied them (it does so asynchronously, unobservably). */
const KUBE_PROXY_SETTLE_MS = 1_500;

const sameSpec = (a: InterceptSpec, b: InterceptSpec) => JSON.stringify(a) === JSON.stringify(b);

export class InterceptStore {
  /** By intercept id. */
  private readonly held = new Map<string, Held>();
  private readonly listeners = new Set<Listener>();
  private agents!: AgentStore;

  constructor(
    private readonly installer: WorkloadInjector,
    private readonly log: Logger,
  ) {}

  /** Set once, after both stores exist (each needs the other). */
  attach(agents: AgentStore): void {
    this.agents = agents;
    agents.onChange((w) => {
      for (const h of this.held.values()) if (h.ref && workloadKey(h.ref) === workloadKey(w)) this.checkActive(h);
    });
  }

  /** Brings the intercepts in line with every session's desired state (after any session change). */
  reconcile(sessions: SessionSummary[]): void {
    const wanted = new Map<string, { session: SessionSummary; spec: InterceptSpec }>();
    for (const s of sessions) for (const spec of s.desired.intercepts) wanted.set(`${s.sessionId}/${spec.name}`, { session: s, spec });
    for (const h of [...this.held.values()]) {
      const w = wanted.get(`${h.info.sessionId}/${h.info.spec.name}`);
      if (!w || !sameSpec(w.spec, h.info.spec)) this.remove(h, w ? 'changed' : 'no longer wanted');
      else wanted.delete(`${h.info.sessionId}/${h.info.spec.name}`);
    }
    for (const { session, spec } of wanted.values()) this.add(session, spec);
  }

  /** One session's intercepts (with the environment: only their owner sees it). */
  ofSession(sessionId: string): InterceptInfo[] {
    return [...this.held.values()].filter((h) => h.info.sessionId === sessionId).map((h) => ({ ...h.info }));
  }

  /** Everyone's intercepts, without their environment. */
  list(namespace?: string): InterceptInfo[] {
    return [...this.held.values()].filter((h) => !namespace || h.info.spec.namespace === namespace).map(({ info: { environment: _env, ...rest } }) => rest);
  }

  /** The intercept `id`, when an agent of `workload` may carry a connection for it. */
  activeFor(id: string, workload: WorkloadRef): InterceptInfo | undefined {
    const h = this.held.get(id);
    return h && this.serves(h) && workloadKey(h.ref!) === workloadKey(workload) ? h.info : undefined;
  }

  /**
   * What an agent of `workload` with config `configHash` serves: the intercepts of that workload
   * that are active, or installing with the agent already wanted (so the first pods that come up
   * take traffic while the rollout goes on), and made for the agent's config.
   */
  agentIntercepts(workload: WorkloadRef, configHash: string): AgentIntercept[] {
    const key = workloadKey(workload);
    return [...this.held.values()]
      .filter((h) => this.serves(h) && workloadKey(h.ref!) === key && h.hash === configHash)
      .map((h) => ({ id: h.info.id, agentPort: h.agentPort!, client: `${h.info.client.user}@${h.info.client.host}`, ...(h.info.spec.filter ? { filter: h.info.spec.filter } : {}) }));
  }

  /**
   * Who else holds the port: a global intercept takes it alone; personal ones share it, each with
   * its own filter (two equal filters could not tell whose a request is).
   */
  private portClash(h: Held, ref: WorkloadRef, agentPort: number): { message: string; hint: string } | undefined {
    const on = [...this.held.values()].filter((o) => o !== h && o.ref && workloadKey(o.ref) === workloadKey(ref) && o.agentPort === agentPort && o.info.state !== 'failed');
    const who = (os: Held[]) => os.map((o) => `${o.info.client.user}@${o.info.client.host} (${o.info.spec.name})`).join(', ');
    const global = on.filter((o) => !o.info.spec.filter);
    if (global.length) return { message: `is intercepted by ${who(global)} for all its traffic (a global intercept)`, hint: 'ask them to leave it (telepresence leave), or intercept another port' };
    if (!h.info.spec.filter && on.length) return { message: `has personal intercepts by ${who(on)}; a global intercept would take their traffic`, hint: 'make yours personal with --http-header (e.g. --http-header=auto), or ask them to leave' };
    const same = on.filter((o) => JSON.stringify(o.info.spec.filter) === JSON.stringify(h.info.spec.filter));
    if (same.length) return { message: `already has an intercept with the same filter, by ${who(same)}`, hint: 'use a filter of your own, e.g. --http-header=auto' };
    return undefined;
  }

  private serves(h: Held): boolean {
    return !!h.ref && !!h.routable && (h.info.state === 'active' || h.info.state === 'installing');
  }

  /** Intercepts of other sessions on a workload. */
  othersOn(ref: WorkloadRef, sessionId: string): InterceptInfo[] {
    const key = workloadKey(ref);
    return [...this.held.values()].filter((h) => h.info.sessionId !== sessionId && h.ref && workloadKey(h.ref) === key).map((h) => h.info);
  }

  /** Removes the agent of workloads; refused where another session intercepts. */
  async uninstall(sessionId: string, refs: WorkloadRef[]): Promise<WorkloadRef[]> {
    for (const ref of refs) {
      const others = this.othersOn(ref, sessionId);
      if (others.length) {
        throw new RequestError('bad-request', 'user', `${ref.kind.toLowerCase()}/${ref.name} is intercepted by ${others.map((o) => `${o.client.user}@${o.client.host} (${o.spec.name})`).join(', ')}`, 'ask them to leave first, or uninstall when their intercepts have ended');
      }
    }
    const removed: WorkloadRef[] = [];
    for (const ref of refs) {
      for (const h of [...this.held.values()]) {
        if (!h.ref || workloadKey(h.ref) !== workloadKey(ref)) continue;
        h.installedAgent = false; // removed right below, once
        this.remove(h, 'agent uninstalled');
      }
      if (await this.installer.removeAgent(ref)) removed.push(ref);
    }
    return removed;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const h of this.held.values()) h.abort.abort();
    this.held.clear();
    this.listeners.clear();
  }

  private add(session: SessionSummary, spec: InterceptSpec): void {
    const h: Held = {
      info: { id: randomUUID(), spec, sessionId: session.sessionId, client: { user: session.client.user, host: session.client.host }, state: 'installing', message: `looking up ${spec.workload} in namespace ${spec.namespace}` },
      abort: new AbortController(),
    };
    this.held.set(h.info.id, h);
    this.log.info('intercept wanted', { name: spec.name, sessionId: session.sessionId, workload: `${spec.namespace}/${spec.workload}` });
    this.emit(h.info.sessionId);
    void this.install(h);
  }

  private async install(h: Held): Promise<void> {
    const spec = h.info.spec;
    try {
      const w = await this.installer.describe(spec.namespace, spec.workload, spec.workloadKind);
      if (h.abort.signal.aborted) return;
      const what = `${w.ref.kind.toLowerCase()}/${w.ref.name}`;
      if (w.problem || !w.config || !w.hash) {
        return this.fail(h, 'not-interceptable', `${what} in namespace ${spec.namespace} can't be intercepted: ${w.problem?.message ?? 'no agent config'}`, w.problem?.hint ?? '');
      }
      // The webhook will patch pods of this template: try it on the template first, so a pod the
      // agent can't be added to (a port name taken, too long to rename) is refused before anything rolls.
      try {
        agentPodPatch({ metadata: w.template.metadata ?? {}, spec: w.template.spec ?? { containers: [] } }, w.config);
      } catch (err) {
        if (err instanceof AgentConfigError) return this.fail(h, 'not-interceptable', `${what} in namespace ${spec.namespace} can't take the traffic agent: ${err.message}`, err.hint);
        throw err;
      }
      const port = pickServicePort(w.ports, { ...(spec.service ? { service: spec.service } : {}), ...(spec.port !== undefined ? { port: spec.port } : {}) });
      if (typeof port === 'string') return this.fail(h, 'no-port', `${what}: ${port}`, 'pick a port with --port LOCAL:SERVICEPORT (or its name) and --service');
      const agentPort = w.config.ports.find((p) => p.service === port.service && p.servicePort === port.servicePort)?.agentPort;
      if (agentPort === undefined) return this.fail(h, 'internal', `${what}: the agent config has no port for ${port.service}:${port.servicePort}`, 'report this');
      if (spec.filter) {
        const notHttp = notHttpReason(port);
        if (notHttp) return this.fail(h, 'not-http', `${what} port ${port.service}:${port.servicePortName ?? port.servicePort} can't take an HTTP filter: ${notHttp}`, 'intercept it without --http-header/--http-path-* (a global intercept), or pick an HTTP port with --port');
      }
      const clash = this.portClash(h, w.ref, agentPort);
      if (clash) return this.fail(h, 'port-taken', `${what} port ${port.service}:${port.servicePortName ?? port.servicePort} ${clash.message}`, clash.hint);
      if (w.currentHash && w.currentHash !== w.hash) {
        const others = this.othersOn(w.ref, h.info.sessionId).filter((o) => o.state !== 'failed');
        if (others.length) {
          return this.fail(h, 'agent-version-in-use', `${what} runs an agent of another version or config, in use by ${others.map((o) => `${o.client.user}@${o.client.host} (${o.spec.name})`).join(', ')}`, 'wait until their intercepts end; the agent is replaced on the next intercept');
        }
      }
      Object.assign(h, { ref: w.ref, hash: w.hash, agentPort });
      Object.assign(h.info, { service: port.service, servicePort: port.servicePort, appPort: port.appPort, podsWanted: w.replicas, podsReady: 0, message: `adding the traffic agent to ${what}` });
      if (port.servicePortName) h.info.servicePortName = port.servicePortName;
      this.emit(h.info.sessionId);
      h.installedAgent = (await this.installer.ensureAgent(w)).changed;
      if (h.abort.signal.aborted) return this.rollBack(h);
      h.routable = true;
      this.agents.notify(w.ref);
      this.installer.watchRollout(w.ref, w.hash, (s) => this.onRollout(h, s), h.abort.signal);
    } catch (err) {
      if (h.abort.signal.aborted) return;
      const code = (err as { code?: string }).code === 'no-workload' ? 'no-workload' : (err as { code?: string }).code === 'forbidden' ? 'forbidden' : 'internal';
      const e = err as { message?: string; hint?: string };
      this.fail(h, code, e.message ?? String(err), e.hint ?? '');
    }
  }

  private onRollout(h: Held, s: RolloutStatus): void {
    if (h.abort.signal.aborted || h.info.state === 'failed') return;
    h.rollout = s;
    if (s.failure) return this.fail(h, s.failure.code, s.failure.message, s.failure.hint);
    Object.assign(h.info, { podsWanted: s.podsWanted, podsReady: s.podsReady });
    if (h.info.state === 'installing') h.info.message = s.message;
    // A rollout ends with old pods leaving the endpoints; kube-proxy on every node applies that a
    // moment later, which nothing lets us observe (a pod already deleted proves nothing about it).
    // So a rollout that was seen in progress counts as settled KUBE_PROXY_SETTLE_MS after it is
    // done; one already done when first seen (the agent was there before) settles at once.
    if (!s.done) h.sawRollout = true;
    if (s.done && !h.settled && !h.settleTimer) {
      if (!h.sawRollout && !s.oldTerminating) h.settled = true;
      else {
        h.info.message = `${s.message}${s.oldTerminating ? ', old pods terminating' : ''}, waiting for kube-proxy`;
        h.settleTimer = setTimeout(() => {
          h.settled = true;
          this.checkActive(h);
        }, KUBE_PROXY_SETTLE_MS);
        h.abort.signal.addEventListener('abort', () => clearTimeout(h.settleTimer), { once: true });
      }
    }
    if (!this.checkActive(h)) this.emit(h.info.sessionId);
  }

  /**
   * Active once the rollout is done and an agent of the new config serves every wanted pod, so
   * no pod sends this port's connections to the app any more. Returns whether it emitted.
   */
  private checkActive(h: Held): boolean {
    if (!h.ref || !h.rollout?.done || !h.settled || h.info.state === 'failed') return false;
    const agents = this.agents.of(h.ref).filter((a) => a.configHash === h.hash);
    const serving = agents.length >= Math.max(1, h.rollout.podsWanted);
    if (serving && h.info.state === 'installing') {
      Object.assign(h.info, { state: 'active', activeSince: new Date().toISOString(), environment: agents[0]!.environment });
      delete h.info.message;
      this.log.info('intercept active', { name: h.info.spec.name, workload: workloadKey(h.ref), agents: agents.length });
      this.agents.notify(h.ref);
      this.emit(h.info.sessionId);
      return true;
    }
    return false;
  }

  private fail(h: Held, code: InterceptErrorCode, message: string, hint: string): void {
    const wasActive = h.info.state === 'active';
    h.abort.abort();
    Object.assign(h.info, { state: 'failed', code, message, hint });
    this.log.info('intercept failed', { name: h.info.spec.name, code, message });
    if (h.routable && h.ref) this.agents.notify(h.ref);
    if (!wasActive) this.rollBack(h);
    this.emit(h.info.sessionId);
  }

  /**
   * An intercept that rolled the workload to an agent and never became active takes the agent out
   * again (unless another intercept uses it): a failed or abandoned intercept leaves the workload's
   * template exactly as it found it, not half-injected.
   */
  private rollBack(h: Held): void {
    if (!h.installedAgent || !h.ref || h.info.state === 'active') return;
    h.installedAgent = false;
    const ref = h.ref;
    if ([...this.held.values()].some((o) => o !== h && o.ref && workloadKey(o.ref) === workloadKey(ref) && o.info.state !== 'failed')) return;
    this.log.info('taking the agent out again: its intercept never became active', { workload: workloadKey(ref) });
    this.installer.removeAgent(ref).catch((err: unknown) => this.log.warn('could not take the agent out again', { workload: workloadKey(ref), error: err instanceof Error ? err.message : String(err) }));
  }

  private remove(h: Held, why: string): void {
    h.abort.abort();
    this.held.delete(h.info.id);
    this.log.info('intercept ended', { name: h.info.spec.name, why });
    if (h.routable && h.ref) this.agents.notify(h.ref);
    if (h.info.state === 'installing') this.rollBack(h);
    this.emit(h.info.sessionId);
  }

  private emit(sessionId: string): void {
    for (const l of this.listeners) l(sessionId);
  }
}
