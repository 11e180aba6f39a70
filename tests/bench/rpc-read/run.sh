#!/usr/bin/env bash
# The RPC read benchmark: stele and anvil side by side, in the same run, on the same machine,
# driven by the same load tool (wrk) with the same settings.
#
# 1. Starts a release `stele up` (HTTPS only) and anvil (plain HTTP) on free loopback ports,
#    each on a fresh chain with chain id 1337 and the well-known dev mnemonic.
# 2. Fills both with the same chain (fill.mjs): Emitter.sol deployed, then BLOCKS blocks with
#    one `bump` transaction each, each emitting one log; the signed transactions are
#    byte-identical on both nodes.
# 3. For each case (cases.py: eth_call, eth_getBalance, eth_getTransactionReceipt,
#    eth_getLogs over BLOCKS blocks filtered by the contract address, and eth_getLogs_rare,
#    the same range filtered by a topic only one block carries) checks the answer once with
#    curl, then runs wrk: a warm-up per node, then ROUNDS measured runs per node, stele and
#    anvil alternating (and which one goes first alternating too), so that load from other
#    processes on the machine falls on both alike.
# 4. Prints a markdown table (table.py: the median round per node) and keeps every raw
#    output in the work directory.
#
# stele pays TLS (rustls, keep-alive connections: one handshake per connection, then record
# encryption on every request and response); anvil serves plain HTTP. That is by design:
# stele has no plain-text listener.
#
# Usage: run.sh [--blocks N] [--threads T] [--connections C] [--duration D] [--warmup D]
#               [--rounds R] [--methods "m1 m2"] [--keep]
# Env:   STELE_BIN     the stele binary (default $CARGO_TARGET_DIR/release/stele, else
#                      target/release/stele; build it with
#                      `cargo build --release -p stele-node --bin stele`)
#        ANVIL_BIN     default NODE_MODULES/@foundry-rs/anvil-linux-amd64/bin/anvil
#        NODE_MODULES  default tests/clients/node_modules (tests/clients/setup.sh installs it)
#        BENCH_WORK    work directory (default: a fresh mktemp -d, removed unless --keep)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

blocks=1000 threads=2 connections=32 duration=10s warmup=5s rounds=3 keep=0
methods="eth_call eth_getBalance eth_getTransactionReceipt eth_getLogs eth_getLogs_rare"
while [ $# -gt 0 ]; do
  case "$1" in
    --blocks) blocks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

export NODE_MODULES="${NODE_MODULES:-$repo/tests/clients/node_modules}"
stele_bin="${STELE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/stele}"
anvil_bin="${ANVIL_BIN:-$NODE_MODULES/@foundry-rs/anvil-linux-amd64/bin/anvil}"
for f in "$stele_bin" "$anvil_bin"; do
  [ -x "$f" ] || { echo "run.sh: $f missing (see the usage at the top of this file)" >&2; exit 2; }
done
[ -d "$NODE_MODULES/ethers" ] || { echo "run.sh: $NODE_MODULES/ethers missing: run tests/clients/setup.sh" >&2; exit 2; }
command -v wrk >/dev/null || { echo "run.sh: wrk missing (apt-get install -y wrk)" >&2; exit 2; }

work="${BENCH_WORK:-$(mktemp -d)}"
mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $keep = 0 ] && [ -z "${BENCH_WORK:-}" ]; then rm -rf "$work"; else echo "raw outputs kept in $work" >&2; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_rpc URL PID [CURL_ARGS...]: until eth_chainId answers, or the process died, or 60 s.
wait_rpc() {
  local url="$1" pid="$2"; shift 2
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: the node behind $url exited" >&2; return 1; }
    curl -sf "$@" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null && return 0
    sleep 0.1
  done
  echo "run.sh: $url did not answer within 60 s" >&2; return 1
}

stele_port="$(free_port)" anvil_port="$(free_port)"
stele_url="https://127.0.0.1:$stele_port" anvil_url="http://127.0.0.1:$anvil_port"
# Info level: one line per sealed block, nothing per read request.
RUST_LOG="${RUST_LOG:-info}" "$stele_bin" up --replicas 1 --datadir "$work/stele" --port "$stele_port" >"$work/stele.log" 2>&1 &
pids+=($!); stele_pid=$!
# --silent: anvil otherwise prints every request's method, which would cost it throughput.
"$anvil_bin" --host 127.0.0.1 --port "$anvil_port" --chain-id 1337 --silent >"$work/anvil.log" 2>&1 &
pids+=($!); anvil_pid=$!
ca="$work/stele/tls/ca.pem"
wait_rpc "$anvil_url" "$anvil_pid"
for _ in $(seq 100); do [ -s "$ca" ] && break; sleep 0.1; done
wait_rpc "$stele_url" "$stele_pid" --cacert "$ca"

echo "==> filling both nodes with $blocks blocks (one log-emitting transaction each)" >&2
fill_start=$(date +%s)
NODE_EXTRA_CA_CERTS="$ca" node "$here/fill.mjs" "$stele_url" "$blocks" "$work/stele-target.json" &
fill_stele=$!
node "$here/fill.mjs" "$anvil_url" "$blocks" "$work/anvil-target.json" &
fill_anvil=$!
wait $fill_stele; wait $fill_anvil
echo "    filled in $(( $(date +%s) - fill_start )) s" >&2

# body NODE CASE: the JSON-RPC request of CASE against NODE's chain (cases.py).
body() { python3 "$here/cases.py" body "$work/$1-target.json" "$2"; }

# check NODE CASE URL BODY [CURL_ARGS...]: the node answers CASE with the right result
# (cases.py: a result, and the expected logs for the eth_getLogs cases); the answer is
# kept for the record.
check() {
  local node="$1" method="$2" url="$3" b="$4"; shift 4
  curl -sf "$@" -H 'content-type: application/json' -d "$b" "$url" >"$work/$node-$method.json"
  python3 "$here/cases.py" check "$work/$node-target.json" "$method" "$work/$node-$method.json"
}

head_of() { curl -sf "${@:2}" -H 'content-type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"],16))'; }
echo "    heads: stele $(head_of "$stele_url" --cacert "$ca"), anvil $(head_of "$anvil_url")" >&2

# measure NODE METHOD DURATION OUT [--latency]: one wrk run of METHOD against NODE.
measure() {
  local url b
  if [ "$1" = stele ]; then url="$stele_url" b="$sb"; else url="$anvil_url" b="$ab"; fi
  BODY="$b" wrk -t"$threads" -c"$connections" -d"$3" $5 -s "$here/wrk-post.lua" "$url" >"$4"
}

for method in $methods; do
  sb="$(body stele "$method")" ab="$(body anvil "$method")"
  check stele "$method" "$stele_url" "$sb" --cacert "$ca"
  check anvil "$method" "$anvil_url" "$ab"
  for node in stele anvil; do
    echo "==> $method on $node: warm-up $warmup (wrk -t$threads -c$connections)" >&2
    measure "$node" "$method" "$warmup" "$work/$node-$method.warmup.wrk" ""
  done
  for round in $(seq "$rounds"); do
    order="stele anvil"; [ $((round % 2)) = 0 ] && order="anvil stele"
    for node in $order; do
      echo "==> $method on $node: round $round/$rounds, $duration" >&2
      measure "$node" "$method" "$duration" "$work/$node-$method.r$round.wrk" --latency
    done
  done
done

echo
echo "RPC reads, $blocks blocks, wrk -t$threads -c$connections -d$duration --latency, median of $rounds rounds (warm-up $warmup);" \
  "stele over HTTPS (TLS), anvil over plain HTTP; $(nproc) cores, load average$(uptime | sed 's/.*load average://')"
echo
python3 "$here/table.py" "$work" "$rounds" $methods
