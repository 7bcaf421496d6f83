#!/usr/bin/env bash
# Write-path benchmark of a single Pinfold peer: builds the release binaries, starts a daemon
# on a fresh configuration folder with random ports, and runs `pinfold-bench pins` at
# concurrency 1 and at concurrency 64 in the same run, then prints both figures and the
# throughput ratio (C=64 / C=1).
#
#   scripts/bench-pins.sh                 # 500 pins at C=1, 5000 pins at C=64
#   COUNT_C1=200 COUNT_C64=2000 scripts/bench-pins.sh
#   BENCH_OUT=/tmp/bench scripts/bench-pins.sh   # keep c1.json, c64.json, daemon.log there
#
# Only loopback traffic; the daemon and its folder are removed on exit (BENCH_OUT keeps the
# figures and the log).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pinfold-target}"
count_c1="${COUNT_C1:-500}"
count_c64="${COUNT_C64:-5000}"
ready_line='** IPFS Cluster is READY **'
ready_deadline=60

say() { printf 'bench-pins: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

say "building release binaries (pinfold, pinfold-bench)"
(cd "$root" && cargo build --release -p pinfold --bin pinfold --bin pinfold-bench >&2)
bin="$CARGO_TARGET_DIR/release"

work="$(mktemp -d "${TMPDIR:-/tmp}/pinfold-bench.XXXXXX")"
out="${BENCH_OUT:-$work}"
mkdir -p "$out"
daemon_pid=""
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    return 0
}
trap cleanup EXIT

config="$work/config"
"$bin/pinfold" init --randomports -c "$config" >&2 || die "pinfold init failed"

log="$out/daemon.log"
"$bin/pinfold" daemon -c "$config" >"$log" 2>&1 &
daemon_pid=$!
say "daemon pid $daemon_pid, log $log"

waited=0
until grep -qF "$ready_line" "$log"; do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        cat "$log" >&2
        die "the daemon exited before printing '$ready_line'"
    fi
    if [ "$waited" -ge $((ready_deadline * 10)) ]; then
        tail -n 50 "$log" >&2
        die "no '$ready_line' within ${ready_deadline}s"
    fi
    sleep 0.1
    waited=$((waited + 1))
done

# The REST address: the daemon's "REST API listening on" line, else service.json.
rest="$(sed -n 's#.*REST API listening on \(/ip4/[0-9.]*/tcp/[0-9]*\).*#\1#p' "$log" | head -n 1)"
if [ -z "$rest" ]; then
    rest="$(tr -d '\n' <"$config/service.json" \
        | sed -n 's#.*"restapi"[^}]*"http_listen_multiaddress": *\[* *"\(/ip4/[0-9.]*/tcp/[0-9]*\)".*#\1#p')"
fi
[ -n "$rest" ] || die "cannot find the REST API address"
host="$(printf '%s' "$rest" | cut -d/ -f3)"
port="$(printf '%s' "$rest" | cut -d/ -f5)"
api="http://$host:$port"
say "REST API $api"

run() { # concurrency count json
    say "pinfold-bench pins --concurrency $1 --count $2"
    "$bin/pinfold-bench" pins --api "$api" --concurrency "$1" --count "$2" --json "$3"
}
run 1 "$count_c1" "$out/c1.json"
run 64 "$count_c64" "$out/c64.json"

rate() { sed -n 's/.*"pins_per_sec": *\([0-9.eE+-]*\).*/\1/p' "$1" | head -n 1; }
r1="$(rate "$out/c1.json")"
r64="$(rate "$out/c64.json")"
awk -v a="$r1" -v b="$r64" 'BEGIN {
    printf "C=1: %.1f pins/s   C=64: %.1f pins/s   ratio C64/C1: %.2fx\n", a, b, (a > 0 ? b / a : 0)
}'
if [ "$out" != "$work" ]; then
    say "figures in $out/c1.json and $out/c64.json"
fi
