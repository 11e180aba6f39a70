#!/usr/bin/env bash
# mmdebstrap customize hook: turns the installed tree ($1) into the hardened appliance.
# Runs on the build host as root with the tree at $1; commands inside use chroot.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
root="$1"
[ -d "$root/etc" ] || die "customize hook: $root is not a root file system"
in_root() { chroot "$root" "$@"; }

progress rootfs "customize: overlay, binaries, users"
# Overlay: root-owned, without touching the modes of existing directories.
tar -C "$STELE_ROOT/appliance/overlay" --owner=0 --group=0 --numeric-owner -cf - . |
    tar -C "$root" --no-overwrite-dir -xf -
install -m 0755 "$OVA_WORK/bin/stele" "$root/usr/bin/stele"
install -m 0755 "$OVA_WORK/bin/stele-firstboot" "$root/usr/bin/stele-firstboot"
mkdir -p "$root/usr/share/doc/stele"
install -m 0644 "$STELE_ROOT/docs/operator/appliance.md" "$root/usr/share/doc/stele/appliance.md"

# The node's user (fixed ids: the data disk skeleton is made with them) and the break-glass
# user (no password, key login only when the ssh.authorized_key property is set).
in_root groupadd --system --gid "$STELE_UID" stele
in_root useradd --system --uid "$STELE_UID" --gid stele --home-dir /var/lib/stele --no-create-home \
    --shell /usr/sbin/nologin stele
in_root useradd --system --uid "$BREAKGLASS_UID" --user-group --home-dir /nonexistent --no-create-home \
    --shell /bin/bash --groups systemd-journal,adm breakglass
in_root usermod -p '*' breakglass
in_root passwd -l root >/dev/null
in_root usermod -s /usr/sbin/nologin root

progress rootfs "customize: services"
in_root systemctl enable stele-firstboot.service stele.service stele-diagnostics.service stele-lock-modules.service nftables.service systemd-networkd.service \
    systemd-resolved.service systemd-timesyncd.service auditd.service open-vm-tools.service >/dev/null 2>&1
# Started on demand by stele-firstboot only.
in_root systemctl disable ssh.service rsyslog.service >/dev/null 2>&1 || true
rm -f "$root/etc/systemd/system/sshd.service" "$root/etc/systemd/system/syslog.service"
in_root systemctl mask ssh.socket ctrl-alt-del.target debug-shell.service systemd-networkd-wait-online.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    >/dev/null 2>&1 || true
# vmtoolsd's guest customization (VMware's "customization specs") would rewrite network and
# host settings behind the configurator's back.
if [ -f "$root/etc/vmware-tools/tools.conf.example" ] || [ -d "$root/etc/vmware-tools" ]; then
    printf '[deployPkg]\nenable-customization = false\n\n[guestinfo]\npoll-interval = 30\n' > "$root/etc/vmware-tools/tools.conf"
fi

progress rootfs "customize: audit rules, firewall base, read-only root"
# augenrules cannot write on the read-only root at boot: compile the rules now.
cp "$root/etc/audit/rules.d/stele.rules" "$root/etc/audit/audit.rules"
rm -f "$root/etc/audit/rules.d/audit.rules"
chmod 0640 "$root/etc/audit/audit.rules" "$root/etc/audit/rules.d/stele.rules"
# Base firewall loaded by nftables.service before the configurator replaces it: nothing open.
cat > "$root/etc/nftables.conf" <<'NFT'
#!/usr/sbin/nft -f
# stele base rule set, loaded early at boot. stele-firstboot replaces it with the full set
# (RPC and replica ports from the properties) from /run/stele/nftables.conf.
flush ruleset
table inet stele {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state invalid drop
        ct state established,related accept
        iifname "lo" accept
        meta l4proto ipv6-icmp accept
        udp sport 67 udp dport 68 accept
        udp sport 547 udp dport 546 accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
    }
}
NFT
chmod 0600 "$root/etc/nftables.conf"
# resolved without a stub listener: point resolv.conf at its full list of servers.
ln -sfn /run/systemd/resolve/resolv.conf "$root/etc/resolv.conf"
# getty reads /etc/issue.d only (not /run/issue.d) when /etc/issue exists: link the banner
# that stele-firstboot writes at run time.
mkdir -p "$root/etc/issue.d"
ln -sfn /run/issue.d/50-stele.issue "$root/etc/issue.d/50-stele.issue"
# Mount points; the data disk's contents come from its skeleton (stage 30).
mkdir -p "$root/var/lib/stele" "$root/var/lib/systemd" "$root/var/log" "$root/run/stele"
# No identity baked into the image: a transient machine id per boot, no SSH host keys.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
# login.defs: umask 027, password ageing and hashing rounds (lynis AUTH-9230/9286).
sed -i -e 's/^UMASK.*/UMASK\t\t027/' -e 's/^PASS_MAX_DAYS.*/PASS_MAX_DAYS\t365/' \
    -e 's/^PASS_MIN_DAYS.*/PASS_MIN_DAYS\t1/' "$root/etc/login.defs"
printf 'SHA_CRYPT_MIN_ROUNDS\t65536\nSHA_CRYPT_MAX_ROUNDS\t131072\n' >> "$root/etc/login.defs"
chmod 0600 "$root/etc/ssh/sshd_config"
# Scheduled-job directories readable by root only (lynis FILE-7524); nothing is scheduled in them.
for d in cron.d cron.daily cron.hourly cron.weekly cron.monthly cron.yearly; do
    [ ! -d "$root/etc/$d" ] || chmod 0700 "$root/etc/$d"
done
# procps' /usr/lib/sysctl.d/protect-links.conf sorts after 90-stele-hardening.conf and would
# set fs.protected_fifos and fs.protected_regular back to 1 (lynis KRNL-6000): shadow it.
if [ -f "$root/usr/lib/sysctl.d/protect-links.conf" ]; then
    printf '# stele: shadows procps'"'"' protect-links.conf (it sorts after 90-stele-hardening.conf)\nfs.protected_symlinks = 1\nfs.protected_hardlinks = 1\nfs.protected_fifos = 2\nfs.protected_regular = 2\n' \
        > "$root/etc/sysctl.d/protect-links.conf"
fi
# No compilers and nothing to build with (minbase has none; make sure).
for cc in gcc cc c++ g++ clang rustc cargo make; do
    [ ! -e "$root/usr/bin/$cc" ] || die "compiler $cc found in the image"
done
# Package caches are useless on a read-only root.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
    "$root"/var/log/*.log "$root"/var/log/apt
