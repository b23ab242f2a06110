# Sourced by the build scripts: how far a `go build` is, for the people and logs waiting on it.
# count_deps <go list args...>: how many packages the build needs (what `go build -v` may print).
# A failing `go list` counts 0 (the build then reports its packages without a total).
count_deps() { (go list -deps "$@" 2>/dev/null || true) | wc -l; }
# progress_filter <total> <what>: passes `go build -v` output through, adding
# "[progress] <done> <total> <what>" after every 20 packages compiled (build.ts shows them).
progress_filter() {
  awk -v t="$1" -v w="$2" '{ n++; print; if (n % 20 == 0) printf "[progress] %d %d %s\n", n, t, w; fflush() }'
}
