#!/usr/bin/env bash
# Boot test of a built OVA under qemu (TCG), with the devices ESXi gives the VM: the OS and
# data VMDKs from the OVA on a pvscsi controller, a vmxnet3 NIC, and the OVF environment on an
# IDE CD-ROM (the `iso` transport), exactly as vCenter would attach it.
#
#   bash ova-build/boot-test.sh [--lynis] [OVA]
#
# The replica is real: a one-replica cluster (n = 1, f = 0, c = 0) made with
#   `stele init --replicas 1 --hosts 10.0.2.15 --appliance` by the stele binary the image
#   embeds; its stele.bundle is the `stele.bundle` property.
# Boot 1 (good properties): the configurator must log `stele-firstboot: applied:` with the
#   replica id on the serial console, print the banner with the fingerprint of the bundle's
#   RPC certificate, and never print the private key. The replica must then answer
#   eth_chainId over TLS on the forwarded port with the genesis's chain id, verified against
#   the cluster CA and presenting exactly the certificate in the bundle, and its block number
#   must advance (the one-replica cluster finalizes blocks).
#   The first boot also runs the image's diagnostics unit (kernel command line
#   stele.diagnostics): the VM must reach the login prompt with no failed unit, and its
#   listening sockets must be only the configured ports (and DHCP). With --lynis, a CD carrying
#   Debian's lynis is attached and its hardening index and warnings are printed (5-40 min more under TCG, depending on load).
# Boot 2 (rpc.port=80): the serial console must show the configuration error naming rpc.port,
#   the configurator must not apply, and the forwarded port must serve nothing.
#
# The kernel and initrd are taken from the OVA's own ESP (direct kernel boot: Debian's OVMF
# cannot boot from pvscsi, design note §4c). Env: BOOT_TIMEOUT (s, default 300), STELE_BIN (the
# stele used for `stele init`, default the one stage 10 put into the image).
source "$(dirname "$0")/lib.sh"

lynis=0
if [ "${1:-}" = --lynis ]; then lynis=1; shift; fi
ova="${1:-$OVA_WORK/out/$OVA_NAME.ova}"
[ -s "$ova" ] || die "no OVA at $ova (build it first: bash ova-build/build.sh)"
timeout_s="${BOOT_TIMEOUT:-300}"
command -v qemu-system-x86_64 >/dev/null || {
    progress boot "installing qemu-system-x86 (bookworm-backports, keeps qemu-utils 10.0.2)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-x86 qemu-utils >/dev/null
}
for t in genisoimage openssl mcopy; do command -v "$t" >/dev/null || die "$t is missing (run ova-build/stages/00-tools.sh)"; done

t="$(mktemp -d "${TMPDIR:-/tmp}/stele-boot.XXXXXX")"
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid"; fi
    [ -n "${KEEP_BOOT_DIR:-}" ] || rm -rf "$t"
}
trap cleanup EXIT

progress boot "unpacking $(basename "$ova")"
ova_unpack "$ova" "$t"

progress boot "stele init --replicas 1 --appliance, OVF environment ISOs"
make_cluster "$t/cluster" 1 10.0.2.15 "${STELE_BIN:-$OVA_WORK/bin/stele}"
r0="$t/cluster/replica-0"
cp "$r0/bundle.txt" "$t/bundle.txt"
cp "$r0/bundle-rpc.crt" "$t/rpc.crt"
cp "$r0/bundle-rpc.key" "$t/rpc.key"
chain_id=$(python3 -c 'import json,sys; print(hex(json.load(open(sys.argv[1]))["config"]["chainId"]))' "$t/cluster/genesis.json")
fingerprint=$(openssl x509 -in "$t/rpc.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
make_iso() { # make_iso NAME KEY=VALUE...
    local name="$1"; shift
    mkdir -p "$t/$name"
    stele_ova env --out "$t/$name/ovf-env.xml" "$@"
    genisoimage -quiet -V "OVF ENV" -J -R -o "$t/$name.iso" "$t/$name/ovf-env.xml"
}
common=(stele.bundle=@"$t/bundle.txt" net.mode=dhcp net.dns=10.0.2.3 ntp.servers=10.0.2.2
        replica.port=30303 syslog.target= ssh.authorized_key=)
make_iso good "${common[@]}" rpc.port=8545
diag_drive=()
if [ "$lynis" = 1 ]; then
    progress boot "lynis from Debian on a STELE-DIAG CD"
    (cd "$t" && apt-get download -qq lynis >/dev/null 2>&1) || die "apt-get download lynis failed"
    mkdir -p "$t/diag-root" "$t/diag/lynis"
    dpkg -x "$t"/lynis_*.deb "$t/diag-root"
    cp -a "$t/diag-root/usr/share/lynis/." "$t/diag/lynis/"
    cp "$t/diag-root/usr/sbin/lynis" "$t/diag/lynis/lynis"
    cp -a "$t/diag-root/etc/lynis/." "$t/diag/lynis/"
    genisoimage -quiet -r -V STELE-DIAG -o "$t/diag.iso" "$t/diag"
    diag_drive=(-drive "if=ide,index=3,media=cdrom,readonly=on,file=$t/diag.iso")
    timeout_s=$(( timeout_s + 2700 ))
fi
make_iso bad "${common[@]}" rpc.port=80

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# boot NAME ISO: starts qemu in the background; serial output goes to $t/NAME.serial.
boot() {
    local name="$1" iso="$2" extra_cmdline="${3:-}"
    shift 3 || shift $#
    port=$(free_port)
    : > "$t/$name.serial"
    qemu-system-x86_64 -machine pc -accel tcg -cpu max -smp 2 -m 1536 \
        -display none -no-user-config -nodefaults -serial "file:$t/$name.serial" \
        -kernel "$t/vmlinuz" -initrd "$t/initrd.img" -append "$cmdline$extra_cmdline" \
        -device pvscsi,id=scsi0 \
        -drive "if=none,id=os,file=$os_vmdk,format=vmdk,snapshot=on" -device scsi-hd,drive=os,bus=scsi0.0,scsi-id=0 \
        -drive "if=none,id=data,file=$data_vmdk,format=vmdk,snapshot=on" -device scsi-hd,drive=data,bus=scsi0.0,scsi-id=1 \
        -drive "if=ide,index=2,media=cdrom,readonly=on,file=$iso" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:8545" -device vmxnet3,netdev=n0 \
        "$@" -pidfile "$t/$name.pid" -daemonize
    qemu_pid=$(cat "$t/$name.pid")
    boot_t0=$(date +%s)
    progress boot "$name: qemu pid $qemu_pid, RPC forwarded to 127.0.0.1:$port, serial $t/$name.serial"
}

# wait_for NAME PATTERN: waits until the serial log matches, or fails at the time limit.
wait_for() {
    local name="$1" pattern="$2"
    while ! grep -qE "$pattern" "$t/$name.serial"; do
        if [ $(( $(date +%s) - boot_t0 )) -ge "$timeout_s" ]; then
            tail -40 "$t/$name.serial" | sed 's/^/    serial| /' >&2
            die "$name: no '$pattern' on the serial console within $timeout_s s"
        fi
        kill -0 "$qemu_pid" 2>/dev/null || die "$name: qemu exited"
        sleep 1
    done
    progress boot "$name: '$pattern' after $(( $(date +%s) - boot_t0 )) s"
}

stop_vm() { kill "$qemu_pid" 2>/dev/null || true; sleep 1; qemu_pid=""; }

reached=()
# ---- Boot 1: good properties.
boot good "$t/good.iso" " stele.diagnostics" "${diag_drive[@]}"
wait_for good 'Linux version'
reached+=("kernel boots from the OS VMDK on pvscsi")
wait_for good 'stele-firstboot: [0-9]+ properties from cd /dev/sr'
reached+=("configurator found ovf-env.xml on the IDE CD-ROM")
wait_for good 'stele-firstboot: applied: replica 0 rpc port 8545'
reached+=("configurator validated and applied the properties")
wait_for good "TLS certificate: +SHA256 $fingerprint"
reached+=("banner shows the RPC URL and the fingerprint of the bundle's certificate")
key_line=$(sed -n 2p "$t/rpc.key")
[ -n "$key_line" ] || die "no key line in the bundle's rpc.key"
if grep -qF "$key_line" "$t/good.serial"; then die "good: the TLS private key appeared on the serial console"; fi
bls_key=$(tr -d '\n' < "$r0/bundle-bls.key")
[ -n "$bls_key" ] || die "no bls.key in the bundle"
if grep -qF "$bls_key" "$t/good.serial"; then die "good: the BLS secret key appeared on the serial console"; fi
reached+=("private keys (TLS, BLS) never printed")
wait_for good 'stele login:'
reached+=("boot reaches the login prompt")
wait_for good 'stele-diag: end'
diag=$(sed -n 's/^.*stele-diag: //p' "$t/good.serial" | tr -d '\r')
printf '%s\n' "$diag" | sed 's/^/    diag| /' >&2
if grep -q '\[FAILED\]' "$t/good.serial" || printf '%s\n' "$diag" | grep -q '^failed-unit'; then
    { grep '\[FAILED\]' "$t/good.serial" || true; } | sed 's/^/    serial| /' >&2
    die "good: units failed during boot: $(printf '%s\n' "$diag" | sed -n 's/^failed-unit //p' | tr '\n' ' ')"
fi
reached+=("no failed units")
printf '%s\n' "$diag" | grep -q '^stele.service active' || die "good: stele.service is not active"
ready=$(printf '%s\n' "$diag" | sed -n 's/^stele-ready //p')
[[ "$ready" == *'replica 0 of cluster "stele-appliance-test" ready'* ]] || die "good: the node never logged that it is ready"
reached+=("stele.service active under the sandbox; the node logged: $ready")
audit=$(printf '%s\n' "$diag" | sed -n 's/^audit-rules \([0-9]*\) loaded, enabled=\([0-9]\)$/\1 \2/p')
[ "${audit#* }" = 2 ] && [ "${audit% *}" -ge 15 ] || die "good: audit rules not all loaded and locked (loaded, enabled: $audit)"
reached+=("auditd: ${audit% *} rules loaded, immutable (enabled=2)")
# Listening sockets other than loopback must be the configured ports or the DHCP clients.
bad_listeners=$(printf '%s\n' "$diag" | sed -n 's/^listen //p' |
    grep -vE '(127\.0\.0\.[0-9]+|\[::1\]|::1):[0-9]+$' |
    grep -vE '^(tcp .*:(8545|30303)|udp .*:(68|546))$' || true)
[ -z "$bad_listeners" ] || die "good: unexpected listening sockets: $bad_listeners"
# An empty list would mean ss could not look (it must at least see the DHCP client).
printf '%s\n' "$diag" | grep -qE '^listen udp .*:68$' || die "good: socket listing is empty or lacks the DHCP client"
reached+=("listening sockets: only the configured ports ($(printf '%s\n' "$diag" | sed -n 's/^listen //p' | tr '\n' ';'))")
if [ "$lynis" = 1 ]; then
    printf '%s\n' "$diag" | grep -qE '^lynis hardening_index=[0-9]+' || die "good: lynis did not produce a hardening index"
    printf '%s\n' "$diag" | grep -E '^lynis (hardening_index|tests_performed|warning|suggestion|detail)' | sed 's/^/    /' >&2
    reached+=("lynis: $(printf '%s\n' "$diag" | grep '^lynis hardening_index')")
fi
# getty expands \4 in the banner to the VM's address (qemu's user network gives 10.0.2.15).
wait_for good 'JSON-RPC \(TLS\): +https://10\.0\.2\.15:8545'
reached+=("boot reaches the login prompt; getty shows the banner with the VM's address")
rpc() { # rpc METHOD: one JSON-RPC call over TLS, trusting only the cluster CA
    curl -s --max-time 5 --cacert "$t/cluster/ca/ca.crt" -H 'content-type: application/json' \
        --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":[]}" "https://127.0.0.1:$port/"
}
deadline=$(( $(date +%s) + timeout_s ))
until answer=$(rpc eth_chainId) && [[ "$answer" == *'"result"'* ]]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "good: no eth_chainId answer over TLS within $timeout_s s"
    sleep 2
done
[[ "$answer" == *"\"result\":\"$chain_id\""* ]] || die "good: eth_chainId answered $answer, the genesis says $chain_id"
progress boot "good: eth_chainId $chain_id over TLS after $(( $(date +%s) - boot_t0 )) s"
served=$(openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
[ "$served" = "$fingerprint" ] || die "good: served certificate $served is not the bundle's rpc.crt ($fingerprint)"
reached+=("eth_chainId = $chain_id (the genesis's) over TLS verified against the cluster CA, serving exactly the bundle's rpc.crt")
block_hex() { rpc eth_blockNumber | sed -n 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/p'; }
b1=$(block_hex); sleep 10; b2=$(block_hex)
[ -n "$b1" ] && [ -n "$b2" ] && [ $(( b2 )) -gt $(( b1 )) ] || die "good: block number did not advance in 10 s ($b1 -> $b2)"
reached+=("the one-replica cluster finalizes blocks (eth_blockNumber $(( b1 )) -> $(( b2 )) in 10 s)")
stop_vm

# ---- Boot 2: a bad property value (back to the normal time limit).
timeout_s="${BOOT_TIMEOUT:-300}"
boot bad "$t/bad.iso" ""
wait_for bad 'stele-firstboot: CONFIGURATION ERROR'
wait_for bad 'rpc.port \(JSON-RPC port \(HTTPS\)\): must be between 1024 and 65535'
wait_for bad 'Dependency failed for .*(stele|Ethereum-compatible node)'
wait_for bad 'NOT RUNNING: the deployment properties are invalid'
if grep -q 'stele-firstboot: applied' "$t/bad.serial"; then die "bad: the configurator applied a refused configuration"; fi
if curl -s --max-time 5 -k "https://127.0.0.1:$port/" >/dev/null; then die "bad: something answers on the RPC port"; fi
reached+=("bad property: error on the serial console, stele.service not started (dependency failed), console banner says NOT RUNNING, nothing served")
stop_vm

printf 'boot test reached:\n' >&2
printf '  - %s\n' "${reached[@]}" >&2
progress boot "passed"
