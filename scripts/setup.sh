#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs to build, push and test: Debian packages and npm deps.
# Idempotent: a second run only checks. Never changes host networking; see the resolv.conf guard.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  docker-registry          # the OCI registry tests and the main job push to
  skopeo                   # a third-party client that proves our images are readable
  containerd runc containernetworking-plugins  # the test cluster's container runtime
  etcd-server              # the test cluster's datastore
  iptables nftables iproute2 conntrack         # networking inside test namespaces only
  dbus systemd-resolved    # per-namespace DNS stack for DNS e2e tests
  libnss-resolve           # glibc's nss-resolve module: the Fedora-style test workstation uses it
  tcsh                     # env files in csh syntax are sourced by a real csh in tests
  jq                       # status -o json is tested the way 2.x scripts read it
  zsh fish                 # completion scripts are tested in the real shells
  openssl git ca-certificates curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  # Installing systemd-resolved replaces /etc/resolv.conf with a symlink to its stub resolver,
  # which does not run here, and libnss-resolve adds itself to /etc/nsswitch.conf: keep the
  # machine's resolver configuration exactly as it was (test workstations pin their own).
  resolv_backup=$(mktemp)
  cp --preserve=all /etc/resolv.conf "$resolv_backup" 2>/dev/null || cat /etc/resolv.conf > "$resolv_backup"
  nsswitch_backup=$(mktemp)
  cp --preserve=all /etc/nsswitch.conf "$nsswitch_backup"
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -L /etc/resolv.conf ] || ! cmp -s "$resolv_backup" /etc/resolv.conf; then
    rm -f /etc/resolv.conf
    cp "$resolv_backup" /etc/resolv.conf
    echo "setup: restored /etc/resolv.conf after package install" >&2
  fi
  rm -f "$resolv_backup"
  if ! cmp -s "$nsswitch_backup" /etc/nsswitch.conf; then
    cp --preserve=all "$nsswitch_backup" /etc/nsswitch.conf
    echo "setup: restored /etc/nsswitch.conf after package install" >&2
  fi
  rm -f "$nsswitch_backup"
fi
command -v go >/dev/null || { echo "setup: missing Go toolchain: install Go 1.22+ and put it on PATH" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "setup: Node.js 20+ required" >&2; exit 1; }

if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
