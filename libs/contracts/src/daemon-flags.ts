// The V8 flags each daemon process starts with, given by the CLI that starts it. Every flag was
// measured with bench/connect (idle RSS after connect) and, where it could cost speed, with the
// bench of the path it could slow.

/**
 * The user daemon:
 * - A young generation of 2 MiB semi-spaces (V8's default grows to 16 MiB) is scavenged often
 *   enough that the buffers and socket objects of finished connections don't pile up: after bulk
 *   and HTTP rounds the daemon held 160–200 MiB with the default, most of it garbage awaiting
 *   collection, at no lower CPU cost per connection.
 * - A fixed old-generation growing factor of 2×: with V8's adaptive one, after a burst of
 *   connections the limit sat just above the ~25 MiB live heap, and a following bulk transfer ran
 *   13–14 back-to-back mark-compacts that freed nothing ("GC in old space requested"), a third of
 *   the daemon's CPU: bulk fell from ~225 to ~185 MiB/s in 2 of 5 runs. With it: at most one per
 *   run, and the same RSS (134 vs 130 MiB at 1000 connections).
 * - Local time from the C library instead of ICU's time zone data: the daemons only write UTC
 *   times, yet the first Date in local time paged in ~0.9 MiB of ICU data (idle RSS 60.4 → 59.5).
 *   The single executable sets it only once V8 runs (TELEPRESENCE_V8_FLAGS), where it changes
 *   nothing; the other two take effect there too.
 */
export const USER_DAEMON_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=100', '--no-icu-timezone-data'];

/**
 * The root daemon:
 * - No WebAssembly: dbus-next's 64-bit integer library instantiates a module at load only to speed
 *   up arithmetic the daemon never does, which paged in V8's wasm compiler.
 * - Local time from the C library, as for the user daemon.
 * Idle RSS before connect 55.5 → 54.6 MiB. Measured and left out: --max-opt=1 (no optimizing compiler) saved
 * another 3.4 MiB but cut uncached lookups at 32 concurrent from 6,400–10,700 to 2,800–5,100 q/s.
 * The single executable runs the root daemon without them: it reads no node options from argv,
 * and sudo hands it no environment to carry NODE_OPTIONS.
 */
export const ROOT_DAEMON_V8_FLAGS: readonly string[] = ['--no-expose-wasm', '--no-icu-timezone-data'];
