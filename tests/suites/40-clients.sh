#!/usr/bin/env bash
# Suite: real Ethereum clients against `stele up` over TLS: the default 4-replica cluster
# (SBFT over mutual TLS, one `stele run` process per replica). Trusts the cluster CA it
# writes, runs the ethers, viem, web3.py, Foundry (cast + forge script) and Hardhat scenarios
# (tests/clients/) against EACH replica's endpoint, and the bad-input test
# (tests/bad_input/) against replica 0, then stops the cluster. Then ethers and web3.py
# once against the single-replica dev node (`stele up --replicas 1`).
# Installs its own npm packages and the web3.py venv (tests/clients/setup.sh).
#
set -uo pipefail

# ---- adjust here when the CLI settles
STELE_ROOT="${STELE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ -f "$STELE_ROOT/Cargo.toml" ] || STELE_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
STELE_BIN="${STELE_BIN:-$CARGO_TARGET_DIR/debug/stele}"
PORT="${STELE_PORT:-8545}"
P2P_PORT="${STELE_P2P_PORT:-7100}"
REPLICAS="${STELE_REPLICAS:-4}"
CHAIN_ID="${STELE_CHAIN_ID:-1337}"
DATADIR="$(mktemp -d /tmp/stele-clients.XXXXXX)"
UP_CMD=("$STELE_BIN" up --datadir "$DATADIR" --port "$PORT" --p2p-port "$P2P_PORT" --replicas "$REPLICAS")
CA_FILE="$DATADIR/cluster/ca/ca.crt"   # `stele up` writes the cluster CA here
START_TIMEOUT_S="${STELE_START_TIMEOUT_S:-120}"
# ----

clients="$STELE_ROOT/tests/clients"
export STELE_CI_CACHE="${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}"
export STELE_WEB3PY_VENV="${STELE_WEB3PY_VENV:-$STELE_CI_CACHE/venv-web3py}"
# A node already listening there would make the suite wait for the wrong server.
for p in $(seq "$PORT" $((PORT + REPLICAS))) $(seq "$P2P_PORT" $((P2P_PORT + REPLICAS))); do
  if python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$p"; then
    echo "port $p is already in use: stop that process or set the port variables at the top of $0"; exit 1
  fi
done
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid"; wait "$node_pid" 2>/dev/null
  fi
  rm -rf "$DATADIR" "$DATADIR.node.log" "$DATADIR.single"
}
trap cleanup EXIT

echo "==> install client packages"
bash "$clients/setup.sh" || exit 1

if [ ! -x "$STELE_BIN" ]; then
  echo "==> build stele ($STELE_BIN missing)"
  (cd "$STELE_ROOT" && cargo build -p stele-node --locked) || exit 1
fi

echo "==> start: ${UP_CMD[*]}"
"${UP_CMD[@]}" >"$DATADIR.node.log" 2>&1 &
node_pid=$!
for i in $(seq 0 $((REPLICAS - 1))); do
  got_chain="$(python3 "$clients/lib/wait_rpc.py" "https://127.0.0.1:$((PORT + i))" "$CA_FILE" "$START_TIMEOUT_S" "$node_pid")" || {
    echo "replica $i did not come up over TLS:"; tail -50 "$DATADIR.node.log"; tail -30 "$DATADIR/cluster/replica-$i/replica.log"; exit 1; }
  [ "$got_chain" = "$CHAIN_ID" ] || { echo "eth_chainId is $got_chain, expected $CHAIN_ID (set STELE_CHAIN_ID)"; exit 1; }
done
echo "cluster up (pid $node_pid), $REPLICAS replicas, chain id $got_chain, CA $CA_FILE"

failed=()
for i in $(seq 0 $((REPLICAS - 1))); do
  echo "==> clients against replica $i (https://127.0.0.1:$((PORT + i)))"
  STELE_CA="$CA_FILE" STELE_RPC_URL="https://127.0.0.1:$((PORT + i))" STELE_CHAIN_ID="$CHAIN_ID" \
    bash "$clients/run.sh" || failed+=("clients@replica-$i")
done

echo "==> bad input"
"$STELE_WEB3PY_VENV/bin/python" "$STELE_ROOT/tests/bad_input/bad_input.py" "https://127.0.0.1:$PORT" \
  --ca "$CA_FILE" --chain-id "$CHAIN_ID" \
  `# jsonrpsee answers malformed JSON on a WebSocket with "Parse error" before any hook of ours` \
  `# runs (HTTP is rewritten to geth's "parse error"); see docs/conformance.md.` \
  --known-deviation "ws: malformed JSON" || failed+=(bad_input)

# The cluster must have survived everything: still running, every replica answering,
# and no panic in any log.
kill -0 "$node_pid" 2>/dev/null || failed+=("cluster exited")
"$STELE_BIN" status --config "$DATADIR/cluster/replica-0/config.toml" || failed+=("status")
if grep -n -i "panicked" "$DATADIR.node.log" "$DATADIR"/cluster/replica-*/replica.log; then failed+=("node panicked"); fi
kill "$node_pid"; wait "$node_pid" 2>/dev/null

echo "==> clients against the single-replica dev node (stele up --replicas 1)"
mkdir -p "$DATADIR.single"
"$STELE_BIN" up --replicas 1 --datadir "$DATADIR.single" --port "$PORT" >"$DATADIR.single/node.log" 2>&1 &
node_pid=$!
if python3 "$clients/lib/wait_rpc.py" "https://127.0.0.1:$PORT" "$DATADIR.single/tls/ca.pem" "$START_TIMEOUT_S" "$node_pid" >/dev/null; then
  STELE_CA="$DATADIR.single/tls/ca.pem" STELE_RPC_URL="https://127.0.0.1:$PORT" STELE_CHAIN_ID="$CHAIN_ID" \
    bash "$clients/run.sh" ethers web3py || failed+=("clients@single")
else
  failed+=("single replica did not start")
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "node log tail:"; tail -40 "$DATADIR.node.log"
  for f in "$DATADIR"/cluster/replica-*/replica.log; do echo "--- $f"; tail -20 "$f"; done
  echo "40-clients: FAILED: ${failed[*]}"
  exit 1
fi
echo "40-clients: all client scenarios and bad-input checks passed"
