#!/usr/bin/env bash
# The main job on the embedded default: set up, then build, push and verify every artifact
# against a registry started on loopback. Extra args go to the quickstart (e.g. --output json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx tools/quickstart/src/main.ts "$@"
