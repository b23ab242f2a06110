// Gives a daemon's freed native memory back to the kernel: glibc's free() returns only the top of
// its heap, so what connect's TLS handshakes and JSON freed below a chunk still in use stayed
// resident (5 to 12 MiB of the user daemon's idle RSS) until malloc_trim runs. Run after every full
// collection, since V8 frees its buffers' native memory only as their finalizers run.
import { createRequire } from 'node:module';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type * as KoffiNs from 'koffi';

/**
 * How long after a full collection the trim runs: V8 may run its collections back to back, and the
 * buffers they free reach free() only as their finalizers run, just after.
 */
export const TRIM_DELAY_MS = 1000;

/** glibc's malloc_trim(0), or undefined on a libc without it (musl). */
export function libcMallocTrim(): (() => number) | undefined {
  try {
    // koffi is a native addon kept external to the bundles (copied beside them).
    const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiNs;
    const trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    return () => trim(0);
  } catch {
    return undefined;
  }
}

/**
 * After every full collection (once the last of a series has settled), `trim` (glibc's by default;
 * nothing where there is none). Returns a function that stops it.
 */
export function trimAfterFullGc(trim: (() => unknown) | undefined = libcMallocTrim(), delayMs = TRIM_DELAY_MS): () => void {
  if (!trim) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const observer = new PerformanceObserver((list) => {
    const full = list.getEntries().some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!full) return;
    clearTimeout(timer);
    timer = setTimeout(trim, delayMs).unref();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    clearTimeout(timer);
  };
}
