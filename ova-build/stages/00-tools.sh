#!/usr/bin/env bash
# Stage 00: install the host tools the build needs, from Debian (bookworm + backports).
# qemu-utils 10.0.2 and e2fsprogs >= 1.47.1 (mkfs.ext4 -d from a tarball) come from
# bookworm-backports; installing bookworm's qemu-system-x86 without -t would replace
# qemu-utils 10.0.2 by 7.2 (design note §4c), so both are pinned to backports together.
source "$(dirname "$0")/../lib.sh"

need=()
for tool in mmdebstrap:mmdebstrap mkfs.vfat:dosfstools mcopy:mtools sfdisk:fdisk xmllint:libxml2-utils \
            genisoimage:genisoimage; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
dpkg -s libarchive13 >/dev/null 2>&1 || need+=(libarchive13)
backports=()
mke2fs_version=$(mke2fs -V 2>&1 | sed -n 's/^mke2fs \([0-9.]*\).*/\1/p')
if ! printf '%s\n' 1.47.1 "$mke2fs_version" | sort -V -C; then backports+=(e2fsprogs); fi
command -v qemu-img >/dev/null || backports+=(qemu-utils)
if [ ${#need[@]} -gt 0 ] || [ ${#backports[@]} -gt 0 ]; then
    progress tools "installing ${need[*]} ${backports[*]}"
    if [ ${#backports[@]} -gt 0 ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/stele-backports.list
    fi
    apt-get update -qq >/dev/null 2>&1 || true
    [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    [ ${#backports[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports "${backports[@]}" >/dev/null
fi
mke2fs_version=$(mke2fs -V 2>&1 | sed -n 's/^mke2fs \([0-9.]*\).*/\1/p')
printf '%s\n' 1.47.1 "$mke2fs_version" | sort -V -C || die "mke2fs $mke2fs_version cannot read a tarball with -d (needs 1.47.1+)"
progress tools "mmdebstrap $(mmdebstrap --version | awk '{print $2}'), $(qemu-img --version | head -1), mke2fs $mke2fs_version"
