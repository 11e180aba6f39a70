#!/bin/sh
# stele appliance diagnostics (see stele-diagnostics.service): listening sockets, firewall,
# unit states and, when a CD labelled STELE-DIAG carries lynis, a lynis audit of the running
# system. Every line starts with "stele-diag:" so tests can parse it from the serial console.
set -u
say() { printf 'stele-diag: %s\n' "$*"; }
sleep 20  # let late units settle (TCG boots are slow)
say "begin"
say "stele.service $(systemctl is-active stele.service) ($(systemctl show -p ExecMainStatus --value stele.service))"
systemctl --failed --no-legend --plain | while read -r unit rest; do say "failed-unit $unit"; done
# The node's own words (no secrets in them): its ready line, or its last lines when not running.
journalctl -b -u stele.service -o cat --no-pager 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' > /run/stele-diag-node.log
say "stele-ready $(grep -m1 ' ready: ' /run/stele-diag-node.log)"
if [ "$(systemctl is-active stele.service)" != active ]; then
    tail -20 /run/stele-diag-node.log | while read -r line; do say "stele-log $line"; done
fi
rm -f /run/stele-diag-node.log
ss -Htlnu | while read -r proto state recv send local peer rest; do say "listen $proto $local"; done
nft list ruleset | grep -E 'policy|dport' | while read -r line; do say "nft $line"; done
say "root-mount $(findmnt -no OPTIONS /)"
say "data-mount $(findmnt -no SOURCE,OPTIONS /var/lib/stele)"
say "log-mount $(findmnt -no SOURCE /var/log)"
for u in nftables auditd systemd-networkd systemd-timesyncd systemd-resolved open-vm-tools ssh rsyslog; do
    say "unit $u $(systemctl is-active $u.service)"
done
say "modules-disabled $(cat /proc/sys/kernel/modules_disabled)"
say "audit-rules $(auditctl -l 2>/dev/null | wc -l) loaded, enabled=$(auditctl -s 2>/dev/null | sed -n 's/^enabled //p')"
say "stele-config-modes $(stat -c '%a %U' /var/lib/stele/config/* | sort -u | tr '\n' ',')"
if [ -e /dev/disk/by-label/STELE-DIAG ]; then
    mkdir -p /run/stele/diag
    if mount -o ro,nosuid,nodev /dev/disk/by-label/STELE-DIAG /run/stele/diag; then
        say "lynis: running (several minutes under emulation)"
        cd /run/stele/diag/lynis && sh ./lynis audit system --no-colors --quiet \
            --logfile /tmp/lynis.log --report-file /tmp/lynis-report.dat >/tmp/lynis.out 2>&1
        grep -q '^hardening_index=' /tmp/lynis-report.dat 2>/dev/null ||
            tail -5 /tmp/lynis.out | while read -r line; do say "lynis output: $line"; done
        say "lynis hardening_index=$(sed -n 's/^hardening_index=//p' /tmp/lynis-report.dat)"
        say "lynis tests_performed=$(sed -n 's/^lynis_tests_done=//p' /tmp/lynis-report.dat)"
        sed -n 's/^warning\[\]=/lynis warning /p; s/^suggestion\[\]=/lynis suggestion /p' /tmp/lynis-report.dat |
            while read -r line; do say "$line"; done
        # Which sysctl key (KRNL-6000) or file mode (FILE-7524) still differs from lynis' profile.
        grep -E 'different value than expected|not matching expected|could be more strict' /tmp/lynis.log |
            sed 's/^[^ ]* //' | while read -r line; do say "lynis detail $line"; done
        cd / && umount /run/stele/diag
    fi
fi
say "end"
