#!/usr/bin/env bash
# CPU and RSS of an idle `twinbeat run` at the design's default rates (ICMP every 1 ms,
# remote DB every 10 ms, serial every 1 s, local DB every 2 s), role pinned standby,
# peer and gateway on loopback (ICMP answered by the kernel), no PostgreSQL behind the
# ports and no serial device. Samples /proc/PID/stat and /proc/PID/status over SECONDS
# after a 3 s warm-up. Run as root (ICMP sockets), after `cargo build --release -p twinbeat`;
# TWINBEAT_BIN picks another binary (e.g. target/dist/twinbeat, the build operators install).
#
#   host-daemon/benches/footprint.sh [SECONDS] [extra TOML lines...]
#   host-daemon/benches/footprint.sh 20 '[checks.icmp]' 'interval = "1s"'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs="${1:-60}"; shift || true
bin="${TWINBEAT_BIN:-${CARGO_TARGET_DIR:-target}/release/twinbeat}"
[ -x "$bin" ] || { echo "build first: cargo build --release -p twinbeat" >&2; exit 2; }
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
extra=""
for line in "$@"; do extra+="$line"$'\n'; done
cat >"$dir/idle.toml" <<TOML
node_id = "1"
role = "standby"
state_dir = "$dir"
[local_db]
host = "127.0.0.1"
port = 1
[local_db.service]
manager = "command"
restart_command = "true"
stop_command = "true"
[peer]
address = "127.0.0.1"
db_port = 1
[checks.serial]
device = "$dir/no-such-tty"
[checks.gateway]
address = "127.0.0.2"
[vip]
address = "192.0.2.200/24"
[status]
listen = "127.0.0.1:18433"
$extra
TOML
"$bin" run --config "$dir/idle.toml" 2>"$dir/log" &
pid=$!
sleep 3
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$secs"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
awk -v t=$(( (u1 - u0) + (s1 - s0) )) -v hz="$hz" -v s="$secs" -v rss="$rss" -v th="$threads" \
    'BEGIN { printf "CPU %.2f%% of one core (%.2f s in %d s); VmRSS %.1f MiB; %d threads\n", 100*t/hz/s, t/hz, s, rss/1024, th }'
