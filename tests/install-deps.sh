#!/usr/bin/env bash
# Installs what twinbeat's lab and test suite need on a fresh Debian machine (as root),
# only what is missing; safe to run again.
#
#   tests/install-deps.sh          # the lab (`cargo lab demo`): PostgreSQL 15, iproute2,
#                                  # iputils-ping, nftables, socat, util-linux, QEMU,
#                                  # the thumbv7m target
#   tests/install-deps.sh --tests  # also what tests/run-all.sh needs: dbus-daemon,
#                                  # systemd (systemd-analyze), lintian, the thumbv6m
#                                  # target, the nightly toolchain, cargo-fuzz and
#                                  # cargo-deb
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: needs root (apt-get install, network namespaces); run it as root." >&2
    exit 2
fi
for_tests=0
[ "${1:-}" = --tests ] && for_tests=1

pkgs=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || pkgs+=(postgresql-15)
command -v ip >/dev/null || pkgs+=(iproute2)
command -v ping >/dev/null || pkgs+=(iputils-ping)
command -v nft >/dev/null || pkgs+=(nftables)
command -v socat >/dev/null || pkgs+=(socat)
command -v setpriv >/dev/null || pkgs+=(util-linux)
command -v python3 >/dev/null || pkgs+=(python3)
if [ "$for_tests" = 1 ]; then
    command -v dbus-daemon >/dev/null || pkgs+=(dbus-daemon)
    command -v systemd-analyze >/dev/null || pkgs+=(systemd)
    command -v lintian >/dev/null || pkgs+=(lintian)
    command -v openssl >/dev/null || pkgs+=(openssl)   # the peer TLS tests' certificates
fi

if [ "${#pkgs[@]}" -gt 0 ]; then
    echo "install-deps.sh: apt-get install ${pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# QEMU for the bridge firmware: 9 or later from the release's backports suite when the
# machine's Debian mirror carries it (the bridge adds about half the latency it adds
# under 7.2: docs/BENCHMARKS.md), else the release's own (7.2 on bookworm), which works
# too. Backports is added as a source of its own, pinned low by apt as backports always
# is: nothing else is taken from it unless asked for by name.
qemu_major() {
    qemu-system-arm --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p'
}
install_qemu() {
    [ "$(qemu_major)" ] && [ "$(qemu_major)" -ge 9 ] && return
    local codename mirror source=/etc/apt/sources.list.d/twinbeat-backports.sources
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ -n "$codename" ] && ! apt-cache policy 2>/dev/null | grep -q " $codename-backports/"; then
        mirror=$({ grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list \
            /etc/apt/sources.list.d/ 2>/dev/null || true; } | head -n 1 | tr -d ' ')
        if [ -n "$mirror" ]; then
            printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$mirror" "$codename" >"$source"
            apt-get update -qq || { rm -f "$source"; apt-get update -qq; }
        fi
    fi
    local from=()
    if [ -n "$codename" ] && apt-cache policy qemu-system-arm 2>/dev/null \
        | grep -A1 -E '^ +(\*\*\* )?1:(9|[1-9][0-9])\.' | grep -q " $codename-backports/"; then
        from=(-t "$codename-backports")
    elif command -v qemu-system-arm >/dev/null; then
        return
    fi
    echo "install-deps.sh: apt-get install qemu-system-arm ${from[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${from[@]}" qemu-system-arm >/dev/null
}
install_qemu
# Debian's postgresql package may start a "main" cluster on port 5432 in the root
# namespace; the lab's and the tests' servers use their own ports and namespaces.

targets=(thumbv7m-none-eabi)
[ "$for_tests" = 1 ] && targets+=(thumbv6m-none-eabi)
for target in "${targets[@]}"; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done
if [ "$for_tests" = 1 ]; then
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    # The package's test (tests/package.sh).
    command -v cargo-deb >/dev/null || cargo install cargo-deb --version 3.8.0 --locked
fi
echo "install-deps.sh: dependencies present"
