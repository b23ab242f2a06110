// The user daemon's intercepts: the desired list (sent to the manager with the session's desired
// state, replayed on every arrive), the manager's view of them (its intercepts watch for this
// session) and the parked connections their traffic arrives on. `add` returns once the manager
// says the intercept serves, or fails with the manager's reason; either way nothing of a failed
// intercept stays wanted.
import type { ManagerApi, WatchHandle } from '../manager-api.js';
import type { InterceptErrorCode, InterceptInfo, InterceptSpec, ProgressEvent } from '@tel/contracts';
import { TelError, clusterError, userError } from '@tel/errors';
import type { Logger } from '@tel/logging';
import type { ManagerSession } from '../manager-session.js';
import { timeoutError } from '../timeouts.js';
import type { Parker } from './parker.js';

export interface UserInterceptsOptions {
  api: ManagerApi;
  session: ManagerSession;
  parker: Parker;
  log: Logger;
  configFile: string;
}

export interface AddOptions {
  emit: (e: ProgressEvent) => void;
  signal: AbortSignal;
  timeoutMs: number;
}

/** Failures the user caused: exit code of a user error; the rest are the cluster's. */
const USER_CODES: readonly InterceptErrorCode[] = ['no-workload', 'not-interceptable', 'no-port', 'port-taken', 'not-http', 'agent-version-in-use', 'forbidden'];
const REWATCH_MS = 500;

export class UserIntercepts {
  private desired: InterceptSpec[] = [];
  private readonly latest = new Map<string, InterceptInfo>();
  private watch: WatchHandle | undefined;
  private watchedSession: string | undefined;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: UserInterceptsOptions) {}

  /** The manager session is (again) `sessionId`: watch its intercepts, park for it. */
  arrived(sessionId: string): void {
    if (this.closed || sessionId === this.watchedSession) return;
    this.watch?.cancel();
    this.watchedSession = sessionId;
    this.opts.parker.restart();
    const w = this.opts.api.client.watchIntercepts({ sessionId }, (e) => {
      this.latest.clear();
      for (const i of e.intercepts) this.latest.set(i.spec.name, i);
      for (const l of this.listeners) l();
    });
    this.watch = w;
    w.done.catch((err: unknown) => {
      if (this.watch !== w || this.closed) return;
      this.opts.log.debug('intercepts watch ended; watching again', { error: err instanceof Error ? err.message : String(err) });
      this.watchedSession = undefined;
      this.opts.session.poke();
      setTimeout(() => {
        const id = this.opts.session.sessionId();
        if (id && !this.watchedSession) this.arrived(id);
      }, REWATCH_MS).unref();
    });
  }

  list(): InterceptInfo[] {
    return this.desired.map((d) => this.latest.get(d.name) ?? pending(d));
  }

  /** The local port of one of our intercepts, by the manager's id (the parker's dial line). */
  localPort(interceptId: string): number | undefined {
    for (const i of this.latest.values()) if (i.id === interceptId && this.desired.some((d) => d.name === i.spec.name)) return i.spec.localPort;
    return undefined;
  }

  async add(spec: InterceptSpec, o: AddOptions): Promise<InterceptInfo> {
    if (this.desired.some((d) => d.name === spec.name)) {
      throw userError(`you already have an intercept named ${spec.name}`, `leave it first with 'telepresence leave ${spec.name}', or choose another name`);
    }
    this.desired = [...this.desired, spec];
    try {
      await this.opts.session.setDesired({ intercepts: this.desired });
      // Parks after the manager knows we have intercepts (it drops the parks of sessions without).
      this.opts.parker.start();
      return await this.until(spec.name, o);
    } catch (err) {
      await this.remove(spec.name).catch(() => undefined);
      throw err;
    }
  }

  /** Stop wanting it (the agent stays, for a fast next intercept). False when we had none of that name. */
  async remove(name: string): Promise<boolean> {
    if (!this.desired.some((d) => d.name === name)) return false;
    this.desired = this.desired.filter((d) => d.name !== name);
    this.latest.delete(name);
    if (this.desired.length === 0) this.opts.parker.stop();
    await this.opts.session.setDesired({ intercepts: this.desired });
    return true;
  }

  close(): void {
    this.closed = true;
    this.watch?.cancel();
    this.opts.parker.stop();
    this.listeners.clear();
  }

  /** Waits for the intercept's state: active resolves, failed rejects; progress is streamed. */
  private until(name: string, o: AddOptions): Promise<InterceptInfo> {
    return new Promise<InterceptInfo>((resolve, reject) => {
      let last = '';
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        o.signal.removeEventListener('abort', onAbort);
        fn();
      };
      const check = () => {
        const i = this.latest.get(name);
        if (!i) return;
        if (i.state === 'active') return done(() => resolve(i));
        if (i.state === 'failed') return done(() => reject(interceptError(i)));
        const msg = i.message ?? 'installing the traffic agent';
        if (msg !== last) o.emit({ message: msg });
        last = msg;
      };
      const onAbort = () => done(() => reject(new TelError('user', `intercept ${name} cancelled`, '')));
      const timer = setTimeout(() => done(() => reject(timeoutError('agentInstall', o.timeoutMs, this.opts.configFile, last || 'no answer from the traffic manager'))), o.timeoutMs);
      o.signal.addEventListener('abort', onAbort, { once: true });
      this.listeners.add(check);
      check();
    });
  }
}

function pending(spec: InterceptSpec): InterceptInfo {
  return { id: '', spec, sessionId: '', client: { user: '', host: '' }, state: 'installing', message: 'waiting for the traffic manager' };
}

/** The manager's failure as one line with its hint; user mistakes exit as user errors. */
export function interceptError(i: InterceptInfo): TelError {
  const message = `intercept ${i.spec.name}: ${i.message ?? 'failed'}`;
  const hint = i.hint ?? '';
  return i.code && USER_CODES.includes(i.code) ? userError(message, hint) : clusterError(message, hint);
}

