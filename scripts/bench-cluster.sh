#!/usr/bin/env bash
# Write-path benchmark of a 3-peer Pinfold cluster against a 3-member etcd cluster, in one run,
# on this machine (issue 5, "Benchmark").
#
# Pinfold: builds the release binaries, starts three `pinfold daemon`s on fresh configuration
# folders (random ports, embedded IPFS nodes, every listener on 127.0.0.1, one cluster secret;
# the second and third join the first with --bootstrap), waits until the three agree on a
# leader, and runs `pinfold-bench pins` against the leader's REST API at C=1 and C=256, then
# (SPREAD=1) at C=256 spread over the three peers (followers forward writes to the leader).
# Every acknowledged pin is committed by raft: in the fsynced log of a majority.
#
# etcd: Debian's etcd-server 3.4 (installed with apt-get when missing), three members on
# 127.0.0.1 with default durability (each member fsyncs its WAL before acknowledging), loaded by
# scripts/etcd-bench (etcd's own Go client, clientv3 3.4 from Debian's golang-etcd-server-dev,
# fetched into a cache by scripts/fetch-etcd-gopath.sh;
# the same measurement as etcd's `benchmark put --sequential-keys`) with the same concurrency
# and counts, values the size of a pin as Pinfold stores it (measured from `pinfold state
# export` after the Pinfold runs), against the leader's endpoint, then (SPREAD=1) all three.
#
#   scripts/bench-cluster.sh                    # 300 at C=1, 10000 at C=256, once
#   REPEAT=2 scripts/bench-cluster.sh           # each system's runs twice (noisy machines)
#   COUNT_C1=200 COUNT_HIGH=5000 HIGH=256 SPREAD=0 scripts/bench-cluster.sh
#   BENCH_OUT=/tmp/bench scripts/bench-cluster.sh   # keep figures, logs, table and chart there
#   SKIP_ETCD=1 / SKIP_PINFOLD=1                # one side only (while working on one)
#
# Output (BENCH_OUT, else a temporary folder that is removed): one JSON per run
# (pinfold-leader-c1-r1.json, etcd-leader-c256-r1.json, ...), summary.json, summary.md (the
# table) and chart.svg (bars of throughput); the table and an ASCII bar chart are also printed.
# Only loopback traffic; the daemons, etcd members and their folders are removed on exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pinfold-target}"
count_c1="${COUNT_C1:-300}"
count_high="${COUNT_HIGH:-10000}"
high="${HIGH:-256}"
repeat="${REPEAT:-1}"
spread="${SPREAD:-1}"
skip_etcd="${SKIP_ETCD:-0}"
skip_pinfold="${SKIP_PINFOLD:-0}"
ready_line='** IPFS Cluster is READY **'
ready_deadline=90
peers=3

say() { printf 'bench-cluster: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

need_apt=()
command -v jq >/dev/null || need_apt+=(jq)
if [ "$skip_etcd" != 1 ]; then
    command -v etcd >/dev/null || need_apt+=(etcd-server)
    command -v etcdctl >/dev/null || need_apt+=(etcd-client)
    command -v go >/dev/null || need_apt+=(golang-go)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    say "installing ${need_apt[*]}"
    apt-get install -y "${need_apt[@]}" >&2 \
        || { apt-get update >&2 && apt-get install -y "${need_apt[@]}" >&2; } \
        || die "apt-get install ${need_apt[*]} failed"
fi

bin="$CARGO_TARGET_DIR/release"
if [ "$skip_pinfold" != 1 ]; then
    say "building release binaries (pinfold, pinfold-bench)"
    (cd "$root" && cargo build --release -p pinfold --bin pinfold --bin pinfold-bench >&2)
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pinfold-bench-cluster.XXXXXX")"
out="${BENCH_OUT:-$work/out}"
mkdir -p "$out"
pids=()
stop_pid() { # pid: TERM, wait up to 10 s, KILL
    local pid="$1"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    pids=()
}
cleanup() {
    stop_all
    rm -rf "$work"
    return 0
}
trap cleanup EXIT

if [ "$skip_etcd" != 1 ]; then
    etcd_gopath="$("$root/scripts/fetch-etcd-gopath.sh")" || die "fetching the etcd Go sources failed"
    say "building scripts/etcd-bench (clientv3 from golang-etcd-server-dev in $etcd_gopath, GOPATH mode)"
    etcd_bench="$work/etcd-bench"
    (cd "$root/scripts/etcd-bench" \
        && GO111MODULE=off GOPATH="$etcd_gopath" GOCACHE="${GOCACHE:-$HOME/.cache/go-build}" \
            go build -o "$etcd_bench" main.go >&2) || die "building etcd-bench failed"
fi

field() { # file key: the first numeric value of "key" in a JSON file
    jq -r "[.. | objects | select(has(\"$2\")) | .\"$2\"][0]" "$1"
}

# ---------------------------------------------------------------- Pinfold
api=()      # REST URL of each peer
pin_size="" # bytes of one pin as the state stores it

wait_ready() { # log pid
    local waited=0
    until grep -qF "$ready_line" "$1"; do
        kill -0 "$2" 2>/dev/null || { tail -n 50 "$1" >&2; die "a daemon exited before READY ($1)"; }
        [ "$waited" -lt $((ready_deadline * 10)) ] || { tail -n 50 "$1" >&2; die "no READY within ${ready_deadline}s ($1)"; }
        sleep 0.1
        waited=$((waited + 1))
    done
}

rest_url() { # config dir
    local ma
    ma="$(jq -r '.api.restapi.http_listen_multiaddress | if type == "array" then .[0] else . end' "$1/service.json")"
    printf 'http://%s:%s' "$(printf '%s' "$ma" | cut -d/ -f3)" "$(printf '%s' "$ma" | cut -d/ -f5)"
}

start_pinfold() {
    local secret="" i cfg log boot="" deadline
    for i in $(seq 1 "$peers"); do
        cfg="$work/pinfold$i"
        "$bin/pinfold" init --randomports -c "$cfg" >/dev/null 2>&1 || die "pinfold init failed"
        [ -n "$secret" ] || secret="$(jq -r .cluster.secret "$cfg/service.json")"
        jq --arg s "$secret" --arg n "bench-$i" '
            .cluster.secret = $s | .cluster.peername = $n
            | .cluster.listen_multiaddress |= (if type == "array" then map(sub("/ip4/0.0.0.0/"; "/ip4/127.0.0.1/"))
                                               else sub("/ip4/0.0.0.0/"; "/ip4/127.0.0.1/") end)' \
            "$cfg/service.json" >"$cfg/service.json.new"
        mv "$cfg/service.json.new" "$cfg/service.json"
        log="$out/pinfold$i.log"
        : >"$log"
        if [ "$i" = 1 ]; then
            "$bin/pinfold" daemon -c "$cfg" >"$log" 2>&1 &
        else
            "$bin/pinfold" daemon -c "$cfg" --bootstrap "$boot" >"$log" 2>&1 &
        fi
        pids+=("$!")
        wait_ready "$log" "$!"
        api+=("$(rest_url "$cfg")")
        if [ "$i" = 1 ]; then
            boot="$(curl -sf "${api[0]}/id" | jq -r '.addresses[0]')"
            [ -n "$boot" ] && [ "$boot" != null ] || die "no swarm address in ${api[0]}/id"
            say "peer 1 swarm address $boot"
        fi
        say "peer $i: REST ${api[$((i - 1))]}, log $log"
    done
    # every peer sees three members and one leader
    deadline=$((SECONDS + 120))
    while :; do
        local views leaders members
        views="$(for u in "${api[@]}"; do curl -sf "$u/health/consensus" || echo '{}'; echo; done)"
        leaders="$(printf '%s\n' "$views" | jq -r '.leader // ""' | sort -u)"
        members="$(printf '%s\n' "$views" | jq -r '(.peers // []) | length' | sort -u)"
        if [ "$members" = "$peers" ] && [ "$(printf '%s\n' "$leaders" | wc -l)" = 1 ] && [ -n "$leaders" ]; then
            leader_id="$leaders"
            break
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "the peers do not agree on $peers members and a leader: $views"
        sleep 0.5
    done
    leader_api=""
    for i in $(seq 1 "$peers"); do
        if [ "$(jq -r .id "$work/pinfold$i/identity.json")" = "$leader_id" ]; then
            leader_api="${api[$((i - 1))]}"
        fi
    done
    [ -n "$leader_api" ] || die "leader $leader_id is none of the peers"
    say "leader $leader_id at $leader_api"
}

pinfold_run() { # name concurrency count api...
    local name="$1" c="$2" n="$3"
    shift 3
    local urls
    urls="$(IFS=,; printf '%s' "$*")"
    say "pinfold $name: pinfold-bench pins -c $c -n $n --api $urls"
    "$bin/pinfold-bench" pins --api "$urls" --concurrency "$c" --count "$n" --json "$out/pinfold-$name.json" >&2 \
        || die "pinfold-bench $name failed (see $out/pinfold-$name.json)"
}

if [ "$skip_pinfold" != 1 ]; then
    start_pinfold
    for r in $(seq 1 "$repeat"); do
        pinfold_run "leader-c1-r$r" 1 "$count_c1" "$leader_api"
        pinfold_run "leader-c$high-r$r" "$high" "$count_high" "$leader_api"
        if [ "$spread" = 1 ]; then
            pinfold_run "all-c$high-r$r" "$high" "$count_high" "${api[@]}"
        fi
    done
    say "stopping the Pinfold cluster"
    stop_all
    # the size of one pin as the state stores it (one JSON document per line in the export)
    "$bin/pinfold" state export -c "$work/pinfold1" -f "$work/export.ndjson" >/dev/null 2>&1 \
        || "$bin/pinfold" state export -c "$work/pinfold1" >"$work/export.ndjson" 2>/dev/null || true
    if [ -s "$work/export.ndjson" ]; then
        pin_size="$(awk '{ print length($0) }' "$work/export.ndjson" | sort -n \
            | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')"
        head -n 1 "$work/export.ndjson" >"$out/pin-example.json"
    fi
fi
if [ -z "$pin_size" ]; then
    pin_size="${PIN_SIZE:-350}"
    say "pin size not measured here; using $pin_size bytes"
else
    say "a pin as Pinfold stores it: $pin_size bytes of JSON (median; example in $out/pin-example.json)"
fi

# ---------------------------------------------------------------- etcd
taken_ports=" "
free_port() { # sets $port: a TCP port on 127.0.0.1 nothing listens on, below the ephemeral
    # range, not handed out before (no command substitution: taken_ports must persist)
    local p lo
    lo="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
    while :; do
        p=$((10000 + RANDOM % (lo - 10000)))
        case "$taken_ports" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            taken_ports="$taken_ports$p "
            port="$p"
            return
        fi
    done
}

start_etcd() {
    local i cluster="" token="pinfold-bench-$$" ep
    local -a cport pport
    for i in $(seq 1 "$peers"); do
        free_port
        cport[i]="$port"
        free_port
        pport[i]="$port"
        cluster="${cluster:+$cluster,}e$i=http://127.0.0.1:${pport[i]}"
    done
    etcd_eps=()
    for i in $(seq 1 "$peers"); do
        etcd --name "e$i" --data-dir "$work/etcd$i" \
            --listen-client-urls "http://127.0.0.1:${cport[i]}" \
            --advertise-client-urls "http://127.0.0.1:${cport[i]}" \
            --listen-peer-urls "http://127.0.0.1:${pport[i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${pport[i]}" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "$token" \
            --logger zap --log-outputs stderr >"$out/etcd$i.log" 2>&1 &
        pids+=("$!")
        etcd_eps+=("127.0.0.1:${cport[i]}")
    done
    local all deadline=$((SECONDS + 60))
    all="$(IFS=,; printf '%s' "${etcd_eps[*]}")"
    until ETCDCTL_API=3 etcdctl --endpoints "$all" endpoint health >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "etcd is not healthy after 60s (logs in $out/etcd*.log)"
        sleep 0.5
    done
    etcd_leader=""
    for ep in "${etcd_eps[@]}"; do
        if ETCDCTL_API=3 etcdctl --endpoints "$ep" endpoint status -w json \
            | jq -e '.[0].Status | .leader == .header.member_id' >/dev/null; then
            etcd_leader="$ep"
        fi
    done
    [ -n "$etcd_leader" ] || die "no etcd member says it leads"
    say "etcd $(etcd --version | head -n 1 | awk '{ print $3 }'): members ${etcd_eps[*]}, leader $etcd_leader"
}

etcd_run() { # name concurrency count endpoint...
    local name="$1" c="$2" n="$3" conns
    shift 3
    conns="${ETCD_CONNS:-$(( c / 8 > 0 ? c / 8 : 1 ))}"
    local eps
    eps="$(IFS=,; printf '%s' "$*")"
    say "etcd $name: etcd-bench --clients $c --conns $conns --total $n --val-size $pin_size --endpoints $eps"
    "$etcd_bench" --endpoints "$eps" --conns "$conns" --clients "$c" --total "$n" \
        --val-size "$pin_size" --key-prefix "bench-$name/" --json "$out/etcd-$name.json" >&2 \
        || die "etcd-bench $name failed"
}

if [ "$skip_etcd" != 1 ]; then
    start_etcd
    for r in $(seq 1 "$repeat"); do
        etcd_run "leader-c1-r$r" 1 "$count_c1" "$etcd_leader"
        etcd_run "leader-c$high-r$r" "$high" "$count_high" "$etcd_leader"
        if [ "$spread" = 1 ]; then
            etcd_run "all-c$high-r$r" "$high" "$count_high" "${etcd_eps[@]}"
        fi
    done
    say "stopping etcd"
    stop_all
fi

# ---------------------------------------------------------------- summary
runs() { # the JSON files of this run, in a fixed order
    local sys r t
    for sys in pinfold etcd; do
        for t in "leader-c1" "leader-c$high" "all-c$high"; do
            for r in $(seq 1 "$repeat"); do
                [ -f "$out/$sys-$t-r$r.json" ] && printf '%s\n' "$out/$sys-$t-r$r.json"
            done
        done
    done
    return 0
}
rate_of() { # file
    if [ -f "$1" ]; then jq -r '.pins_per_sec // .puts_per_sec' "$1"; else echo ""; fi
}
mean_rate() { # system name-without-repeat: mean over the repeats
    local r v sum=0 k=0
    for r in $(seq 1 "$repeat"); do
        v="$(rate_of "$out/$1-$2-r$r.json")"
        [ -n "$v" ] || continue
        sum="$(awk -v a="$sum" -v b="$v" 'BEGIN { print a + b }')"
        k=$((k + 1))
    done
    [ "$k" -gt 0 ] && awk -v a="$sum" -v k="$k" 'BEGIN { printf "%.1f", a / k }'
    return 0
}

{
    printf '# Pinfold (3 peers) vs etcd %s (3 members), %s\n\n' \
        "$( [ "$skip_etcd" = 1 ] && echo '-' || etcd --version | head -n 1 | awk '{ print $3 }')" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'Machine: %s cores, %s. Pin JSON size (etcd value size): %s bytes. Repeats: %s.\n\n' \
        "$(nproc)" "$(uname -sr)" "$pin_size" "$repeat"
    printf '| system | target | C | count | ops/s | p50 ms | p95 ms | p99 ms | max ms | errors |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for f in $(runs); do
        [ -f "$f" ] || continue
        b="$(basename "$f" .json)"
        sys="${b%%-*}"
        rest="${b#*-}"
        jq -r --arg sys "$sys" --arg t "$rest" \
            '"| \($sys) | \($t) | \(.concurrency) | \(.count) | \((.pins_per_sec // .puts_per_sec) * 10 | round / 10) | \(.latency_ms.p50 * 100 | round / 100) | \(.latency_ms.p95 * 100 | round / 100) | \(.latency_ms.p99 * 100 | round / 100) | \(.latency_ms.max * 100 | round / 100) | \(.errors) |"' "$f"
    done
    printf '\n'
    for t in "leader-c1" "leader-c$high" "all-c$high"; do
        p="$(mean_rate pinfold "$t")"
        e="$(mean_rate etcd "$t")"
        [ -n "$p" ] && [ -n "$e" ] || continue
        awk -v t="$t" -v p="$p" -v e="$e" 'BEGIN {
            printf "Ratio %s: Pinfold %.1f pins/s / etcd %.1f puts/s = **%.2fx**\n\n", t, p, e, p / e }'
    done
    printf 'Aim (issue 5): Pinfold durable pins/s at C=%s at least 1.5x etcd puts/s.\n' "$high"
} >"$out/summary.md"

# summary.json: every run, plus the ratios
{
    printf '{"pin_size": %s, "repeat": %s, "runs": {' "$pin_size" "$repeat"
    first=1
    for f in $(runs); do
        [ -f "$f" ] || continue
        [ "$first" = 1 ] || printf ','
        first=0
        printf '"%s": %s' "$(basename "$f" .json)" "$(jq -c . "$f")"
    done
    printf '}, "ratios": {'
    first=1
    for t in "leader-c1" "leader-c$high" "all-c$high"; do
        p="$(mean_rate pinfold "$t")"
        e="$(mean_rate etcd "$t")"
        [ -n "$p" ] && [ -n "$e" ] || continue
        [ "$first" = 1 ] || printf ','
        first=0
        printf '"%s": {"pinfold": %s, "etcd": %s, "ratio": %s}' "$t" "$p" "$e" \
            "$(awk -v p="$p" -v e="$e" 'BEGIN { printf "%.3f", p / e }')"
    done
    printf '}}\n'
} | jq . >"$out/summary.json"

# chart.svg and an ASCII chart: one bar per run, ops/s
bars="$(for f in $(runs); do
    [ -f "$f" ] || continue
    printf '%s %s\n' "$(basename "$f" .json)" "$(rate_of "$f")"
done)"
printf '%s\n' "$bars" | awk '
    { name[NR] = $1; v[NR] = $2; if ($2 > max) max = $2 }
    END {
        w = 560; h = 26; left = 190
        printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + w + 90, NR * h + 40
        printf "<text x=\"10\" y=\"18\" font-weight=\"bold\">Writes per second (pins/s for Pinfold, puts/s for etcd), 3 peers each</text>\n"
        for (i = 1; i <= NR; i++) {
            y = 30 + (i - 1) * h
            len = (max > 0) ? v[i] / max * w : 0
            color = (name[i] ~ /^pinfold/) ? "#2b7bb9" : "#e07b39"
            printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8, y + 16, name[i]
            printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, y + 3, len, h - 6, color
            printf "<text x=\"%.1f\" y=\"%d\">%.0f</text>\n", left + len + 6, y + 16, v[i]
        }
        print "</svg>"
    }' >"$out/chart.svg"

cat "$out/summary.md"
printf '\n'
printf '%s\n' "$bars" | awk '
    { name[NR] = $1; v[NR] = $2; if ($2 > max) max = $2 }
    END {
        for (i = 1; i <= NR; i++) {
            n = (max > 0) ? int(v[i] / max * 50 + 0.5) : 0
            bar = ""; for (j = 0; j < n; j++) bar = bar "#"
            printf "%-24s %-50s %8.1f/s\n", name[i], bar, v[i]
        }
    }'
if [ -n "${BENCH_OUT:-}" ]; then
    say "figures, logs, summary.md, summary.json and chart.svg in $out"
fi
