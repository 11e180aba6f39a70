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

# make_test_bundle DIR: a throwaway TLS certificate/key and replica bundle for tests, in DIR
# (rpc.crt, rpc.key, config.toml, bundle.txt). Real deployments use `stele init --appliance`.
make_test_bundle() {
    local d="$1"
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=stele-test -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
        -keyout "$d/rpc.key" -out "$d/rpc.crt" 2>/dev/null
    printf '# test replica config (placeholder until `stele init --appliance` writes the real one)\n' > "$d/config.toml"
    stele_ova bundle --replica 0 config.toml="$d/config.toml" rpc.crt="$d/rpc.crt" rpc.key="$d/rpc.key" > "$d/bundle.txt"
}
