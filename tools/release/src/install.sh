#!/bin/sh
# Installs telepresence from a release dir: checks the archive against SHA256SUMS, unpacks it in a
# temp dir and only then puts bin/telepresence into PREFIX/bin. Any failure: one line on stderr,
# exit 2, nothing written.
# usage: install.sh [--prefix DIR] [ARCHIVE]   (default prefix /usr/local, archive: the one beside this script)
set -u
die() {
  echo "install.sh: error: $*" >&2
  exit 2
}

prefix=/usr/local
archive=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) echo "usage: install.sh [--prefix DIR] [ARCHIVE]"; exit 0 ;;
    -*) die "unknown option $1; usage: install.sh [--prefix DIR] [ARCHIVE]" ;;
    *) [ -z "$archive" ] || die "more than one archive given; name one"; archive=$1; shift ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$archive" ]; then
  set -- "$here"/telepresence-*-linux-amd64.tar.gz
  [ $# -eq 1 ] && [ -f "$1" ] || die "expected exactly one telepresence-*-linux-amd64.tar.gz beside install.sh; name the archive to install"
  archive=$1
fi
[ -f "$archive" ] || die "$archive does not exist; name the release archive to install"
name=$(basename "$archive")
sums=$(dirname "$archive")/SHA256SUMS
[ -f "$sums" ] || sums=$here/SHA256SUMS
[ -f "$sums" ] || die "no SHA256SUMS beside $name; download the SHA256SUMS of the same release"

expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$sums")
[ -n "$expected" ] || die "$name is not listed in $sums; download the SHA256SUMS of the same release"
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$archive" | cut -d' ' -f1)
elif command -v shasum >/dev/null 2>&1; then
  actual=$(shasum -a 256 "$archive" | cut -d' ' -f1)
else
  die "neither sha256sum nor shasum is installed; install coreutils"
fi
[ "$expected" = "$actual" ] || die "checksum mismatch for $name: SHA256SUMS says $expected, the file is $actual; download the archive again"

tmp=$(mktemp -d) || die "cannot create a temp dir; set TMPDIR to a writable dir"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
tar -xzf "$archive" -C "$tmp" 2>/dev/null || die "$name is not a readable .tar.gz; download it again"
set -- "$tmp"/telepresence-*/bin/telepresence
[ $# -eq 1 ] && [ -f "$1" ] || die "$name holds no telepresence-*/bin/telepresence; it is not a telepresence release archive"
bin=$1

mkdir -p "$prefix/bin" 2>/dev/null || die "cannot create $prefix/bin; run as a user who may write there or pick another --prefix"
staged="$prefix/bin/.telepresence.install.$$"
cp "$bin" "$staged" 2>/dev/null && chmod 755 "$staged" || { rm -f "$staged"; die "cannot write to $prefix/bin; run as a user who may write there or pick another --prefix"; }
# rename(2): a running telepresence keeps its old file, the next one starts the new.
mv -f "$staged" "$prefix/bin/telepresence" || { rm -f "$staged"; die "cannot replace $prefix/bin/telepresence"; }
echo "installed $prefix/bin/telepresence from $name"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
