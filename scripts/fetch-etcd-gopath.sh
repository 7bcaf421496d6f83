#!/usr/bin/env bash
# Fetches the Go sources scripts/etcd-bench builds from (etcd's clientv3 3.4 and everything it
# imports, as Debian packages them: golang-etcd-server-dev and its golang-*-dev dependencies)
# into a cache, without root and without installing anything, and prints the GOPATH to build
# with (GOPATH mode, GO111MODULE=off). Used by scripts/bench-cluster.sh; runs on its own too:
#
#   GOPATH="$(scripts/fetch-etcd-gopath.sh)"
#
# Cache: ${PINFOLD_CACHE:-$HOME/.cache/pinfold}/etcd/root: the packages `apt-get download`
# fetched (133, 66 MB, in debs/ until unpacked), unpacked with dpkg-deb -x (435 MB); the GOPATH is
# root/usr/share/gocode.
# A cache that already holds clientv3 is used as it is; delete the folder to fetch again.
# Needs apt-get, apt-cache and dpkg-deb (a Debian or Ubuntu machine) and the network once.
set -euo pipefail

cache="${PINFOLD_CACHE:-$HOME/.cache/pinfold}/etcd"
gopath="$cache/root/usr/share/gocode"
say() { printf 'fetch-etcd-gopath: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [ ! -d "$gopath/src/go.etcd.io/etcd/clientv3" ]; then
    # Only the Go source packages of the dependency closure: the toolchain (golang-go,
    # golang-1.NN-*) and the C libraries are not needed to build from source.
    closure() {
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances golang-etcd-server-dev 2>/dev/null \
            | grep -E '^golang-[a-z0-9.+-]+-dev$' | sort -u
    }
    pkgs="$(closure)"
    if [ -z "$pkgs" ]; then
        say "apt-cache knows no golang-etcd-server-dev; running apt-get update"
        apt-get update >&2 || die "apt-get update failed"
        pkgs="$(closure)"
    fi
    [ -n "$pkgs" ] || die "no golang-etcd-server-dev in the apt sources"
    mkdir -p "$cache/debs"
    say "downloading $(wc -w <<<"$pkgs") Debian packages into $cache/debs"
    # shellcheck disable=SC2086 # one word per package
    (cd "$cache/debs" && apt-get download $pkgs >&2) || die "apt-get download failed"
    rm -rf "$cache/root.partial"
    for deb in "$cache"/debs/*.deb; do
        dpkg-deb -x "$deb" "$cache/root.partial" || die "cannot unpack $deb"
    done
    rm -rf "$cache/root" "$cache/debs"
    mv "$cache/root.partial" "$cache/root"
    [ -d "$gopath/src/go.etcd.io/etcd/clientv3" ] || die "no clientv3 in the unpacked packages"
fi
printf '%s\n' "$gopath"
