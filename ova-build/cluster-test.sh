#!/usr/bin/env bash
# Four-VM cluster test of a built OVA under qemu (TCG): what an administrator does with four
# deployments of the one OVA, on a private network, without vSphere.
#
#   bash ova-build/cluster-test.sh [OVA]
#
# 1. `stele init --replicas 4 --hosts 10.20.0.11,…,10.20.0.14 --p2p-port 30303 --rpc-port 8545
#    --appliance` with the stele binary the image embeds (as an operator would on a workstation).
# 2. A private network: a network namespace with a bridge (10.20.0.1/24, the "workstation")
#    and one tap per VM. Nothing is routed outside it.
# 3. Four VMs from the OVA's VMDKs (copy-on-write overlays, so each VM has its own data disk),
#    each with the ESXi devices (pvscsi, vmxnet3, IDE CD) and its own OVF environment ISO:
#    its replica's stele.bundle, net.mode=static, net.address=10.20.0.1<i>/24, and
#    syslog.target=udp://10.20.0.1:514: each VM's journal goes to a receiver in the namespace
#    (ova-build/syslog-sink.py, one file per VM), and a failing run prints each VM's last lines.
# 4. From the namespace, over TLS verified against the cluster CA: all four answer and
#    finalize blocks; `stele status --config replica-0/config.toml` shows the cluster; one
#    signed transfer is sent through each VM's endpoint in turn, and each is in the same block
#    (number and hash) on all four, its recipient's balance 1 wei on all four.
# 5. The current primary's VM is powered off (qemu killed: a hard power-off). The other three
#    must keep finalizing: one more transfer through each surviving VM, each in the same block
#    on all three, and the finalized height rises by at least 10 blocks.
# Times of every step are printed; the VMs and the namespace are removed on exit.
#
# Env: CLUSTER_TIMEOUT (s per wait, default 900), VM_MEM (MiB, default 1536), VM_SMP (default 1),
# STELE_BIN (stele for `stele init`, default $OVA_WORK/bin/stele), STELE_WEB3PY_VENV (Python
# with eth_account, default the tests/clients venv; made by tests/clients/setup.sh if missing),
# KEEP_CLUSTER_DIR=1 keeps the work directory (serial logs) for inspection.
# Needs root (network namespace, taps), qemu-system-x86, about 6.5 GB of free memory.
source "$(dirname "$0")/lib.sh"

ova="${1:-$OVA_WORK/out/$OVA_NAME.ova}"
[ -s "$ova" ] || die "no OVA at $ova (build it first: bash ova-build/build.sh)"
[ "$(id -u)" = 0 ] || die "run as root (network namespace and tap devices)"
timeout_s="${CLUSTER_TIMEOUT:-900}"
vm_mem="${VM_MEM:-1536}"
vm_smp="${VM_SMP:-1}"
stele="${STELE_BIN:-$OVA_WORK/bin/stele}"
venv="${STELE_WEB3PY_VENV:-${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}/venv-web3py}"
command -v qemu-system-x86_64 >/dev/null || {
    progress cluster "installing qemu-system-x86 (bookworm-backports, keeps qemu-utils 10.0.2)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-x86 qemu-utils >/dev/null
}
for tool in genisoimage mcopy ip; do command -v "$tool" >/dev/null || die "$tool is missing (run ova-build/stages/00-tools.sh)"; done
if ! "$venv/bin/python" -c 'import eth_account' 2>/dev/null; then
    progress cluster "web3.py venv missing: tests/clients/setup.sh"
    bash "$STELE_ROOT/tests/clients/setup.sh" >/dev/null || die "tests/clients/setup.sh failed"
fi

n=4
ips=(10.20.0.11 10.20.0.12 10.20.0.13 10.20.0.14)
urls=(); for ip in "${ips[@]}"; do urls+=("https://$ip:8545"); done
ns="stele-ct-$$"
t="$(mktemp -d "${TMPDIR:-/tmp}/stele-cluster.XXXXXX")"
vm_pid=()
sink_pid=
cleanup() {
    local i
    if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
    for i in "${!vm_pid[@]}"; do
        if kill -0 "${vm_pid[$i]}" 2>/dev/null; then kill "${vm_pid[$i]}"; fi
    done
    ip netns del "$ns" 2>/dev/null || true
    if [ -n "${KEEP_CLUSTER_DIR:-}" ]; then echo "kept $t" >&2; else rm -rf "$t"; fi
}
trap cleanup EXIT
t_start=$(date +%s)
since() { echo "$(( $(date +%s) - $1 ))"; }
in_ns() { ip netns exec "$ns" "$@"; }
eth() { in_ns "$venv/bin/python" "$OVA_BUILD_DIR/cluster-eth.py" --ca "$t/cluster/ca/ca.crt" "$@"; }

# ---- 1. The cluster, as the operator makes it.
progress cluster "unpacking $(basename "$ova")"
ova_unpack "$ova" "$t"
progress cluster "stele init --replicas 4 --hosts $(IFS=,; echo "${ips[*]}") --appliance ($("$stele" --version))"
make_cluster "$t/cluster" "$n" "$(IFS=,; echo "${ips[*]}")" "$stele"
for (( i = 0; i < n; i++ )); do
    mkdir -p "$t/env$i"
    stele_ova env --out "$t/env$i/ovf-env.xml" stele.bundle=@"$t/cluster/replica-$i/bundle.txt" \
        net.mode=static net.address="${ips[$i]}/24" net.gateway= net.dns= ntp.servers= \
        rpc.port=8545 replica.port=30303 syslog.target=udp://10.20.0.1:514 ssh.authorized_key=
    genisoimage -quiet -V "OVF ENV" -J -R -o "$t/env$i.iso" "$t/env$i/ovf-env.xml"
done

# ---- 2. The private network.
ip netns add "$ns"
in_ns ip link set lo up
in_ns ip link add br0 type bridge
in_ns ip addr add 10.20.0.1/24 dev br0
in_ns ip link set br0 up
for (( i = 0; i < n; i++ )); do
    in_ns ip tuntap add "tap$i" mode tap
    in_ns ip link set "tap$i" master br0 up
done
# Not through in_ns: `ip netns exec` execs python, so $! is the receiver itself (a function
# would leave a subshell's pid, and the receiver would outlive the test).
ip netns exec "$ns" python3 "$OVA_BUILD_DIR/syslog-sink.py" 10.20.0.1 514 "$t/syslog" &
sink_pid=$!
progress cluster "network namespace $ns: br0 10.20.0.1/24, tap0..tap3; syslog receiver on udp 10.20.0.1:514 -> $t/syslog"

# A failing step shows what the replicas said: each VM's last node log lines.
die() {
    local ip
    for ip in "${ips[@]}"; do
        [ -s "$t/syslog/$ip.log" ] || continue
        grep -E 'stele' "$t/syslog/$ip.log" | tail -40 | cut -c1-400 | sed "s/^/    $ip| /" >&2
    done
    printf '[ova-build] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---- 3. Four VMs.
for (( i = 0; i < n; i++ )); do
    qemu-img create -q -f qcow2 -F vmdk -b "$os_vmdk" "$t/vm$i-os.qcow2"
    qemu-img create -q -f qcow2 -F vmdk -b "$data_vmdk" "$t/vm$i-data.qcow2"
    : > "$t/vm$i.serial"
    in_ns qemu-system-x86_64 -name "stele-r$i" -machine pc -accel tcg -cpu max -smp "$vm_smp" -m "$vm_mem" \
        -display none -no-user-config -nodefaults -serial "file:$t/vm$i.serial" \
        -kernel "$t/vmlinuz" -initrd "$t/initrd.img" -append "$cmdline stele.diagnostics" \
        -device pvscsi,id=scsi0 \
        -drive "if=none,id=os,file=$t/vm$i-os.qcow2,format=qcow2" -device scsi-hd,drive=os,bus=scsi0.0,scsi-id=0 \
        -drive "if=none,id=data,file=$t/vm$i-data.qcow2,format=qcow2" -device scsi-hd,drive=data,bus=scsi0.0,scsi-id=1 \
        -drive "if=ide,index=2,media=cdrom,readonly=on,file=$t/env$i.iso" \
        -netdev "tap,id=n0,ifname=tap$i,script=no,downscript=no" -device "vmxnet3,netdev=n0,mac=52:54:00:20:00:1$i" \
        -pidfile "$t/vm$i.pid" -daemonize
    vm_pid[$i]=$(cat "$t/vm$i.pid")
done
t_boot=$(date +%s)
progress cluster "4 VMs started (qemu pids ${vm_pid[*]}; ${vm_smp} vCPU, ${vm_mem} MiB each; serial logs $t/vm*.serial)"

wait_serial() { # wait_serial I PATTERN
    local i="$1" pattern="$2"
    while ! grep -qE "$pattern" "$t/vm$i.serial"; do
        if [ "$(since "$t_boot")" -ge "$timeout_s" ]; then
            tail -30 "$t/vm$i.serial" | sed "s/^/    vm$i serial| /" >&2
            die "vm$i: no '$pattern' on the serial console within $timeout_s s"
        fi
        kill -0 "${vm_pid[$i]}" 2>/dev/null || die "vm$i: qemu exited"
        sleep 2
    done
}
for (( i = 0; i < n; i++ )); do
    wait_serial "$i" "stele-firstboot: applied: replica $i rpc port 8545"
    progress cluster "vm$i: configurator applied replica $i's bundle ($(since "$t_boot") s since power-on)"
done
for (( i = 0; i < n; i++ )); do
    wait_serial "$i" 'stele-diag: end'
    sed -n 's/^.*stele-diag: \(stele.service .*\|stele-ready .*\|stele-log .*\|failed-unit .*\)$/\1/p' "$t/vm$i.serial" |
        tr -d '\r' | sed "s/^/    vm$i| /" >&2
    grep -q 'stele-diag: stele.service active' "$t/vm$i.serial" || die "vm$i: stele.service is not active"
done
progress cluster "all four VMs booted, stele.service active on each ($(since "$t_boot") s since power-on)"

# ---- 4. The cluster works.
eth wait-final "${urls[@]}" --above 2 --timeout "$timeout_s" >/dev/null ||
    die "the four replicas do not all finalize blocks"
t_up=$(since "$t_boot")
progress cluster "all four answer over TLS and finalize blocks ($t_up s since power-on)"
in_ns "$stele" status --config "$t/cluster/replica-0/config.toml" | sed 's/^/    /' >&2 ||
    die "stele status --config replica-0/config.toml failed"

# A transfer of 1 wei to a fresh address through the replica at $1; its receipt must be in the
# same block on every replica in the remaining arguments, and the balance 1 wei on each.
# Prints the seconds it took and where the receipt is.
transfer_via() {
    local via=$1 to=$2; shift 2
    local t0 tx where balances
    t0=$(date +%s)
    tx=$(eth send "$via" --to "$to") || die "sending a transfer to $via failed"
    where=$(eth receipt "$@" --tx "$tx" --timeout "$timeout_s") || die "transfer $tx sent to $via is not on all of $*"
    balances=$(eth balance "$@" --address "$to")
    python3 -c 'import json,sys; b=json.loads(sys.argv[1]); sys.exit(0 if set(b.values())=={1} else 1)' "$balances" ||
        die "balance of $to is not 1 wei on all of $*: $balances"
    printf '%s s, %s' "$(since "$t0")" "$where"
}

# One transfer through each replica's endpoint: a client may use any of them.
sent_all=()
for (( i = 0; i < n; i++ )); do
    result=$(transfer_via "${urls[$i]}" "0x00000000000000000000000000000000057e1e1$i" "${urls[@]}") || exit 1
    progress cluster "transfer sent to vm$i: receipt in the same block on all four after $result; balance 1 wei on all four"
    sent_all+=("vm$i: $result")
done

# ---- 5. One VM off; the other three go on.
primary=$(eth status "${urls[0]}" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["status"]["primary"])')
[[ "$primary" =~ ^[0-3]$ ]] || die "cannot read the primary from stele_status"
before=$(eth status "${urls[@]}")
max_final=$(printf '%s\n' "$before" | python3 -c 'import json,sys; print(max(json.loads(l)["status"]["finalized"] for l in sys.stdin))')
view_before=$(printf '%s\n' "$before" | python3 -c 'import json,sys; print(max(json.loads(l)["status"]["view"] for l in sys.stdin))')
kill -KILL "${vm_pid[$primary]}"
unset "vm_pid[$primary]"
t_off=$(date +%s)
progress cluster "powered off vm$primary (the primary of view $view_before; finalized height was $max_final)"
survivors=(); for (( i = 0; i < n; i++ )); do [ "$i" = "$primary" ] || survivors+=("${urls[$i]}"); done
sent_survivors=()
for (( i = 0; i < ${#survivors[@]}; i++ )); do
    result=$(transfer_via "${survivors[$i]}" "0x00000000000000000000000000000000057e1e2$i" "${survivors[@]}") || exit 1
    progress cluster "with vm$primary off, transfer sent to ${survivors[$i]}: receipt on the three others after $result ($(since "$t_off") s after the power-off)"
    sent_survivors+=("${survivors[$i]}: $result")
done
eth wait-final "${survivors[@]}" --above $(( max_final + 10 )) --timeout "$timeout_s" > "$t/final.json" ||
    die "with vm$primary off, the other three did not finalize 10 more blocks"
after=$(eth status "${survivors[@]}")
view_after=$(printf '%s\n' "$after" | python3 -c 'import json,sys; print(min(json.loads(l)["status"]["view"] for l in sys.stdin))')
progress cluster "three replicas keep finalizing: finalized $(cat "$t/final.json") ($(since "$t_off") s after the power-off; view $view_before -> $view_after)"
in_ns "$stele" status --config "$t/cluster/replica-0/config.toml" | sed 's/^/    /' >&2 || true

printf 'cluster test passed (%s s in all):\n' "$(since "$t_start")" >&2
printf '  %s\n' \
    "four VMs from one OVA, each with its own stele init bundle, booted and formed a cluster: ${t_up} s from power-on to all four finalizing" \
    "one transfer sent to each of the four, each in the same block on all four: ${sent_all[*]}" \
    "vm$primary (primary of view $view_before) powered off; one transfer sent to each survivor, each in the same block on the other three: ${sent_survivors[*]}; they went on to finalize 10+ more blocks (view now $view_after)" >&2
