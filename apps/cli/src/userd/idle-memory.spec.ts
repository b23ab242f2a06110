import { describe, expect, it } from 'vitest';
import { IDLE_COMPACTION, compactWhenIdle, fullGc, libcMallocTrim, shouldCompact, trimAfterFullGc } from './idle-memory.js';

const MiB = 1 << 20;

describe('shouldCompact', () => {
  it.each([
    { what: 'grown and idle', physical: 20 * MiB, after: 15 * MiB, utilization: 0.001, want: true },
    { what: 'grown exactly by the threshold', physical: 19 * MiB, after: 15 * MiB, utilization: 0.009, want: true },
    { what: 'grown but busy', physical: 20 * MiB, after: 15 * MiB, utilization: 0.2, want: false },
    { what: 'idle but barely grown', physical: 16 * MiB, after: 15 * MiB, utilization: 0, want: false },
    { what: 'shrunk', physical: 10 * MiB, after: 15 * MiB, utilization: 0, want: false },
  ])('$what → $want', ({ physical, after, utilization, want }) => {
    expect(shouldCompact(physical, after, utilization, IDLE_COMPACTION)).toBe(want);
  });
});

describe('on this machine', () => {
  it("glibc's malloc_trim is callable through koffi", () => {
    const trim = libcMallocTrim();
    expect(trim).toBeDefined();
    expect([0, 1]).toContain(trim!());
  });

  it('a full collection is followed by one trim, after the delay', async () => {
    let trims = 0;
    const stop = trimAfterFullGc(() => trims++, 50);
    try {
      const gc = fullGc();
      gc();
      gc();
      await new Promise((r) => setTimeout(r, 20));
      expect(trims).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(trims).toBe(1);
    } finally {
      stop();
    }
  });

  it('an idle process whose heap grew is collected once, a busy one not at all', async () => {
    let collections = 0;
    const garbage: unknown[] = [];
    const stop = compactWhenIdle(
      () => {
        collections++;
        garbage.length = 0;
      },
      { intervalMs: 100, growthBytes: 2 * MiB, idleUtilization: 0.5 },
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
