#!/usr/bin/env bash
# Suite: `stele bench` end to end, fast. Starts a debug `stele up` (the 4-replica cluster) on
# free ports in a temporary datadir, runs 300 ERC-20 transfers in a closed loop over HTTPS to
# all four replicas (trusting only the cluster CA), and checks the JSON report: every transfer included with status 1, no errors, the
# token balances add up (the bench reads them back), and the report has its fields. Then the
# generator check, briefly. Takes well under a minute.
set -uo pipefail

STELE_ROOT="${STELE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
STELE_BIN="${STELE_BIN:-$CARGO_TARGET_DIR/debug/stele}"
TXS=300
work="$(mktemp -d /tmp/stele-bench-smoke.XXXXXX)"
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid"; wait "$node_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$STELE_BIN" ]; then
  echo "==> build stele ($STELE_BIN missing)"
  (cd "$STELE_ROOT" && cargo build -p stele-node --bin stele) || exit 1
fi
# Eight consecutive free ports (4 RPC, 4 replica-to-replica), below the kernel's ephemeral
# range (32768 and up by default) so that no outgoing connection can take one before
# `stele up` binds it; the tiny window before then is acceptable here.
port="$(python3 -c '
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000)
    ok = True
    for p in range(base, base + 8):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        s.close()
    if ok:
        print(base); break')"
ca="$work/chain/cluster/ca/ca.crt"
"$STELE_BIN" up --datadir "$work/chain" --port "$port" --p2p-port $((port + 4)) >"$work/node.log" 2>&1 &
node_pid=$!
for i in 0 1 2 3; do
  python3 "$STELE_ROOT/tests/clients/lib/wait_rpc.py" "https://127.0.0.1:$((port + i))" "$ca" 120 "$node_pid" >/dev/null || {
    echo "replica $i did not come up:"; tail -30 "$work/node.log"; exit 1; }
done
replica_pids=($(pgrep -f "$work/chain/cluster/replica-[0-9]/config.toml"))
echo "cluster up on ports $port..$((port + 3)) (replicas ${replica_pids[*]})"

echo "==> stele bench: $TXS ERC-20 transfers, closed loop, to all four replicas"
pid_args=(); for p in "${replica_pids[@]}"; do pid_args+=(--pid "$p"); done
timeout 180 "$STELE_BIN" bench --ca "$ca" \
  --target "https://127.0.0.1:$port" --target "https://127.0.0.1:$((port + 1))" \
  --target "https://127.0.0.1:$((port + 2))" --target "https://127.0.0.1:$((port + 3))" \
  --workload erc20 --concurrency 32 --txs "$TXS" --accounts 40 --warmup 0s --duration 60s --drain 30s \
  "${pid_args[@]}" --out "$work/report.json" --plot "$work/report.svg" || { echo "stele bench failed"; exit 1; }

python3 - "$work/report.json" "$TXS" <<'PY' || exit 1
import json, sys
report = json.load(open(sys.argv[1]))
txs = int(sys.argv[2])
problems = []
for field in ["label", "workload", "mode", "concurrency", "targets", "window_s", "sent", "included",
              "succeeded", "tx_per_s", "offered_tx_per_s", "latency", "errors", "processes", "series", "verify"]:
    if field not in report:
        problems.append(f"missing field {field}")
for field in ["samples", "p50_ms", "p95_ms", "p99_ms"]:
    if field not in report.get("latency", {}):
        problems.append(f"missing latency.{field}")
if report.get("sent") != txs or report.get("included") != txs or report.get("succeeded") != txs:
    problems.append(f"sent/included/succeeded = {report.get('sent')}/{report.get('included')}/{report.get('succeeded')}, expected {txs} each")
if report.get("errors"):
    problems.append(f"errors: {report['errors']}")
verify = report.get("verify") or {}
if not verify.get("ok") or verify.get("receivers_sum") != str(txs) or verify.get("total_supply") != verify.get("holders_sum"):
    problems.append(f"token balances do not add up: {verify}")
if not report.get("tx_per_s", 0) > 0 or not report["latency"]["p50_ms"] > 0:
    problems.append("no throughput or latency measured")
nodes = [p for p in report.get("processes", []) if p.get("role") == "node"]
if not nodes or nodes[0]["rss_mib_max"] <= 0:
    problems.append("no process samples for the node pid")
if not any(p.get("role") == "generator" for p in report.get("processes", [])):
    problems.append("no process samples for the generator itself")
if problems:
    print("report check FAILED:\n  " + "\n  ".join(problems)); sys.exit(1)
print(f"report ok: {report['succeeded']} included with status 1, {report['tx_per_s']:.0f} tx/s, p50 {report['latency']['p50_ms']:.1f} ms")
PY
grep -q "<svg" "$work/report.svg" || { echo "no SVG plot written"; exit 1; }

echo "==> generator check (send path against a trivial in-process endpoint)"
timeout 60 "$STELE_BIN" bench --generator-check --workload transfer --concurrency 32 --txs 5000 --accounts 100 \
  --warmup 0s --duration 2s || { echo "generator check failed"; exit 1; }

kill -0 "$node_pid" 2>/dev/null || { echo "node exited"; exit 1; }
if grep -n -i "panicked" "$work/node.log"; then echo "node panicked"; exit 1; fi
echo "45-bench-smoke: passed"
