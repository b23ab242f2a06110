// Gives memory back while a daemon idles: one full collection once a burst of work (connect, a
// transfer, a burst of DNS queries) is over, and glibc's free memory returned to the kernel after
// every full collection. Both daemons run it from their start. Boundary: daemon ↔ V8 and libc.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { trimAfterFullGc } from './malloc-trim.js';

export interface IdleCompactionOptions {
  /** How often the daemon looks; also the span over which it must have been idle. */
  intervalMs: number;
  /** Share of an interval the event loop may be busy and still count as idle. */
  idleUtilization: number;
  /** Heap growth (physical bytes) since the last collection that counts as a burst by itself. */
  growthBytes: number;
}

/**
 * A burst is an interval of 5 s with the event loop busy 1% of the time or more (heartbeats and
 * port-forward pings cost ~0.1%), or 2 MiB of heap growth; V8's own memory reducer starts only after
 * a full collection, and with the user daemon's 2× heap growing factor connect ends without one, so
 * that daemon idled with connect's garbage in a heap of 20 MiB instead of 15.
 */
export const IDLE_COMPACTION: IdleCompactionOptions = { intervalMs: 5000, idleUtilization: 0.01, growthBytes: 2 << 20 };

/** The decision taken every interval: collect once an idle interval follows a burst. */
export function nextCompaction(state: { burst: boolean }, utilization: number, growth: number, opts: IdleCompactionOptions): { burst: boolean; collect: boolean } {
  const idle = utilization < opts.idleUtilization;
  const burst = state.burst || !idle || growth >= opts.growthBytes;
  return idle && burst ? { burst: false, collect: true } : { burst, collect: false };
}

/**
 * V8's full collection as `gc()` gives it, without starting the daemon with --expose-gc: the flag
 * set now applies to contexts created from now on, and one small context hands over its `gc`.
 */
export function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Every `intervalMs`: one full collection when the event loop idled through the interval after a
 * burst of work. A busy daemon is never interrupted; an idle one is collected once per burst.
 * Returns a function that stops it.
 */
export function compactWhenIdle(gc: () => void, opts: IdleCompactionOptions = IDLE_COMPACTION): () => void {
  let state = { burst: true };
  let afterLast = getHeapStatistics().total_physical_size;
  let elu: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, elu).utilization;
    elu = now;
    const physical = getHeapStatistics().total_physical_size;
    const next = nextCompaction(state, utilization, physical - afterLast, opts);
    state = { burst: next.burst };
    if (next.collect) gc();
    // The base for growth: after our collection, or lower when V8 shrank the heap by itself.
    afterLast = next.collect ? getHeapStatistics().total_physical_size : Math.min(afterLast, physical);
  }, opts.intervalMs).unref();
  return () => clearInterval(timer);
}

/** Both, as each daemon runs them from its start. */
export function startIdleMemory(): void {
  trimAfterFullGc();
  compactWhenIdle(fullGc());
}
