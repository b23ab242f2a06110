// An in-memory informer for the user daemon's feed tests (the feeds' real informers are tested
// against the API server in the e2e suites).
import type { InformerLike } from '../watch-or-poll.js';

/** An in-memory informer with the semantics of kube/informer.ts's ListWatch that the feeds rely on. */
export class FakeInformer<T extends { metadata?: { name?: string } }> implements InformerLike<T> {
  items = new Map<string, T>();
  started = 0;
  stopped = false;
  failStart: unknown;
  /** start() lists only once this resolves (a slow API server). */
  gate: Promise<void> | undefined;
  private readonly cbs: Record<string, ((x?: any) => void)[]> = { add: [], update: [], delete: [], error: [] };
  on(verb: string, cb: (x?: any) => void): void {
    this.cbs[verb]!.push(cb);
  }
  async start(): Promise<void> {
    this.started++;
    this.stopped = false;
    await this.gate;
    if (this.failStart) {
      const e = this.failStart;
      this.failStart = undefined;
      this.error(e);
      return;
    }
    for (const o of this.items.values()) this.emit('add', o);
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  list(): ReadonlyArray<T> {
    return [...this.items.values()];
  }
  put(o: T): void {
    const name = o.metadata!.name!;
    const verb = this.items.has(name) ? 'update' : 'add';
    this.items.set(name, o);
    if (this.started && !this.stopped) this.emit(verb, o);
  }
  remove(name: string): void {
    const o = this.items.get(name);
    this.items.delete(name);
    if (o && this.started && !this.stopped) this.emit('delete', o);
  }
  error(e: unknown): void {
    this.stopped = true;
    for (const cb of this.cbs.error!) cb(e);
  }
  private emit(verb: string, o: T): void {
    for (const cb of this.cbs[verb]!) cb(o);
  }
}
