#!/usr/bin/env bash
# Builds the upstream Kubernetes components and CoreDNS from the Go module proxy.
# Usage: build-components.sh <cache-dir> <k8s-version> <coredns-version>
# Output: <cache-dir>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl,coredns}
# Idempotent: components already present are not rebuilt.
set -euo pipefail
. "$(dirname "$0")/progress.sh"
CACHE="$1"; KV="$2"; CV="$3"
MINOR="${KV#v1.}"; MINOR="${MINOR%%.*}"
PATCH="${KV##*.}"
STAGING="0.${MINOR}.${PATCH}"
BIN="$CACHE/bin"; SRC="$CACHE/src"
mkdir -p "$BIN" "$SRC/k8s" "$SRC/coredns"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
need=0
for c in "${K8S_CMDS[@]}"; do [ -x "$BIN/$c" ] || need=1; done
if [ $need = 1 ]; then
  cd "$SRC/k8s"
  {
    echo "module testcluster.local/k8sbuild"
    echo
    echo "go 1.22.0"
    echo
    echo "require k8s.io/kubernetes $KV"
    echo
    echo "replace ("
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
      cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
      csi-translation-lib dynamic-resource-allocation endpointslice kms kube-aggregator \
      kube-controller-manager kube-proxy kube-scheduler kubectl kubelet legacy-cloud-providers metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
      echo "	k8s.io/$m => k8s.io/$m v$STAGING"
    done
    echo ")"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  echo "[build] $(date -u +%T) resolving k8s.io/kubernetes $KV module graph"
  go mod tidy -e >/dev/null 2>&1 || true
  go mod download k8s.io/kubernetes
  LDF="-s -w -checklinkname=0"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF="$LDF -X $p.gitVersion=$KV -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  pkgs=(); for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  total=$(count_deps -tags tools "${pkgs[@]}")
  echo "[build] $(date -u +%T) go build ${K8S_CMDS[*]} ($total packages)"
  go build -v -trimpath -tags tools -ldflags "$LDF" -o "$BIN/.tmp-k8s/" "${pkgs[@]}" 2>&1 | progress_filter "$total" kubernetes
  for c in "${K8S_CMDS[@]}"; do mv -f "$BIN/.tmp-k8s/$c" "$BIN/$c"; done
  rmdir "$BIN/.tmp-k8s"
fi
if [ ! -x "$BIN/coredns" ]; then
  # CoreDNS with only the plugins the test cluster's Corefile uses: the full build spends most
  # of its time compiling cloud SDKs (route53, azure, clouddns, etcd, dnstap) nobody here needs.
  cd "$SRC/coredns"
  printf 'module testcluster.local/corednsbuild\n\ngo 1.25.0\n\nrequire github.com/coredns/coredns %s\n' "$CV" > go.mod
  rm -f tools.go
  cat > main.go <<'GO'
// A CoreDNS binary limited to the plugins the test cluster uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// Same relative order as upstream's plugin.cfg: it is the order requests flow through.
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes", "forward"}
}

func main() {
	coremain.Run()
}
GO
  echo "[build] $(date -u +%T) resolving coredns $CV"
  go mod tidy -e >/dev/null 2>&1 || true
  total=$(count_deps .)
  echo "[build] $(date -u +%T) go build coredns ($total packages)"
  go build -v -trimpath -ldflags "-s -w" -o "$BIN/coredns.tmp" . 2>&1 | progress_filter "$total" coredns
  mv -f "$BIN/coredns.tmp" "$BIN/coredns"
fi
echo "[build] $(date -u +%T) done"
