#!/usr/bin/env bash
# Suite: real Ethereum clients against `stele up` over TLS. Starts a dev chain in a temporary
# datadir, trusts the CA it writes, runs the ethers, viem, web3.py, Foundry (cast + forge
# script) and Hardhat scenarios (tests/clients/) and the bad-input test (tests/bad_input/),
# then stops the node. Installs its own npm packages and the web3.py venv (tests/clients/setup.sh).
#
set -uo pipefail

# ---- adjust here when the CLI settles
STELE_ROOT="${STELE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ -f "$STELE_ROOT/Cargo.toml" ] || STELE_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
STELE_BIN="${STELE_BIN:-$CARGO_TARGET_DIR/debug/stele}"
PORT="${STELE_PORT:-8545}"
CHAIN_ID="${STELE_CHAIN_ID:-1337}"
DATADIR="$(mktemp -d /tmp/stele-clients.XXXXXX)"
UP_CMD=("$STELE_BIN" up --datadir "$DATADIR" --port "$PORT")
CA_FILE="$DATADIR/tls/ca.pem"          # `stele up` writes its dev CA here
START_TIMEOUT_S="${STELE_START_TIMEOUT_S:-120}"
# ----

clients="$STELE_ROOT/tests/clients"
export STELE_CI_CACHE="${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}"
export STELE_WEB3PY_VENV="${STELE_WEB3PY_VENV:-$STELE_CI_CACHE/venv-web3py}"
# A node already listening there would make the suite wait for the wrong server.
if python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$PORT"; then
  echo "port $PORT is already in use: stop that process or set the port variable at the top of $0"; exit 1
fi
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid"; wait "$node_pid" 2>/dev/null
  fi
  rm -rf "$DATADIR" "$DATADIR.node.log"
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
got_chain="$(python3 "$clients/lib/wait_rpc.py" "https://127.0.0.1:$PORT" "$CA_FILE" "$START_TIMEOUT_S" "$node_pid")" || {
  echo "node did not come up over TLS:"; tail -50 "$DATADIR.node.log"; exit 1; }
[ "$got_chain" = "$CHAIN_ID" ] || { echo "eth_chainId is $got_chain, expected $CHAIN_ID (set STELE_CHAIN_ID)"; exit 1; }
echo "node up (pid $node_pid), chain id $got_chain, CA $CA_FILE"

failed=()
STELE_CA="$CA_FILE" STELE_RPC_URL="https://127.0.0.1:$PORT" STELE_CHAIN_ID="$CHAIN_ID" \
  bash "$clients/run.sh" || failed+=(clients)

echo "==> bad input"
"$STELE_WEB3PY_VENV/bin/python" "$STELE_ROOT/tests/bad_input/bad_input.py" "https://127.0.0.1:$PORT" \
  --ca "$CA_FILE" --chain-id "$CHAIN_ID" \
  `# jsonrpsee answers malformed JSON on a WebSocket with "Parse error" before any hook of ours` \
  `# runs (HTTP is rewritten to geth's "parse error"); see docs/conformance.md.` \
  --known-deviation "ws: malformed JSON" || failed+=(bad_input)

# The node must have survived everything: still running, and no panic in its log.
kill -0 "$node_pid" 2>/dev/null || failed+=("node exited")
if grep -n -i "panicked" "$DATADIR.node.log"; then failed+=("node panicked"); fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "node log tail:"; tail -40 "$DATADIR.node.log"
  echo "40-clients: FAILED: ${failed[*]}"
  exit 1
fi
echo "40-clients: all client scenarios and bad-input checks passed"
