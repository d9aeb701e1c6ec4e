#!/usr/bin/env bash
# twinbeat's whole test suite: the README's test command, and what .ci/run calls.
#
# On a fresh Debian machine, as root, it installs what the tests need (Debian
# packages, Rust targets, the nightly toolchain and cargo-fuzz), then runs:
# formatting, clippy, every crate's tests (unit, simulation, real-part tests),
# no_std builds for Cortex-M0+/M3, the fuzz smoke runs, the firmware checks and the
# Debian package (tests/package.sh).
# Set TWINBEAT_SKIP_INSTALL=1 to skip the install step on a prepared machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
start=$(date +%s)
section() { printf '\n=== %s (t=%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

if [ "${TWINBEAT_SKIP_INSTALL:-0}" != 1 ]; then
    section "install"
    tests/install-deps.sh --tests
fi

section "fmt"
cargo fmt --all -- --check

section "clippy"
cargo clippy --workspace --all-targets --release -- -D warnings

section "firmware: boards linted, built and sized"
link-firmware/ci.sh
# The QEMU tests of twinbeat-link boot the ELFs just built.
while IFS= read -r assignment; do export "${assignment?}"; done < <(link-firmware/ci.sh elf-paths)

section "tests (unit, simulation, real parts, firmware under QEMU)"
cargo test --workspace --release

section "no_std builds (Cortex-M0+ and Cortex-M3)"
for target in thumbv6m-none-eabi thumbv7m-none-eabi; do
    cargo build --release --target "$target" -p twinbeat-protocol -p twinbeat-core -p twinbeat-link
done

section "fuzz smoke"
protocol/fuzz/smoke.sh "${TWINBEAT_FUZZ_SECONDS:-20}"

section "the Debian package: built, linted, installed, verified, exercised, removed"
tests/package.sh

section "done in $(( $(date +%s) - start ))s"
