#!/usr/bin/env bash
# Builds every board's firmware in release and prints its flash use
# (text + data: code, constants, vector table, boot2, and the initial values
# of .data) and static RAM (data + bss, which now includes the bridge's
# buffers: the boards keep the bridge in a static). The stack is not counted.
#
# Fails if a board exceeds the limits below; the goals are printed for
# comparison. Needs python3 (reads the ELF section table itself, so no
# arm-none-eabi binutils are required) and the thumbv6m/thumbv7m targets.
#
#   link-firmware/size-report.sh            # build and report
#   SIZE_REPORT_NO_BUILD=1 size-report.sh   # report on existing release ELFs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
flash_limit=$((64 * 1024))
ram_limit=$((16 * 1024))
flash_goal=$((16 * 1024))
ram_goal=$((4 * 1024))

# board directory : target triple : binary name
boards=(
    "lm3s6965evb:thumbv7m-none-eabi:twinbeat-link-lm3s6965evb"
    "rp2040:thumbv6m-none-eabi:twinbeat-link-rp2040"
)

# Prints "flash ram" for an ELF32 little-endian file: flash = allocated
# sections with contents, RAM = allocated writable sections (as Berkeley
# `size`: text + data and data + bss).
elf_sizes() {
    python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
    sys.exit(f"{sys.argv[1]}: not a 32-bit little-endian ELF")
shoff, = struct.unpack_from("<I", data, 0x20)
shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
SHT_NOBITS, SHF_WRITE, SHF_ALLOC = 8, 0x1, 0x2
flash = ram = 0
for i in range(shnum):
    _, sh_type, flags, _, _, size = struct.unpack_from("<IIIIII", data, shoff + i * shentsize)
    if not flags & SHF_ALLOC:
        continue
    if sh_type != SHT_NOBITS:
        flash += size
    if flags & SHF_WRITE:
        ram += size
print(flash, ram)
PY
}

kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

failed=0
printf '%-14s %-20s %16s %16s\n' board target flash "static RAM"
for entry in "${boards[@]}"; do
    IFS=: read -r board target bin <<<"$entry"
    dir="$here/boards/$board"
    if [[ -z "${SIZE_REPORT_NO_BUILD:-}" ]]; then
        (cd "$dir" && cargo build --release --quiet)
    fi
    elf="$dir/target/$target/release/$bin"
    read -r flash ram < <(elf_sizes "$elf")
    printf '%-14s %-20s %7d B %-8s %7d B %-8s\n' "$board" "$target" "$flash" "($(kib "$flash"))" "$ram" "($(kib "$ram"))"
    if ((flash > flash_limit)); then
        echo "  FAIL: flash $flash B > limit $flash_limit B" >&2
        failed=1
    elif ((flash > flash_goal)); then
        echo "  note: flash above the $flash_goal B goal"
    fi
    if ((ram > ram_limit)); then
        echo "  FAIL: static RAM $ram B > limit $ram_limit B" >&2
        failed=1
    elif ((ram > ram_goal)); then
        echo "  note: static RAM above the $ram_goal B goal"
    fi
done
echo "limits: flash $(kib $flash_limit), static RAM $(kib $ram_limit); goals: $(kib $flash_goal), $(kib $ram_goal)"
exit $failed
