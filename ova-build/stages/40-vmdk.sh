#!/usr/bin/env bash
# Stage 40: streamOptimized VMDKs (deflate-compressed grains; what an OVA carries).
# hwversion matches nothing ESXi checks strictly but documents the target; adapter_type
# lsilogic is what ESXi expects in stream VMDK descriptors (design note §1.6).
source "$(dirname "$0")/../lib.sh"

w="$OVA_WORK"
mkdir -p "$w/stage"
rm -f "$w/stage/"*
for disk in os data; do
    progress vmdk "qemu-img convert $disk.raw -> $OVA_NAME-$disk.vmdk"
    qemu-img convert -f raw -O vmdk \
        -o subformat=streamOptimized,adapter_type=lsilogic,hwversion=14 \
        "$w/$disk.raw" "$w/stage/$OVA_NAME-$disk.vmdk"
    progress vmdk "$OVA_NAME-$disk.vmdk: $(stat -c %s "$w/stage/$OVA_NAME-$disk.vmdk") bytes"
done
