#!/usr/bin/env bash
# Stage 60: static checks of the finished OVA: XML well-formedness (xmllint), then the Rust
# checker (member order, sizes, capacities, stream VMDKs, manifest digests, hardware, and every
# property against the configurator's schema), and the size budget.
source "$(dirname "$0")/../lib.sh"

ova="${OVA_OUT:-$OVA_WORK/out}/$OVA_NAME.ova"
[ -s "$ova" ] || die "no $ova"
progress check "xmllint --noout $OVA_NAME.ovf"
tar -xOf "$ova" "$OVA_NAME.ovf" | xmllint --noout - || die "descriptor is not well-formed XML"
progress check "stele-ova check $OVA_NAME.ova"
stele_ova check "$ova" | sed 's/^/    /' >&2 || die "static check failed"
size=$(stat -c %s "$ova")
limit=$(( 400 * 1024 * 1024 ))
[ "$size" -le "$limit" ] || die "OVA is $size bytes, over the 400 MiB budget"
progress check "OVA $size bytes, within the 400 MiB budget"
