#!/usr/bin/env bash
# Develops and checks the client scenarios without a stele node: starts anvil (from npm) on
# plain HTTP/WS, puts lib/tls_proxy.py in front of it with a throw-away CA, and runs every
# scenario over https:// and wss:// with that CA trusted exactly as against stele.
# Usage: dev-anvil.sh [--no-setup] [--bad-input] [CLIENT ...]
#   ANVIL_ARGS="--block-time 1" mines a block every second, empty ones too, as stele does,
#   instead of one block per transaction.
#   --bad-input also runs tests/bad_input against anvil: anvil is not geth, so many of those
#   checks fail there by design; this only shows that the test runs and can fail.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
setup=1 bad=0
while [ $# -gt 0 ]; do case "$1" in --no-setup) setup=0; shift ;; --bad-input) bad=1; shift ;; *) break ;; esac; done
[ $setup = 1 ] && { bash "$here/setup.sh" || exit 1; }
work="$(mktemp -d)"
anvil_port="${ANVIL_PORT:-18546}" tls_port="${TLS_PORT:-18545}"
export STELE_CHAIN_ID="${STELE_CHAIN_ID:-1337}"
"$here/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" --host 127.0.0.1 --port "$anvil_port" \
  --chain-id "$STELE_CHAIN_ID" ${ANVIL_ARGS:-} >"$work/anvil.log" 2>&1 &
anvil_pid=$!
python3 "$here/lib/tls_proxy.py" --listen "$tls_port" --upstream "127.0.0.1:$anvil_port" --dir "$work/tls" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
trap 'kill $anvil_pid $proxy_pid 2>/dev/null; wait $anvil_pid $proxy_pid 2>/dev/null; rm -rf "$work"' EXIT
python3 "$here/lib/wait_rpc.py" "https://127.0.0.1:$tls_port" "$work/tls/ca.pem" 60 "$anvil_pid" >/dev/null || exit 1
STELE_CA="$work/tls/ca.pem" STELE_RPC_URL="https://127.0.0.1:$tls_port" bash "$here/run.sh" "$@"
rc=$?
if [ $bad = 1 ]; then
  "${STELE_WEB3PY_VENV:-${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}/venv-web3py}/bin/python" "$here/../bad_input/bad_input.py" \
    "https://127.0.0.1:$tls_port" --ca "$work/tls/ca.pem" --chain-id "$STELE_CHAIN_ID" || echo "(bad_input against anvil: failures expected, anvil is not geth)"
fi
exit $rc
