#!/usr/bin/env bash
# Runs the client scenarios (ethers, viem, web3py, foundry, hardhat) against one node and
# prints a pass/fail line per client with its time. Run setup.sh first.
#
# Usage: run.sh [CLIENT ...]            (default: all five, in that order)
# Env:   STELE_RPC_URL  (default https://127.0.0.1:8545; WebSocket on the same port)
#        STELE_WS_URL   (default: STELE_RPC_URL with http -> ws)
#        STELE_CA       PEM file of the node's dev CA; exported as each client's trust variable:
#                       NODE_EXTRA_CA_CERTS (node), REQUESTS_CA_BUNDLE + SSL_CERT_FILE (web3.py),
#                       SSL_CERT_FILE (cast/forge HTTP)
#        STELE_CHAIN_ID (default 1337), STELE_WEB3PY_VENV, STELE_CI_CACHE
#        STELE_TRACE=1  ethers, viem and web3.py print every JSON-RPC request/reply to stderr
# Each client sends from its own dev account (mnemonic index 1..5) so a failure in one cannot
# leave a nonce gap that breaks the next.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}"
venv="${STELE_WEB3PY_VENV:-$cache/venv-web3py}"
export STELE_RPC_URL="${STELE_RPC_URL:-https://127.0.0.1:8545}"
export STELE_WS_URL="${STELE_WS_URL:-${STELE_RPC_URL/http/ws}}"
export STELE_CHAIN_ID="${STELE_CHAIN_ID:-1337}"
if [ -n "${STELE_CA:-}" ]; then
  [ -r "$STELE_CA" ] || { echo "STELE_CA=$STELE_CA is not readable" >&2; exit 2; }
  # SSL_CERT_FILE replaces OpenSSL's/rustls' default roots for these processes: fine here,
  # they only talk to the node.
  export NODE_EXTRA_CA_CERTS="$STELE_CA" SSL_CERT_FILE="$STELE_CA" REQUESTS_CA_BUNDLE="$STELE_CA"
fi
node22="$here/node_modules/node22/bin/node"

clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(ethers viem web3py foundry hardhat)
declare -A account=([ethers]=1 [viem]=2 [web3py]=3 [foundry]=4 [hardhat]=5)
failed=() summary=()
for client in "${clients[@]}"; do
  [ -n "${account[$client]:-}" ] || { echo "unknown client $client" >&2; exit 2; }
  export STELE_ACCOUNT_INDEX="${account[$client]}"
  echo "==> $client"
  start=$(date +%s%N)
  case "$client" in
    ethers|viem) (cd "$here" && node "$client/scenario.mjs") ;;
    web3py) (cd "$here" && "$venv/bin/python" web3py/scenario.py) ;;
    foundry) bash "$here/foundry/scenario.sh" ;;
    # Hardhat 3 needs Node >= 22.13: the node22 npm package provides it.
    hardhat) (cd "$here/hardhat" && "$node22" ../node_modules/hardhat/dist/src/cli.js run --no-compile --network stele scenario.mjs) ;;
  esac
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ $rc -eq 0 ]; then summary+=("ok     $client (${ms} ms)"); else summary+=("FAILED $client (${ms} ms, exit $rc)"); failed+=("$client"); fi
done
echo
printf '%s\n' "${summary[@]}"
echo "clients: $(( ${#clients[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
