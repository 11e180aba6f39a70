#!/usr/bin/env bash
# Stage 30: raw disk images, without loop devices or mounts.
#  os.raw:   GPT; partition 1 = FAT32 ESP (systemd-boot as the fallback loader, kernel,
#            initrd, one loader entry); partition 2 = ext4 root (label stele-root, no journal:
#            it is mounted read-only) made by mkfs.ext4 -d straight from the tarball.
#  data.raw: ext4 on the whole disk (label stele-data) with the skeleton the fstab binds
#            need; the guest grows it when the administrator enlarges the disk.
source "$(dirname "$0")/../lib.sh"

w="$OVA_WORK"
tarball="$w/rootfs.tar"
[ -s "$tarball" ] || die "no $tarball (run stage 20)"
rm -rf "$w/boot" && mkdir -p "$w/boot"

progress disks "kernel, initrd and systemd-boot from the tarball"
kernel=$(grep -E '^\./boot/vmlinuz-' "$w/rootfs.list" | sort -V | tail -1)
initrd=$(grep -E '^\./boot/initrd\.img-' "$w/rootfs.list" | sort -V | tail -1)
[ -n "$kernel" ] && [ -n "$initrd" ] || die "kernel or initrd missing from the rootfs"
tar -xf "$tarball" -C "$w/boot" "$kernel" "$initrd" ./usr/lib/systemd/boot/efi/systemd-bootx64.efi
mv "$w/boot/$kernel" "$w/boot/vmlinuz"
mv "$w/boot/$initrd" "$w/boot/initrd.img"
echo "${kernel#./boot/vmlinuz-}" > "$w/boot/kernel-version"

progress disks "ESP ${OVA_ESP_MIB} MiB (FAT32, systemd-boot, kernel $(cat "$w/boot/kernel-version"))"
esp="$w/esp.img"
rm -f "$esp"
mkfs.vfat -F 32 -n STELE-ESP -i 5e1e0e5f -C "$esp" $(( OVA_ESP_MIB * 1024 )) >/dev/null
printf 'default stele.conf\ntimeout 0\neditor no\nconsole-mode keep\n' > "$w/boot/loader.conf"
printf 'title stele appliance %s\nlinux /stele/vmlinuz\ninitrd /stele/initrd.img\noptions %s\n' \
    "$OVA_VERSION" "$OVA_CMDLINE" > "$w/boot/stele.conf"
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/stele
mcopy -i "$esp" "$w/boot/usr/lib/systemd/boot/efi/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$w/boot/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$w/boot/stele.conf" ::/loader/entries/stele.conf
mcopy -i "$esp" "$w/boot/vmlinuz" ::/stele/vmlinuz
mcopy -i "$esp" "$w/boot/initrd.img" ::/stele/initrd.img

# Root: the tarball plus ~25% and 96 MiB headroom; 8 KiB per inode (many small files).
tar_mib=$(( $(stat -c %s "$tarball") / 1048576 ))
root_mib=$(( tar_mib * 5 / 4 + 96 ))
progress disks "root ext4 ${root_mib} MiB from the tarball (mkfs.ext4 -d, read-only, no journal)"
root_img="$w/root.img"
rm -f "$root_img"
mkfs.ext4 -q -F -L stele-root -O ^has_journal -m 0 -i 8192 \
    -U 5e1e0000-0000-4000-8000-000000000001 -E hash_seed=5e1e0000-0000-4000-8000-000000000002 \
    -d "$tarball" "$root_img" "${root_mib}M"

progress disks "GPT os.raw"
os="$w/os.raw"
rm -f "$os"
total_mib=$(( 1 + OVA_ESP_MIB + root_mib + 1 ))
truncate -s "${total_mib}M" "$os"
sfdisk --quiet "$os" <<SFDISK
label: gpt
label-id: 5E1E0000-0000-4000-8000-0000000000AA
first-lba: 2048
start=2048, size=$(( OVA_ESP_MIB * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=5E1E0000-0000-4000-8000-0000000000E1, name="ESP"
start=$(( 2048 + OVA_ESP_MIB * 2048 )), size=$(( root_mib * 2048 )), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=5E1E0000-0000-4000-8000-0000000000E2, name="stele-root"
SFDISK
dd if="$esp" of="$os" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$root_img" of="$os" bs=1M seek=$(( 1 + OVA_ESP_MIB )) conv=notrunc,sparse status=none
rm -f "$esp" "$root_img"

progress disks "data disk ${OVA_DATA_GIB} GiB (ext4, label stele-data, skeleton)"
skel="$w/data-skel"
rm -rf "$skel" && mkdir -p "$skel"
install -d -m 0700 -o "$STELE_UID" -g "$STELE_UID" "$skel/config" "$skel/data"
install -d -m 0755 "$skel/log" "$skel/system" "$skel/system/systemd"
install -d -m 2755 "$skel/log/journal"
install -d -m 0700 "$skel/log/audit" "$skel/ssh" "$skel/system/rsyslog"
install -d -m 0755 "$skel/log/account"
data="$w/data.raw"
rm -f "$data"
truncate -s "${OVA_DATA_GIB}G" "$data"
mkfs.ext4 -q -F -L stele-data -m 1 -U 5e1e0000-0000-4000-8000-0000000000da \
    -E hash_seed=5e1e0000-0000-4000-8000-0000000000db,lazy_itable_init=1 -d "$skel" "$data"
progress disks "os.raw $(du -m --apparent-size "$os" | cut -f1) MiB ($(du -m "$os" | cut -f1) MiB used), data.raw ${OVA_DATA_GIB} GiB"
