#!/bin/sh
# Measures what the probes cost; the figures go into
# host-daemon/docs/port-check-cost.md. Needs root, iproute2, PostgreSQL 15 and
# /usr/bin/time (apt-get install time). Takes about 2 minutes after the build.
#
#   sh host-daemon/benches/probe-cost.sh [SECONDS=20]
#
# 1. A throw-away PostgreSQL 15 on 127.0.0.1; the remote DB check at 100 Hz
#    against it: idle, persistent `SELECT 1` (the daemon's way), and a new
#    connection per probe; the server's CPU from /proc for each.
# 2. The ICMP path at 1 kHz inside a network namespace pair, under /usr/bin/time -v.
set -eu
SECONDS_EACH=${1:-20}
BIN=/usr/lib/postgresql/15/bin
TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p twinbeat --example icmp_load --example port_check_cost
EXAMPLES="$TARGET_DIR/release/examples"

WORK=$(mktemp -d /tmp/tbcost.XXXXXX)
NS=tbcost-$$
PGPID=
cleanup() {
    if [ -n "$PGPID" ]; then
        # runuser does not pass SIGQUIT on: signal the postmaster itself
        # (immediate shutdown), then reap runuser.
        pm=$(head -1 "$WORK/data/postmaster.pid" 2>/dev/null || true)
        [ -n "$pm" ] && kill -QUIT "$pm" 2>/dev/null || true
        wait "$PGPID" 2>/dev/null || true
    fi
    ip netns del "$NS-a" 2>/dev/null || true
    ip netns del "$NS-b" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

chown postgres: "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -N -E UTF8 --locale=C >/dev/null
runuser -u postgres -- "$BIN/postgres" -D "$WORK/data" -p "$PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$WORK" -c fsync=off >"$WORK/pg.log" 2>&1 &
PGPID=$!
until grep -q ready "$WORK/data/postmaster.pid" 2>/dev/null; do sleep 0.1; done
# runuser forks: the postmaster is its child; measure the postmaster itself.
POSTMASTER=$(head -1 "$WORK/data/postmaster.pid")
echo "PostgreSQL $($BIN/postgres --version | cut -d' ' -f3) on port $PORT, postmaster $POSTMASTER"
for mode in idle persistent reconnect; do
    "$EXAMPLES/port_check_cost" "$mode" "$PORT" "$POSTMASTER" 100 "$SECONDS_EACH"
done

ip netns add "$NS-a"
ip netns add "$NS-b"
ip link add veth0 netns "$NS-a" type veth peer name veth0 netns "$NS-b"
ip -n "$NS-a" addr add 10.250.1.1/24 dev veth0
ip -n "$NS-b" addr add 10.250.1.2/24 dev veth0
for ns in "$NS-a" "$NS-b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
done
ip netns exec "$NS-a" /usr/bin/time -v "$EXAMPLES/icmp_load" 10.250.1.2 1000 "$SECONDS_EACH" 100 \
    2>"$WORK/time.txt"
grep -E "User time|System time|Percent of CPU|Maximum resident" "$WORK/time.txt"
# For comparison: the same loop at 100 Hz, and a bare 1 kHz timer loop (no I/O).
ip netns exec "$NS-a" "$EXAMPLES/icmp_load" 10.250.1.2 100 "$SECONDS_EACH" 100
"$EXAMPLES/icmp_load" none 1000 "$SECONDS_EACH"
