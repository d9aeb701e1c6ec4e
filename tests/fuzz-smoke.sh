#!/usr/bin/env bash
# Bounded smoke run of every cargo-fuzz target of the protocol, each starting
# from its committed seed corpus. Usage: tests/fuzz-smoke.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../protocol"
secs="${1:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$target"
    if [ -d "fuzz/seeds/$target" ]; then cp -r "fuzz/seeds/$target/." "$work/$target/"; fi
    echo "fuzz $target for ${secs}s"
    if ! cargo +nightly fuzz run "$target" "$work/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$work/$target.log" 2>&1; then
        tail -n 60 "$work/$target.log"
        echo "fuzz target $target FAILED"
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|Done )' "$work/$target.log" || true
done
