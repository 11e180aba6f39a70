#!/usr/bin/env bash
# Builds stele-<version>.ova: the one command of the appliance build.
#
#   bash ova-build/build.sh [--stele PATH] [--out DIR]
#
# --stele PATH  the stele binary to embed (default: cargo build --release -p stele-node --bin stele)
# --out DIR     where the .ova goes (default: $OVA_WORK/out)
#
# Stages (each in ova-build/stages/, runnable alone with the same environment):
#   00-tools      install the host tools it needs (Debian packages), check versions
#   10-binaries   build stele-firstboot and stele-ova (release); take or build stele
#   20-rootfs     mmdebstrap: Debian bookworm minbase + main/updates/security -> rootfs.tar
#   30-disks      ESP (systemd-boot, kernel, initrd) + read-only ext4 root -> GPT os.raw;
#                 empty labelled ext4 data disk -> data.raw. No loop devices, no mounts.
#   40-vmdk       qemu-img convert -> streamOptimized VMDKs
#   50-ova        OVF descriptor (real sizes) + manifest + tar in vSphere's order
#   60-check      xmllint + the static checker (stele-ova check)
# Needs root (mmdebstrap root mode, ownership in the file systems). Work dir: $OVA_WORK
# (default $CARGO_TARGET_DIR/ova, outside git).
set -euo pipefail
export ova_t0="$(date +%s)"
source "$(dirname "$0")/lib.sh"

OVA_OUT="$OVA_WORK/out"
export STELE_BIN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --stele) STELE_BIN="$(realpath "$2")"; shift 2 ;;
        --out) OVA_OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
export STELE_BIN OVA_OUT
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap root mode and file ownership inside the images)"
mkdir -p "$OVA_WORK" "$OVA_OUT"

progress start "building $OVA_NAME.ova in $OVA_WORK (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
for stage in 00-tools 10-binaries 20-rootfs 30-disks 40-vmdk 50-ova 60-check; do
    s0=$(date +%s)
    progress "$stage" "start"
    bash "$OVA_BUILD_DIR/stages/$stage.sh"
    progress "$stage" "done in $(( $(date +%s) - s0 )) s"
done
total=$(( $(date +%s) - ova_t0 ))
size=$(stat -c %s "$OVA_OUT/$OVA_NAME.ova")
progress done "$OVA_OUT/$OVA_NAME.ova: $size bytes ($(( size / 1048576 )) MiB), built in $total s"
printf '%s\n' "build_seconds=$total" "ova_bytes=$size" > "$OVA_WORK/build-stats.env"
