// The agent's control loop with the manager: arrive (with a freshly read token), watch the
// workload's intercepts, and on any break forget them all at once (everything goes to the app)
// and arrive again with backoff. The data path asks `routeFor(agentPort)` per connection.
import { readFile } from 'node:fs/promises';
import type { AgentArriveRequest, AgentIntercept } from '@tel/contracts';
import { describeFilter, parseFilter, type Filter } from '@tel/agent-config';
import type { Logger } from '@tel/logging';
import type { AgentManagerClient, AgentWatch } from './manager-client.js';

/** Where an intercepted connection goes: the manager's data port with these credentials. */
export interface InterceptRoute {
  agentSessionId: string;
  interceptId: string;
}

/** A personal intercept of a port: the requests its filter matches go its way. */
export interface PersonalRoute extends InterceptRoute {
  filter: Filter;
}

/**
 * What an agent port does with a new connection: all of it to one client (a global intercept), or
 * each HTTP request to the first personal intercept whose filter matches it, else to the app.
 */
export type PortRoute = { kind: 'global'; route: InterceptRoute } | { kind: 'personal'; routes: PersonalRoute[] };

export interface ControlOptions {
  client: AgentManagerClient;
  tokenPath: string;
  arriveRequest: AgentArriveRequest;
  log: Logger;
  /** Backoff bounds (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const MIN_BACKOFF_MS = 100;
/**
 * A restarted manager is usually ready within seconds, and intercepts are back only once every
 * agent arrived again: one try a second at most costs a refused connection, a longer step would
 * add its length to every recovery.
 */
const MAX_BACKOFF_MS = 1_000;

export class ControlLoop {
  /** agentPort → its active intercepts; empty while not connected. */
  private routes = new Map<number, PortRoute>();
  /** Last logged intercept set (id → description), to log changes only. */
  private logged = new Map<string, string>();
  private state: 'starting' | 'up' | 'down' = 'starting';
  private stopped = false;
  private watch: AgentWatch | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Arrives attempted (for tests and the stats line). */
  arrives = 0;

  constructor(private readonly opts: ControlOptions) {}

  /** The active intercepts of `agentPort`, if any (hot path: one map lookup). */
  routeFor(agentPort: number): PortRoute | undefined {
    return this.routes.get(agentPort);
  }

  get interceptCount(): number {
    return this.routes.size;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.forget();
    this.watch?.cancel();
    // Also fails an arrive in flight: the loop ends now, not after the call's timeout.
    this.opts.client.close();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const min = this.opts.minBackoffMs ?? MIN_BACKOFF_MS;
    const max = this.opts.maxBackoffMs ?? MAX_BACKOFF_MS;
    let backoff = min;
    while (!this.stopped) {
      let reason: string;
      try {
        await this.session(() => {
          backoff = min; // connected: the next break retries quickly again
        });
        reason = 'the watch ended';
      } catch (err) {
        reason = err instanceof Error ? err.message : String(err);
      }
      this.forget();
      if (this.stopped) break;
      this.setState('down', reason);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
      backoff = Math.min(max, backoff * 2);
    }
  }

  /** One agent session: arrive, then follow the watch until it breaks (rejects with why). */
  private async session(onUp: () => void): Promise<void> {
    // Projected tokens rotate: read it again for every arrive.
    this.arrives++;
    const token = (await readFile(this.opts.tokenPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`can't read the token ${this.opts.tokenPath}: ${err.code ?? err.message}`);
    })).trim();
    const { agentSessionId } = await this.opts.client.arrive(token, this.opts.arriveRequest);
    if (this.stopped) return;
    let first = true;
    const watch = this.opts.client.watchIntercepts(token, { agentSessionId }, (event) => {
      this.apply(agentSessionId, event.intercepts);
      if (first) {
        first = false;
        onUp();
        this.setState('up', `session ${agentSessionId}`);
      }
    });
    this.watch = watch;
    try {
      await watch.done;
    } finally {
      this.watch = undefined;
    }
  }

  /** The latest watch event is the whole truth: replace the routes in one step. */
  private apply(agentSessionId: string, intercepts: AgentIntercept[]): void {
    const next = new Map<number, PortRoute>();
    const described = new Map<string, string>();
    for (const i of intercepts) {
      if (!i || typeof i.id !== 'string' || typeof i.agentPort !== 'number') continue;
      const route = { agentSessionId, interceptId: i.id };
      const had = next.get(i.agentPort);
      if (i.filter === undefined) {
        // The manager keeps a global intercept alone on its port; two would be a manager bug.
        if (had) {
          this.opts.log.warn(`a global intercept on agent port ${i.agentPort} beside others; keeping the first`, { ignored: i.id });
          continue;
        }
        next.set(i.agentPort, { kind: 'global', route });
        described.set(i.id, `port ${i.agentPort} → ${i.client}`);
        continue;
      }
      const parsed = parseFilter(i.filter);
      if ('error' in parsed) {
        this.opts.log.warn(`intercept ${i.id} has a filter this agent can't read; its requests go to the app`, { error: parsed.error });
        continue;
      }
      if (had?.kind === 'global') {
        this.opts.log.warn(`a personal intercept on agent port ${i.agentPort} beside a global one; ignoring it`, { ignored: i.id });
        continue;
      }
      const routes = had?.routes ?? [];
      routes.push({ ...route, filter: parsed.filter });
      next.set(i.agentPort, { kind: 'personal', routes });
      described.set(i.id, `port ${i.agentPort} → ${i.client}, requests matching ${describeFilter(i.filter)}`);
    }
    this.routes = next;
    this.logChanges(described);
  }

  private forget(): void {
    this.routes = new Map();
    this.logChanges(new Map());
  }

  private logChanges(now: Map<string, string>): void {
    for (const [id, d] of this.logged) if (now.get(id) !== d) this.opts.log.info(`intercept ${id} ended (${d}): its connections go to the app`);
    for (const [id, d] of now) if (this.logged.get(id) !== d) this.opts.log.info(`intercept ${id} active (${d})`);
    this.logged = now;
  }

  /** One line per state change, never one per retry. */
  private setState(state: 'up' | 'down', detail: string): void {
    if (this.state === state) return;
    const was = this.state;
    this.state = state;
    if (state === 'up') this.opts.log.info(`connected to the traffic manager (${detail})`);
    else if (was === 'up') this.opts.log.warn(`lost the traffic manager (${detail}): all connections go to the app; arriving again`);
    else this.opts.log.warn(`can't reach the traffic manager (${detail}): all connections go to the app; retrying`);
  }
}
