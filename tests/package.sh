#!/usr/bin/env bash
# The Debian package, end to end, as an operator gets it:
#   1. built by cargo-deb from the `dist` profile, with twinbeat(1) generated from the
#      command line (examples/man_page.rs);
#   2. checked by lintian: no error;
#   3. installed with dpkg -i: the files where they belong, the example as a conffile,
#      the state directory 0700, the unit neither enabled nor started;
#   4. the installed unit verified by systemd-analyze, the installed example checked by
#      `twinbeat check-config`;
#   5. the installed binary's privileged actions (arm the start guard, promote and take
#      the VIP, fence and stop PostgreSQL) run against real PostgreSQL servers in the
#      installed unit's sandbox: its capabilities and its read-only mounts
#      (tests/src/unit_sandbox.rs: systemd is not PID 1 here, so `systemd-run` cannot
#      start the unit);
#   6. removed, then purged: nothing of it left.
# Needs root, cargo-deb, lintian and systemd-analyze (tests/install-deps.sh --tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
    echo "package: FAIL: $*" >&2
    exit 1
}
step() { echo "== package: $*"; }

if dpkg-query -W -f='${Status}' twinbeat 2>/dev/null | grep -q installed; then
    fail "a twinbeat package is installed already on this machine: remove it first"
fi

step "build (dist profile) and the man page"
cargo build --profile dist -p twinbeat
mkdir -p target/man
cargo run --release -q -p twinbeat --example man_page -- target/man/twinbeat.1
gzip -9nf target/man/twinbeat.1
rm -rf target/debian
# cargo-deb maps the asset `target/release/twinbeat` onto the profile built.
cargo deb -p twinbeat --profile dist --no-build --output target/debian/
deb=$(ls target/debian/twinbeat_*.deb)

step "lintian $deb"
# Warnings are printed; an error fails the package.
lintian --fail-on error "$deb"

cleanup() {
    if dpkg-query -W -f='${Status}' twinbeat 2>/dev/null | grep -q "installed\|config-files"; then
        dpkg --purge twinbeat >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb"
for f in /usr/bin/twinbeat /usr/lib/systemd/system/twinbeat.service \
    /etc/twinbeat/twinbeat.toml /usr/share/man/man1/twinbeat.1.gz \
    /usr/share/doc/twinbeat/OPERATIONS.md; do
    [ -e "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' twinbeat | grep -q "/etc/twinbeat/twinbeat.toml" \
    || fail "/etc/twinbeat/twinbeat.toml is not a conffile"
[ "$(stat -c %a /var/lib/twinbeat)" = 700 ] || fail "/var/lib/twinbeat is not mode 0700"
if ls /etc/systemd/system/*.wants/twinbeat.service >/dev/null 2>&1; then
    fail "installing enabled the unit"
fi
/usr/bin/twinbeat --version
man -w twinbeat >/dev/null 2>&1 || zcat /usr/share/man/man1/twinbeat.1.gz | grep -q "twinbeat" \
    || fail "the man page does not read"

step "systemd-analyze verify the installed unit"
verify=$(systemd-analyze verify --man=no /usr/lib/systemd/system/twinbeat.service 2>&1) \
    || fail "systemd-analyze verify: $verify"
if echo "$verify" | grep -i "twinbeat.service" | grep -v "^$"; then
    fail "systemd-analyze verify has something to say about the unit"
fi

step "twinbeat check-config on the installed example"
/usr/bin/twinbeat check-config --config /etc/twinbeat/twinbeat.toml >/dev/null

step "privileged actions of the installed binary in the installed unit's sandbox (capabilities, read-only mounts)"
TWINBEAT_BIN=/usr/bin/twinbeat TWINBEAT_UNIT=/usr/lib/systemd/system/twinbeat.service \
    cargo test --release -p twinbeat --test start_guard_run --test driver_run \
    --test stop_command_run

step "dpkg --remove, then --purge"
dpkg --remove twinbeat
[ ! -e /usr/bin/twinbeat ] || fail "/usr/bin/twinbeat left after remove"
[ -e /etc/twinbeat/twinbeat.toml ] || fail "remove took the conffile (only purge may)"
dpkg --purge twinbeat
for f in /etc/twinbeat /var/lib/twinbeat /usr/lib/systemd/system/twinbeat.service \
    /usr/share/doc/twinbeat; do
    [ ! -e "$f" ] || fail "$f left after purge"
done
trap - EXIT
step "ok: $deb"
