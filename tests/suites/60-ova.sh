#!/usr/bin/env bash
# Suite 60-ova: builds the stele OVA from this clean clone and checks it without vSphere.
#
# 1. ova-build/build.sh (installs its Debian tools itself), embedding the `stele` binary of
#    this tree (the workspace debug build that tests/run.sh just made, debug info stripped, to
#    spare CI a release build of the whole node; release images use the default release build).
#    The build's last stage runs xmllint and `stele-ova check`: member order, File sizes, Disk
#    capacities against the VMDK headers, streamOptimized headers, manifest digests, hardware,
#    every property against the first-boot configurator's schema, and the 400 MiB budget.
# 2. The checker must fail on broken OVAs made from the real one (members out of order, one
#    byte of a disk changed, a manifest in OpenSSL 3's SHA2-256 spelling).
# 3. `systemd-analyze security` of stele.service inside the image: exposure <= 2.0.
# 4. A full set of property values (replica 0's bundle from `stele init --replicas 4
#    --appliance` by the embedded stele) is accepted by stele-firstboot --check, and the OVA
#    imports with them into govmomi's vSphere simulator.
# 5. The qemu boot test (ova-build/boot-test.sh, ~2-4 min under TCG): the OVA boots with ESXi's
#    devices, configures itself from its properties and a one-replica cluster answers
#    eth_chainId over TLS with exactly the bundle's certificate; a bad property is refused on
#    the console and nothing is served. STELE_OVA_BOOT=0 skips it (local iterations only).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export OVA_WORK="$CARGO_TARGET_DIR/ova-suite"
source ova-build/lib.sh
t0=$(date +%s)
fail() { echo "60-ova: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap root mode)"

# 1. Build.
stele_bin="$CARGO_TARGET_DIR/debug/stele"
if [ ! -x "$stele_bin" ]; then
    cargo build --quiet -p stele-node --bin stele
fi
rm -rf "$OVA_WORK"
bash ova-build/build.sh --stele "$stele_bin"
ova="$OVA_WORK/out/$OVA_NAME.ova"
source "$OVA_WORK/build-stats.env"
echo "60-ova: built $ova: $ova_bytes bytes in $build_seconds s"

# 2. The checker must catch broken packages.
x="$OVA_WORK/broken"
rm -rf "$x" && mkdir -p "$x/m"
tar -xf "$ova" -C "$x/m"
pack() { tar --format=ustar --owner=0 --group=0 --numeric-owner --mode=0644 -C "$x/m" -cf "$x/$1" "${@:2}"; }
expect_refused() {
    if stele_ova check "$x/$1" > "$x/$1.out" 2>&1; then fail "stele-ova check accepted $1"; fi
    grep -q "$2" "$x/$1.out" || { cat "$x/$1.out"; fail "$1 refused, but not for '$2'"; }
    echo "60-ova: checker refuses $1 ($2)"
}
pack order.ova "$OVA_NAME.mf" "$OVA_NAME.ovf" "$OVA_NAME-os.vmdk" "$OVA_NAME-data.vmdk"
expect_refused order.ova "first member must be the .ovf"
pack disks.ova "$OVA_NAME.ovf" "$OVA_NAME.mf" "$OVA_NAME-data.vmdk" "$OVA_NAME-os.vmdk"
expect_refused disks.ova "References in order"
printf '\x01' | dd of="$x/m/$OVA_NAME-data.vmdk" bs=1 seek=70000 conv=notrunc status=none
pack byte.ova "$OVA_NAME.ovf" "$OVA_NAME.mf" "$OVA_NAME-os.vmdk" "$OVA_NAME-data.vmdk"
expect_refused byte.ova "digest of $OVA_NAME-data.vmdk does not match"
sed -i 's/^SHA256(/SHA2-256(/' "$x/m/$OVA_NAME.mf"
pack openssl.ova "$OVA_NAME.ovf" "$OVA_NAME.mf" "$OVA_NAME-os.vmdk" "$OVA_NAME-data.vmdk"
expect_refused openssl.ova "does not start with SHA256("
rm -rf "$x"

# 3. Sandbox of the node's unit, analysed inside the image's tree.
r="$OVA_WORK/rootfs-tree"
rm -rf "$r" && mkdir -p "$r"
tar -xf "$OVA_WORK/rootfs.tar" -C "$r" ./etc ./usr/lib/systemd ./usr/bin/stele 2>/dev/null || true
systemd-analyze security --offline=true --root="$r" stele.service > "$OVA_WORK/security.txt" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for stele.service: \([0-9.]*\).*/\1/p' "$OVA_WORK/security.txt")
[ -n "$exposure" ] || { cat "$OVA_WORK/security.txt"; fail "systemd-analyze security gave no exposure"; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "stele.service exposure $exposure > 2.0"
echo "60-ova: systemd-analyze security stele.service: exposure $exposure (limit 2.0)"
rm -rf "$r"

# 4. Every property set: accepted by the configurator, imported into the simulator.
p="$OVA_WORK/props"
mkdir -p "$p"
make_cluster "$p/cluster" 4 10.20.0.11,10.20.0.12,10.20.0.13,10.20.0.14
cp "$p/cluster/replica-0/bundle.txt" "$p/bundle.txt"
ssh_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHXkTjmjy0l8s6s7n1kHxZs1m1p7cK6cTsdAsNqEKuJn admin@ci"
python3 - "$p" "$ssh_key" <<'PY'
import json, sys
d, key = sys.argv[1], sys.argv[2]
props = {
    "stele.bundle": open(f"{d}/bundle.txt").read().strip(),
    "net.mode": "static", "net.address": "10.20.0.11/24", "net.gateway": "10.20.0.1",
    "net.dns": "10.20.0.2,10.20.0.3", "ntp.servers": "ntp1.example.com,10.20.0.5",
    "rpc.port": "8545", "replica.port": "30303", "syslog.target": "tcp://logs.example.com:6514",
    "ssh.authorized_key": key,
}
json.dump(props, open(f"{d}/props.json", "w"))
with open(f"{d}/env.args", "w") as f:
    for k, v in props.items():
        f.write(f"{k}={v}\n")
PY
mapfile -t env_args < "$p/env.args"
stele_ova env --out "$p/ovf-env.xml" "${env_args[@]}"
"$CARGO_TARGET_DIR/release/stele-firstboot" --check --ovf-env "$p/ovf-env.xml" > "$p/check.out" 2>&1 ||
    { cat "$p/check.out"; fail "stele-firstboot refused the full property set"; }
grep -q "https://10.20.0.11:8545" "$p/check.out" || fail "banner lacks the RPC URL"
echo "60-ova: stele-firstboot --check accepts the full property set"
bash ova-build/vcsim-import.sh "$ova" "$p/props.json"

if [ "${STELE_OVA_BOOT:-1}" = 1 ]; then
    bash ova-build/boot-test.sh "$ova"
fi
echo "60-ova: passed in $(( $(date +%s) - t0 )) s (OVA $ova_bytes bytes, build $build_seconds s)"
