#!/usr/bin/env bash
# CPU and RSS of both daemons of an idle lab pair — node a the master, node b the
# standby — at the design's default rates (the lab's default profile: ICMP every 1 ms,
# remote DB every 10 ms, serial every 1 s, local DB every 2 s), with real PostgreSQL
# 15 on each node, the peer across a veth pair and the serial line through the lab's
# pty relay. Brings a lab up (`lab up`), samples /proc/PID/stat and /proc/PID/status of
# each `twinbeat run` over SECONDS after WARMUP seconds, and removes the lab. Run as
# root after `cargo build --release -p twinbeat-lab` and a daemon build; TWINBEAT_BIN
# picks the daemon binary (e.g. target/dist/twinbeat from `cargo build --profile dist
# -p twinbeat`, what operators install).
#
#   host-daemon/benches/footprint-lab.sh [SECONDS] [WARMUP]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs="${1:-60}"
warmup="${2:-10}"
lab="${CARGO_TARGET_DIR:-target}/release/lab"
[ -x "$lab" ] || { echo "build first: cargo build --release -p twinbeat-lab" >&2; exit 2; }
if [ -n "${TWINBEAT_BIN:-}" ]; then TWINBEAT_BIN="$(realpath "$TWINBEAT_BIN")"; export TWINBEAT_BIN; fi
trap '"$lab" down >/dev/null 2>&1 || true' EXIT
out="$("$lab" up)"
# `lab up` prints node a's daemon, then node b's: "    daemon pid N: {status}".
mapfile -t pids < <(sed -n 's/^ *daemon pid \([0-9]*\):.*/\1/p' <<<"$out")
[ "${#pids[@]}" -eq 2 ] || { echo "$out" >&2; echo "expected two daemons" >&2; exit 1; }
sleep "$warmup"
declare -A t0
for pid in "${pids[@]}"; do t0[$pid]=$(awk '{print $14 + $15}' "/proc/$pid/stat"); done
sleep "$secs"
hz=$(getconf CLK_TCK)
i=0
for node in a b; do
    pid="${pids[$i]}"; i=$((i + 1))
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    role=master; [ "$node" = b ] && role=standby
    awk -v n="$node" -v r="$role" -v t=$((t1 - t0[$pid])) -v hz="$hz" -v s="$secs" -v rss="$rss" \
        'BEGIN { printf "node %s (%s): CPU %.2f%% of one core (%.2f s in %d s); VmRSS %.1f MiB\n", n, r, 100*t/hz/s, t/hz, s, rss/1024 }'
done
