#!/usr/bin/env bash
# All tests: lint (project boundaries, file length, console), type checks, unit and integration
# tests of every project, and the e2e suites against the real test cluster (started by the suite
# when needed). Prints one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export NX_DAEMON=false NX_NO_CLOUD=true
log=$(mktemp)
npx nx run-many -t lint typecheck test e2e --parallel=1 --outputStyle=stream 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
node tools/build/src/test-summary.mjs "$log"
rm -f "$log"
exit "$status"
