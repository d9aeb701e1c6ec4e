#!/usr/bin/env bash
# Bounded fuzz run of every target, seeded from the golden vectors.
# Usage: protocol/fuzz/smoke.sh [seconds per target, default 20]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/twinbeat-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# -s none: the crate forbids unsafe code, so AddressSanitizer only slows it down.
cargo +nightly fuzz build -s none
for target in decode_bytes chunked_vs_whole roundtrip; do
  mkdir -p "$scratch/$target"
  # New inputs go to the first (scratch) directory; the committed seeds stay as they are.
  if ! cargo +nightly fuzz run -s none "$target" "$scratch/$target" "seeds/$target" -- \
      -max_total_time="$secs" -max_len=256 -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
    tail -n 40 "$scratch/$target.log"
    echo "fuzz $target: FAILED (reproducer under protocol/fuzz/artifacts/$target/)"
    exit 1
  fi
  runs="$(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$')"
  echo "fuzz $target: ${runs:-?} runs in ${secs}s, no crash"
done
