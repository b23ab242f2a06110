import { describe, expect, it } from 'vitest';
import { IDLE_COMPACTION, compactWhenIdle, fullGc, nextCompaction } from './idle-memory.js';

const MiB = 1 << 20;

describe('nextCompaction', () => {
  it.each([
    { what: 'idle after a busy interval', burst: true, utilization: 0.001, growth: 0, want: { burst: false, collect: true } },
    { what: 'idle, no burst since the last collection', burst: false, utilization: 0.001, growth: 0, want: { burst: false, collect: false } },
    { what: 'idle but the heap grew by the threshold', burst: false, utilization: 0.005, growth: 2 * MiB, want: { burst: false, collect: true } },
    { what: 'busy: a burst, no collection yet', burst: false, utilization: 0.3, growth: 0, want: { burst: true, collect: false } },
    { what: 'still busy', burst: true, utilization: 0.01, growth: 5 * MiB, want: { burst: true, collect: false } },
  ])('$what', ({ burst, utilization, growth, want }) => {
    expect(nextCompaction({ burst }, utilization, growth, IDLE_COMPACTION)).toEqual(want);
  });
});

describe('on this machine', () => {
  it('fullGc collects what nothing references any more', async () => {
    const ref = ((): WeakRef<object> => new WeakRef({ garbage: new Array(1000).fill(0) }))();
    // A WeakRef's target lives at least until the current job ends.
    await new Promise((r) => setTimeout(r, 0));
    fullGc()();
    expect(ref.deref()).toBeUndefined();
  });

  it('a busy process is not collected, an idle one once per burst', async () => {
    let collections = 0;
    const garbage: unknown[] = [];
    const stop = compactWhenIdle(
      () => {
        collections++;
        garbage.length = 0;
      },
      { intervalMs: 100, idleUtilization: 0.5, growthBytes: 1024 * MiB },
    );
    try {
      // Busy: the event loop blocked through whole intervals while the heap grows.
      const busyUntil = Date.now() + 350;
      for (let i = 0; i < 1000; i++) garbage.push(new Array(1000).fill(i));
      while (Date.now() < busyUntil);
      await new Promise((r) => setTimeout(r, 5));
      expect(collections).toBe(0);
      // Idle: the next interval that finds the loop idle collects, and only once.
      await new Promise((r) => setTimeout(r, 450));
      expect(collections).toBe(1);
    } finally {
      stop();
    }
  });
});
