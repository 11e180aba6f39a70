#!/usr/bin/env bash
# Shared helpers of the ova-build stages: progress output, timing, and the build settings.
# Sourced by build.sh and by every stage script; each stage can also be run alone with the
# same environment (OVA_WORK, OVA_VERSION, ...).
set -euo pipefail

OVA_BUILD_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STELE_ROOT="${STELE_ROOT:-$(cd "$OVA_BUILD_DIR/.." && pwd)}"
export STELE_ROOT OVA_BUILD_DIR
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
export OVA_WORK="${OVA_WORK:-$CARGO_TARGET_DIR/ova}"
export OVA_VERSION="${OVA_VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$STELE_ROOT/Cargo.toml" | head -1)}"
export OVA_NAME="${OVA_NAME:-stele-$OVA_VERSION}"
# Reproducible timestamps: the commit time of the tree being built.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$STELE_ROOT" log -1 --format=%ct 2>/dev/null || echo 1700000000)}"
# Sizes of the disks.
export OVA_ESP_MIB="${OVA_ESP_MIB:-64}"
export OVA_DATA_GIB="${OVA_DATA_GIB:-20}"
# Kernel command line: serial last so /dev/console (systemd status, stele-firstboot output) is
# the serial port for tests and support; getty shows the banner on tty1 for the vSphere console.
export OVA_CMDLINE="${OVA_CMDLINE:-root=LABEL=stele-root ro rootfstype=ext4 console=tty0 console=ttyS0,115200n8 vsyscall=none slab_nomerge init_on_alloc=1 page_alloc.shuffle=1 systemd.show_status=true}"
# uid/gid of the node user; the data disk skeleton is made with them.
export STELE_UID=990
export BREAKGLASS_UID=991

ova_t0="${ova_t0:-$(date +%s)}"
export ova_t0

# progress STAGE MESSAGE: one line per step, with seconds since the build started.
progress() {
    printf '[ova-build %4ss] %-8s %s\n' "$(( $(date +%s) - ova_t0 ))" "$1" "$2" >&2
}

die() {
    printf '[ova-build] ERROR: %s\n' "$*" >&2
    exit 1
}

stele_ova() {
    "$CARGO_TARGET_DIR/release/stele-ova" "$@"
}

# make_cluster DIR N HOSTS [STELE]: a real cluster for tests, made the way an operator makes one:
# `stele init --replicas N --hosts HOSTS --p2p-port 30303 --rpc-port 8545 --appliance --out DIR`
# with STELE (default: the binary stage 10 put into the image, $OVA_WORK/bin/stele). Then, per
# replica, what the VM will get and serve, taken out of the bundle itself:
# DIR/replica-<i>/bundle.txt (the stele.bundle property value), bundle-rpc.crt, bundle-rpc.key,
# bundle-bls.key.
make_cluster() {
    local d="$1" n="$2" hosts="$3" stele="${4:-$OVA_WORK/bin/stele}" i
    [ -x "$stele" ] || die "no stele binary at $stele (stage 10 puts it in \$OVA_WORK/bin)"
    rm -rf "$d"
    "$stele" init --replicas "$n" --hosts "$hosts" --p2p-port 30303 --rpc-port 8545 --appliance \
        --name stele-appliance-test --out "$d" >/dev/null || die "stele init --appliance failed"
    for (( i = 0; i < n; i++ )); do
        local r="$d/replica-$i"
        [ -s "$r/stele.bundle" ] || die "stele init wrote no $r/stele.bundle"
        tr -d '\n' < "$r/stele.bundle" > "$r/bundle.txt"
        python3 - "$r" <<'PY' || die "cannot read the bundle of $r"
import base64, json, os, sys
r = sys.argv[1]
b = json.loads(base64.b64decode(open(f"{r}/bundle.txt").read(), validate=True))
assert b["format"] == "stele-appliance-bundle/1", b["format"]
for name in ("rpc.crt", "rpc.key", "bls.key"):
    fd = os.open(f"{r}/bundle-{name}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b["files"][name].encode())
    os.close(fd)
PY
    done
}

# ova_unpack OVA DIR: unpacks the OVA into DIR and takes the kernel, initrd and command line out
# of its own ESP (direct kernel boot: Debian's OVMF cannot boot from pvscsi, design note §4c).
# Sets os_vmdk, data_vmdk, cmdline; writes DIR/vmlinuz and DIR/initrd.img.
ova_unpack() {
    local ova="$1" d="$2"
    tar -xf "$ova" -C "$d"
    os_vmdk=$(ls "$d"/*-os.vmdk)
    data_vmdk=$(ls "$d"/*-data.vmdk)
    qemu-img convert -f vmdk -O raw "$os_vmdk" "$d/os.raw"
    mcopy -n -i "$d/os.raw@@1M" ::/stele/vmlinuz "$d/vmlinuz"
    mcopy -n -i "$d/os.raw@@1M" ::/stele/initrd.img "$d/initrd.img"
    cmdline=$(mtype -i "$d/os.raw@@1M" ::/loader/entries/stele.conf | sed -n 's/^options //p')
    rm -f "$d/os.raw"
    [ -n "$cmdline" ] || die "no kernel command line in the image's loader entry"
}
