#!/usr/bin/env bash
# twinbeat's whole test suite: the README's test command, and what .ci/run calls.
#
# On a fresh Debian machine, as root, it installs what the tests need (Debian
# packages, Rust targets, the nightly toolchain and cargo-fuzz), then runs:
# formatting, clippy, every crate's tests (unit, simulation, real-part tests),
# no_std builds for Cortex-M0+/M3, the fuzz smoke runs and the firmware checks.
# Set TWINBEAT_SKIP_INSTALL=1 to skip the install step on a prepared machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
start=$(date +%s)
section() { printf '\n=== %s (t=%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

install_deps() {
    section "install"
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run-all.sh: the install step needs root (apt-get, network namespaces)." >&2
        echo "Run it as root, or set TWINBEAT_SKIP_INSTALL=1 on a prepared machine." >&2
        exit 1
    fi
    local pkgs=()
    [ -x /usr/lib/postgresql/15/bin/initdb ] || pkgs+=(postgresql-15)
    command -v socat >/dev/null || pkgs+=(socat)
    command -v qemu-system-arm >/dev/null || pkgs+=(qemu-system-arm)
    command -v ip >/dev/null || pkgs+=(iproute2)
    command -v nft >/dev/null || pkgs+=(nftables)
    command -v ping >/dev/null || pkgs+=(iputils-ping)
    command -v runuser >/dev/null || pkgs+=(util-linux)
    command -v arm-none-eabi-size >/dev/null || pkgs+=(binutils-arm-none-eabi)
    command -v dbus-daemon >/dev/null || pkgs+=(dbus-daemon)
    command -v systemd-analyze >/dev/null || pkgs+=(systemd)
    if [ "${#pkgs[@]}" -gt 0 ]; then
        echo "apt-get install ${pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    rustup target add thumbv6m-none-eabi thumbv7m-none-eabi
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
}

[ "${TWINBEAT_SKIP_INSTALL:-0}" = 1 ] || install_deps

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
tests/fuzz-smoke.sh "${TWINBEAT_FUZZ_SECONDS:-20}"

section "done in $(( $(date +%s) - start ))s"
