#!/usr/bin/env bash
# Builds the Argo Rollouts controller from its upstream Go module and keeps its CRDs beside it.
# Usage: build-argo-rollouts.sh <out-dir> <argo-rollouts-version>
# Output: <out-dir>/rollouts-controller and <out-dir>/crds/*.yaml (the module's manifests/crds).
# Idempotent: nothing is done when both are present.
# The module's go.mod has replace directives, so `go install mod@ver` refuses it: the module is
# downloaded, copied out of the (read-only) module cache and built inside its own directory.
set -euo pipefail
. "$(dirname "$0")/progress.sh"
OUT="$1"; AV="$2"
export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local
if [ -x "$OUT/rollouts-controller" ] && [ -f "$OUT/crds/rollout-crd.yaml" ]; then
  echo "[build] $(date -u +%T) argo-rollouts $AV already built"
  exit 0
fi
mkdir -p "$OUT"
WORK="$OUT/.src-$$"
trap 'rm -rf "$WORK"' EXIT
echo "[build] $(date -u +%T) downloading github.com/argoproj/argo-rollouts $AV"
DIR=$(cd "$OUT" && go mod download -json "github.com/argoproj/argo-rollouts@$AV" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [ -z "$DIR" ] || [ ! -d "$DIR" ]; then
  echo "could not download github.com/argoproj/argo-rollouts@$AV from the Go module proxy" >&2
  exit 1
fi
cp -r "$DIR" "$WORK"
chmod -R u+w "$WORK"
echo "[build] $(date -u +%T) resolving the rollouts-controller's dependencies"
total=$(cd "$WORK" && count_deps ./cmd/rollouts-controller)
echo "[build] $(date -u +%T) go build rollouts-controller ($total packages)"
(cd "$WORK" && go build -v -trimpath -ldflags "-s -w -X github.com/argoproj/argo-rollouts/utils/version.version=${AV#v}" -o "$OUT/rollouts-controller.tmp" ./cmd/rollouts-controller 2>&1 | progress_filter "$total" argo-rollouts)
rm -rf "$OUT/crds.tmp" && mkdir -p "$OUT/crds.tmp"
cp "$WORK"/manifests/crds/*-crd.yaml "$OUT/crds.tmp/"
rm -rf "$OUT/crds" && mv "$OUT/crds.tmp" "$OUT/crds"
mv -f "$OUT/rollouts-controller.tmp" "$OUT/rollouts-controller"
echo "[build] $(date -u +%T) done"
