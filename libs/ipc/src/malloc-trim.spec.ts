import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { libcMallocTrim, trimAfterFullGc } from './malloc-trim.js';

describe('malloc trim on this machine', () => {
  it("glibc's malloc_trim is callable through koffi", () => {
    const trim = libcMallocTrim();
    expect(trim).toBeDefined();
    expect([0, 1]).toContain(trim!());
  });

  it('a full collection is followed by one trim, after the delay', async () => {
    let trims = 0;
    const stop = trimAfterFullGc(() => trims++, 50);
    try {
      // A full collection on demand: the flag applies to contexts created after it.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
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
});
