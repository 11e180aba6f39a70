#!/usr/bin/env bash
# Stage 10: release builds of what goes into (or builds) the image.
# stele-firstboot and stele-ova always come from this tree; stele from --stele or a build of
# the node crate.
source "$(dirname "$0")/../lib.sh"

progress binaries "cargo build --release -p stele-appliance"
(cd "$STELE_ROOT" && cargo build --release --quiet -p stele-appliance --bins)
mkdir -p "$OVA_WORK/bin"
install -m 0755 "$CARGO_TARGET_DIR/release/stele-firstboot" "$OVA_WORK/bin/stele-firstboot"
if [ -z "${STELE_BIN:-}" ]; then
    progress binaries "cargo build --release -p stele-node --bin stele"
    (cd "$STELE_ROOT" && cargo build --release --quiet -p stele-node --bin stele)
    STELE_BIN="$CARGO_TARGET_DIR/release/stele"
fi
[ -x "$STELE_BIN" ] || die "stele binary $STELE_BIN is missing or not executable"
install -m 0755 "$STELE_BIN" "$OVA_WORK/bin/stele"
# Debug info is for the build host; symbols stay so backtraces name functions.
strip --strip-debug "$OVA_WORK/bin/stele" "$OVA_WORK/bin/stele-firstboot"
progress binaries "stele $(stat -c %s "$OVA_WORK/bin/stele") bytes, stele-firstboot $(stat -c %s "$OVA_WORK/bin/stele-firstboot") bytes"
