#!/usr/bin/env bash
# Installs what the twinbeat lab needs on a fresh Debian machine (run as root):
# PostgreSQL 15, iproute2 (ip netns), iputils-ping, nftables, socat, util-linux (setpriv),
# qemu-system-arm (the link firmware as the serial cable), and the thumbv7m Rust target.
# Installs only what is missing; safe to run again. Used by `cargo lab demo` and by
# tests/run-all.sh.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: needs root (apt-get install); run it as root." >&2
    exit 2
fi

pkgs=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || pkgs+=(postgresql-15)
command -v ip >/dev/null || pkgs+=(iproute2)
command -v ping >/dev/null || pkgs+=(iputils-ping)
command -v nft >/dev/null || pkgs+=(nftables)
command -v socat >/dev/null || pkgs+=(socat)
command -v setpriv >/dev/null || pkgs+=(util-linux)
command -v qemu-system-arm >/dev/null || pkgs+=(qemu-system-arm)

if [ "${#pkgs[@]}" -gt 0 ]; then
    echo "install-deps.sh: apt-get install ${pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# Debian's postgresql package starts a "main" cluster on port 5432 in the root namespace;
# the lab's servers live in their own namespaces, so it does not conflict.

if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx thumbv7m-none-eabi || rustup target add thumbv7m-none-eabi
fi
echo "install-deps.sh: lab dependencies present"
