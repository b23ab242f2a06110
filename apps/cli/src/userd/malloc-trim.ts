// Gives the kernel back the memory glibc's malloc keeps once V8 has freed what a burst of work used
// (connect's TLS handshakes and JSON, the buffers of finished connections). Boundary: daemon ↔ libc.
import { createRequire } from 'node:module';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type * as KoffiNs from 'koffi';

/**
 * How long after a major GC the trim runs: V8's memory reducer runs its collections back to back,
 * and the buffers they free reach free() only as their finalizers run, just after.
 */
export const TRIM_DELAY_MS = 1000;

/**
 * glibc's malloc_trim(0), or undefined on a libc without it (musl). free() returns only the top of
 * the heap to the kernel; memory freed below a chunk still in use stays resident until this runs.
 */
export function libcMallocTrim(): (() => number) | undefined {
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiNs;
    const trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => trim(0);
  } catch {
    return undefined;
  }
}

/**
 * After every major GC (once the last of a series has settled), trim malloc. The daemons hold tens
 * of MiB while they carry traffic and a fraction of it while idle: without this, what the
 * connect burst freed stayed in glibc's arenas (5 to 12 MiB of the user daemon's idle RSS).
 * Returns a function that stops it.
 */
export function trimMallocAfterMajorGc(trim: () => unknown, delayMs = TRIM_DELAY_MS): () => void {
  let timer: NodeJS.Timeout | undefined;
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => ((e as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!major) return;
    clearTimeout(timer);
    timer = setTimeout(trim, delayMs).unref();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    clearTimeout(timer);
  };
}
