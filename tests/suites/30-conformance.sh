#!/usr/bin/env bash
# Suite: the execution-apis conformance fixtures, judged by hive's rpc-compat rules, against
# `stele serve` over TLS on the imported fixture chain. Checks the replay runner itself first
# (selftest.py), imports genesis.json + chain.rlp into a temporary datadir, serves it without
# producing blocks, and replays every .io file (tests/conformance/replay.py). Fails below the
# thresholds of issue 3: 100/110 core eth_/net_, 24/24 debug_, 3/3 txpool_.
#
set -uo pipefail

# ---- adjust here when the CLI settles
STELE_ROOT="${STELE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ -f "$STELE_ROOT/Cargo.toml" ] || STELE_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STELE_SHARED="${STELE_SHARED:-$(cd "$STELE_ROOT/.." && pwd)/shared}"
FIXTURES="${STELE_FIXTURES:-$STELE_SHARED/conformance/execution-apis}"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
STELE_BIN="${STELE_BIN:-$CARGO_TARGET_DIR/debug/stele}"
PORT="${STELE_CONFORMANCE_PORT:-8547}"
DATADIR="$(mktemp -d /tmp/stele-conformance.XXXXXX)"
IMPORT_CMD=("$STELE_BIN" import --datadir "$DATADIR" --genesis "$FIXTURES/genesis.json" --chain "$FIXTURES/chain.rlp")
SERVE_CMD=("$STELE_BIN" serve --datadir "$DATADIR" --port "$PORT")
CA_FILE="$DATADIR/tls/ca.pem"
THRESHOLDS=(--core "${STELE_CONF_CORE:-100}" --debug "${STELE_CONF_DEBUG:-24}" --txpool "${STELE_CONF_TXPOOL:-3}")
START_TIMEOUT_S="${STELE_START_TIMEOUT_S:-120}"
REPORT="${STELE_CONFORMANCE_REPORT:-$CARGO_TARGET_DIR/conformance-report.md}"   # Markdown for docs/
# ----

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
[ -f "$FIXTURES/chain.rlp" ] || { echo "fixtures not found at $FIXTURES (set STELE_SHARED)"; exit 1; }

echo "==> replay runner self-test (judges like hive?)"
python3 "$STELE_ROOT/tests/conformance/selftest.py" "$FIXTURES" || exit 1

if [ ! -x "$STELE_BIN" ]; then
  (cd "$STELE_ROOT" && cargo build -p stele-node --locked) || exit 1
fi

echo "==> import: ${IMPORT_CMD[*]}"
"${IMPORT_CMD[@]}" || { echo "import of the fixture chain failed"; exit 1; }

echo "==> serve: ${SERVE_CMD[*]}"
"${SERVE_CMD[@]}" >"$DATADIR.node.log" 2>&1 &
node_pid=$!
python3 "$STELE_ROOT/tests/clients/lib/wait_rpc.py" "https://127.0.0.1:$PORT" "$CA_FILE" "$START_TIMEOUT_S" "$node_pid" >/dev/null || {
  echo "stele serve did not answer over TLS:"; tail -50 "$DATADIR.node.log"; exit 1; }

mkdir -p "$(dirname "$REPORT")"
echo "==> replay $(find "$FIXTURES" -name '*.io' | wc -l) fixtures"
python3 "$STELE_ROOT/tests/conformance/replay.py" "https://127.0.0.1:$PORT" --ca "$CA_FILE" \
  --fixtures "$FIXTURES" "${THRESHOLDS[@]}" --markdown "$REPORT"
rc=$?
echo "report for docs/: $REPORT"
kill -0 "$node_pid" 2>/dev/null || { echo "stele serve exited during the replay"; tail -40 "$DATADIR.node.log"; rc=1; }
if grep -n -i "panicked" "$DATADIR.node.log"; then echo "stele serve panicked"; rc=1; fi
exit $rc
