#!/usr/bin/env bash
# Stage 20: the root file system as a tarball, built by mmdebstrap from Debian bookworm
# (main + updates + security, so the image carries the latest kernel and fixes).
# minbase + an explicit package list: no compilers, no python, no recommends.
source "$(dirname "$0")/../lib.sh"

packages=(
    linux-image-cloud-amd64 initramfs-tools systemd-sysv udev kmod e2fsprogs
    systemd-boot-efi systemd-resolved systemd-timesyncd
    nftables iproute2 netbase ca-certificates
    open-vm-tools auditd rsyslog openssh-server acct libpam-tmpdir
)
mirror=http://deb.debian.org/debian
out="$OVA_WORK/rootfs.tar"
rm -f "$out"
progress rootfs "mmdebstrap bookworm minbase + ${#packages[@]} packages (progress from apt follows)"
mmdebstrap --variant=minbase --mode=root --format=tar \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools/hooks" && install -m 0755 "'"$STELE_ROOT"'/appliance/overlay/etc/initramfs-tools/hooks/stele" "$1/etc/initramfs-tools/hooks/stele"' \
    --customize-hook='bash "'"$OVA_BUILD_DIR"'/stages/rootfs-customize.sh" "$1"' \
    --include="$(IFS=,; echo "${packages[*]}")" \
    bookworm "$out" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" 2>&1 |
    while IFS= read -r line; do
        case "$line" in
            I:*|W:*|E:*) progress rootfs "$line" ;;
            "[ova-build"*) printf "%s\n" "$line" >&2 ;;
        esac
    done
[ "${PIPESTATUS[0]}" = 0 ] || die "mmdebstrap failed"
[ -s "$out" ] || die "mmdebstrap produced no tarball"
tar -tf "$out" > "$OVA_WORK/rootfs.list"
progress rootfs "$out: $(( $(stat -c %s "$out") / 1048576 )) MiB, $(wc -l < "$OVA_WORK/rootfs.list") entries"
