#!/usr/bin/env bash
# A/B of two stele binaries on the RPC read benchmark: both serve copies of one chain that
# run.sh filled (run.sh --keep, or BENCH_WORK=DIR), and wrk measures them in alternating
# rounds with the same settings as run.sh, so that load from other processes falls on both
# alike. Used to measure a change (docs/BENCHMARKS.md, "RPC reads": before/after).
#
# Usage: ab.sh WORK_DIR STELE_A STELE_B [--rounds R] [--duration D] [--warmup D]
#              [--threads T] [--connections C] [--methods "m1 m2"]
# WORK_DIR is run.sh's work directory (its stele/ datadir and stele-target.json are used;
# it is copied, not changed). Prints a table with A and B in place of stele and anvil.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 3 ] || { sed -n 2,11p "$0" >&2; exit 2; }
src="$1" bin_a="$2" bin_b="$3"; shift 3
threads=2 connections=32 duration=10s warmup=5s rounds=3
methods="eth_call eth_getBalance eth_getTransactionReceipt eth_getLogs eth_getLogs_rare"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    *) echo "ab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for f in "$src/stele-target.json" "$bin_a" "$bin_b"; do [ -e "$f" ] || { echo "ab.sh: $f missing" >&2; exit 2; }; done

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "raw outputs kept in $work" >&2
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A url
for side in a b; do
  cp -r "$src/stele" "$work/$side"
  port="$(free_port)"; url[$side]="https://127.0.0.1:$port"
  bin="$bin_a"; [ $side = b ] && bin="$bin_b"
  "$bin" up --replicas 1 --datadir "$work/$side" --port "$port" >"$work/$side.log" 2>&1 &
  pids+=($!)
done
for side in a b; do
  for _ in $(seq 600); do
    curl -sf --cacert "$work/$side/tls/ca.pem" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "${url[$side]}" >/dev/null && break
    sleep 0.1
  done
done

body() { python3 "$here/cases.py" body "$src/stele-target.json" "$1"; }

for method in $methods; do
  b="$(body "$method")"
  # Both sides must give the same answer before their speed is compared.
  for side in a b; do
    curl -sf --cacert "$work/$side/tls/ca.pem" -H 'content-type: application/json' -d "$b" "${url[$side]}" >"$work/$side-$method.json"
  done
  cmp -s "$work/a-$method.json" "$work/b-$method.json" || { echo "ab.sh: $method answers differ" >&2; exit 1; }
  for side in a b; do
    BODY="$b" wrk -t"$threads" -c"$connections" -d"$warmup" -s "$here/wrk-post.lua" "${url[$side]}" >/dev/null
  done
  for round in $(seq "$rounds"); do
    order="a b"; [ $((round % 2)) = 0 ] && order="b a"
    for side in $order; do
      echo "==> $method on $side: round $round/$rounds, $duration" >&2
      # table.py reads <node>-<method>.r<round>.wrk with node stele/anvil: A is "stele", B "anvil".
      node=stele; [ $side = b ] && node=anvil
      BODY="$b" wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$here/wrk-post.lua" "${url[$side]}" \
        >"$work/$node-$method.r$round.wrk"
    done
  done
done
echo
echo "A = $bin_a, B = $bin_b; wrk -t$threads -c$connections -d$duration --latency, median of $rounds rounds;" \
  "$(nproc) cores, load average$(uptime | sed 's/.*load average://')"
echo "(columns: \"stele\" = A, \"anvil\" = B, last column A / B)"
echo
python3 "$here/table.py" "$work" "$rounds" $methods
