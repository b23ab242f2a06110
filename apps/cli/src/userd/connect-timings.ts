// When each step of a connect ran inside the user daemon (ConnectResult.timings, and the
// 'connected' log line that bench/connect reads).
import type { ConnectStep, ConnectTimings } from '@tel/contracts';

/** When each connect step started and ended, relative to the connect's arrival. */
export class StepClock {
  private readonly steps: ConnectTimings['steps'] = [];

  constructor(private readonly receivedAt: number) {}

  async time<T>(step: ConnectStep, f: () => Promise<T>): Promise<T> {
    const startMs = Date.now() - this.receivedAt;
    const r = await f();
    this.steps.push({ step, startMs, endMs: Date.now() - this.receivedAt });
    return r;
  }

  timeSync<T>(step: ConnectStep, f: () => T): T {
    const startMs = Date.now() - this.receivedAt;
    const r = f();
    this.steps.push({ step, startMs, endMs: Date.now() - this.receivedAt });
    return r;
  }

  timings(): ConnectTimings {
    return { daemonStartedAt: Math.round(performance.timeOrigin), receivedAt: this.receivedAt, steps: [...this.steps] };
  }
}

