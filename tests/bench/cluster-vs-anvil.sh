#!/usr/bin/env bash
# Side-by-side load figures: stele vs anvil in the same session on the same machine, with
# `stele bench` (ERC-20 transfers by default): a closed loop for the maximum sustained
# throughput, then an open loop at a fixed offered rate for latency under load. Prints a
# Markdown table for docs/BENCHMARKS.md and keeps every JSON report and SVG plot.
#
# Not a test (nothing is asserted beyond the runs completing); see docs/BENCHMARKS.md.
#
# The stele side is `stele up --replicas $REPLICAS` started here, or an already running
# cluster: set STELE_TARGETS="https://127.0.0.1:8545 https://127.0.0.1:8546 …", STELE_CA and
# STELE_PIDS (space-separated) and nothing is started.
#
# Environment (defaults in brackets):
#   STELE_BIN    [$CARGO_TARGET_DIR/release/stele]   ANVIL [tests/clients/node_modules/…/anvil]
#   BENCH_BIN    [$STELE_BIN] the `stele` that runs `stele bench` (the generator)
#   REPLICAS [4]  WORKLOAD [erc20]  ACCOUNTS [1000]  WARMUP [5s]  DURATION [30s]
#   CONCURRENCY [256]  RATE [1000]  CLOSED_TXS [pre-signed for the closed loop: 80000]
#   OUT [/tmp/stele-bench-results/<UTC date-time>]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
STELE_BIN="${STELE_BIN:-$CARGO_TARGET_DIR/release/stele}"
ANVIL="${ANVIL:-$root/tests/clients/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
REPLICAS="${REPLICAS:-4}"
WORKLOAD="${WORKLOAD:-erc20}"
ACCOUNTS="${ACCOUNTS:-1000}"
WARMUP="${WARMUP:-5s}"
DURATION="${DURATION:-30s}"
CONCURRENCY="${CONCURRENCY:-256}"
RATE="${RATE:-1000}"
CLOSED_TXS="${CLOSED_TXS:-80000}"
BENCH_BIN="${BENCH_BIN:-$STELE_BIN}"
OUT="${OUT:-/tmp/stele-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"

for bin in "$STELE_BIN" "$BENCH_BIN"; do
  [ -x "$bin" ] || { echo "no $bin: cargo build --release -p stele-node --bin stele" >&2; exit 1; }
done
if [ ! -x "$ANVIL" ]; then
  bash "$root/tests/clients/setup.sh" >/dev/null || true
  [ -x "$ANVIL" ] || { echo "no anvil at $ANVIL (bash tests/clients/setup.sh installs it)" >&2; exit 1; }
fi
mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

started=()
cleanup() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${stele_datadir:-}" ] && rm -rf "$stele_datadir"
}
trap cleanup EXIT

# ---- stele
if [ -n "${STELE_TARGETS:-}" ]; then
  read -r -a stele_targets <<<"$STELE_TARGETS"
  stele_ca="${STELE_CA:?STELE_CA is needed with STELE_TARGETS}"
  read -r -a stele_pids <<<"${STELE_PIDS:-}"
else
  stele_datadir="$(mktemp -d /tmp/stele-bench.XXXXXX)"
  port="$(free_port)"
  up=("$STELE_BIN" up --datadir "$stele_datadir" --port "$port" --replicas "$REPLICAS")
  if [ "$REPLICAS" = 1 ]; then
    stele_ca="$stele_datadir/tls/ca.pem"
  else
    # Replicas listen on port..port+N-1 (RPC) and a free p2p range.
    up+=(--p2p-port "$(free_port)")
    stele_ca="$stele_datadir/cluster/ca/ca.crt"
  fi
  "${up[@]}" >"$OUT/stele-up.log" 2>&1 &
  started+=($!)
  up_pid=$!
  for _ in $(seq 1 600); do grep -q '^Ready' "$OUT/stele-up.log" 2>/dev/null && break; kill -0 "$up_pid" || break; sleep 0.2; done
  python3 "$root/tests/clients/lib/wait_rpc.py" "https://127.0.0.1:$port" "$stele_ca" 120 "$up_pid" >/dev/null
  if [ "$REPLICAS" = 1 ]; then
    stele_pids=("$up_pid")
  else
    # CPU and RSS are sampled on the replica processes, not the supervisor.
    mapfile -t stele_pids < <(pgrep -f "$stele_datadir/cluster/replica-[0-9]*/config.toml")
  fi
  # A cluster prints one endpoint per replica; a single replica prints one.
  mapfile -t stele_targets < <(grep -o 'https://[0-9.]*:[0-9]*' "$OUT/stele-up.log" | sort -u)
  [ ${#stele_targets[@]} -gt 0 ] || stele_targets=("https://127.0.0.1:$port")
fi

# ---- anvil (default automine: one block per transaction, as developers run it)
anvil_port="$(free_port)"
"$ANVIL" --port "$anvil_port" >"$OUT/anvil.log" 2>&1 &
started+=($!)
anvil_pid=$!
python3 "$root/tests/clients/lib/wait_rpc.py" "http://127.0.0.1:$anvil_port" "" 60 "$anvil_pid" >/dev/null

common=(--workload "$WORKLOAD" --accounts "$ACCOUNTS" --warmup "$WARMUP" --duration "$DURATION")
stele_args=(--label stele --ca "$stele_ca")
for t in "${stele_targets[@]}"; do stele_args+=(--target "$t"); done
for p in "${stele_pids[@]}"; do stele_args+=(--pid "$p"); done
anvil_args=(--label anvil --target "http://127.0.0.1:$anvil_port" --pid "$anvil_pid")

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD)"
  echo "node binary: $STELE_BIN"
  echo "generator binary: $BENCH_BIN"
  echo "nproc: $(nproc)"
  echo "uptime: $(uptime)"
  echo "stele: ${stele_targets[*]} (replicas $REPLICAS)"
  echo "anvil: $("$ANVIL" --version | head -1)"
} | tee "$OUT/machine.txt"

run() { # NAME ARGS…
  local name="$1"; shift
  echo "==> $name: $BENCH_BIN bench $*"
  "$BENCH_BIN" bench "$@" --out "$OUT/$name.json" --plot "$OUT/$name.svg" 2>"$OUT/$name.log" | tee "$OUT/$name.txt"
}
# Seeds differ per run so every run funds fresh senders (no nonce carried over).
run stele-closed "${stele_args[@]}" "${common[@]}" --seed 11 --concurrency "$CONCURRENCY" --txs "$CLOSED_TXS"
run anvil-closed "${anvil_args[@]}" "${common[@]}" --seed 12 --concurrency "$CONCURRENCY" --txs "$CLOSED_TXS"
run stele-open "${stele_args[@]}" "${common[@]}" --seed 13 --rate "$RATE"
run anvil-open "${anvil_args[@]}" "${common[@]}" --seed 14 --rate "$RATE"

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, sys, os
out = sys.argv[1]
print("| node | load | offered tx/s | sustained tx/s | p50 ms | p95 ms | p99 ms | errors | node CPU % (1 core = 100) | node RSS MiB | generator CPU % |")
print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
for name in ["stele-closed", "anvil-closed", "stele-open", "anvil-open"]:
    r = json.load(open(os.path.join(out, name + ".json")))
    load = f"closed, {r['concurrency']} in flight" if r["mode"] == "closed" else f"open, {r['rate_per_s']}/s"
    errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "none"
    nodes = [p for p in r["processes"] if p["role"] == "node"]
    cpu = sum(p["cpu_percent_mean"] for p in nodes)
    rss = sum(p["rss_mib_max"] for p in nodes)
    gen = sum(p["cpu_percent_mean"] for p in r["processes"] if p["role"] == "generator")
    l = r["latency"]
    # No measured transaction was included: there is no latency to show, not a zero one.
    lat = [f"{l[k]:.1f}" if l["samples"] else "n/a" for k in ("p50_ms", "p95_ms", "p99_ms")]
    print(f"| {r['label']} | {load} | {r['offered_tx_per_s']:.0f} | {r['tx_per_s']:.0f} | {' | '.join(lat)} | {errors} | {cpu:.0f} | {rss:.0f} | {gen:.0f} |")
PY
echo "reports, plots and logs in $OUT"
