// Coalescing of bursts of changes into few sends of the latest state, with retry: used by the
// user daemon's namespace feed to the root daemon (each send rewrites the resolver's domains).
import type { DnsNamespace } from '@tel/contracts';

/**
 * Coalesces changes into sends of the latest list: `changed()` sends `snapshot()` after
 * `debounceMs` of quiet, but never later than `maxDelayMs` after the first unsent change. One send
 * at a time; an unchanged list is not sent again; a failed send is retried after `retryMs`.
 */
export class DebouncedSender {
  private timer: NodeJS.Timeout | undefined;
  private firstChange = 0;
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  private lastSent: string | undefined;
  private stopped = false;

  constructor(
    private readonly snapshot: () => DnsNamespace[],
    private readonly send: (ns: DnsNamespace[]) => Promise<void>,
    private readonly opts: { debounceMs: number; maxDelayMs: number; retryMs: number; onError?: (err: unknown) => void },
  ) {}

  changed(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (!this.timer) this.firstChange = now;
    clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.opts.debounceMs, this.firstChange + this.opts.maxDelayMs - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Send now (no debounce), even when unchanged: e.g. after the root daemon restarted. */
  flush(force = false): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (force) this.lastSent = undefined;
    return this.fire();
  }

  private fire(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) {
      // Sent when the current send returns, with whatever the list is by then.
      this.dirty = true;
      return this.inFlight;
    }
    const list = this.snapshot();
    const key = JSON.stringify(list);
    if (key === this.lastSent) return Promise.resolve();
    this.inFlight = this.send(list).then(
      () => {
        this.lastSent = key;
      },
      (err: unknown) => {
        this.opts.onError?.(err);
        this.dirty = false;
        if (!this.stopped) this.timer = setTimeout(() => void this.fire(), this.opts.retryMs);
      },
    );
    return this.inFlight.finally(() => {
      this.inFlight = undefined;
      if (this.dirty) {
        this.dirty = false;
        void this.fire();
      }
    });
  }

  /**
   * Resolves once the list as it is now has been delivered: sends it unless it already was (or
   * is being) sent, and waits for any send in flight. False when a send failed or we stopped.
   */
  async sendCurrent(): Promise<boolean> {
    for (let attempt = 0; attempt < 3 && !this.stopped; attempt++) {
      const key = JSON.stringify(this.snapshot());
      if (key === this.lastSent) return true;
      if (this.inFlight) await this.inFlight.catch(() => undefined);
      else {
        await this.flush();
        if (this.lastSent !== key) return false;
      }
    }
    return !this.stopped && JSON.stringify(this.snapshot()) === this.lastSent;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
