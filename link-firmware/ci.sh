#!/usr/bin/env bash
# Firmware part of the test suite (called by tests/run-all.sh before the
# workspace tests): lints and builds both boards in release, prints and checks
# their sizes. The QEMU tests in `link-firmware/tests/qemu` then boot the
# lm3s6965evb ELFs built here (paths: `elf-paths` below).
#
#   link-firmware/ci.sh            # lint, build, size report
#   link-firmware/ci.sh elf-paths  # print the env assignments for the QEMU tests
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qemu_board="$here/boards/lm3s6965evb"

if [ "${1:-}" = elf-paths ]; then
    echo "TWINBEAT_LINK_ELF=$qemu_board/target/thumbv7m-none-eabi/release/twinbeat-link-lm3s6965evb"
    echo "TWINBEAT_LINK_WDT_ELF=$qemu_board/target/watchdog-demo/thumbv7m-none-eabi/release/twinbeat-link-lm3s6965evb"
    exit 0
fi

for board in lm3s6965evb rp2040; do
    echo "board $board: fmt, clippy, release build"
    (cd "$here/boards/$board" && cargo fmt --check && cargo clippy --quiet -- -D warnings && cargo build --release --quiet)
done
# A variant that stops feeding the watchdog, to prove the reset fires under QEMU.
(cd "$qemu_board" && cargo build --release --quiet --features watchdog-demo --target-dir target/watchdog-demo)
SIZE_REPORT_NO_BUILD=1 "$here/size-report.sh"
