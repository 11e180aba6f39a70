#!/usr/bin/env bash
# Installs everything the client scenarios need, from the package registries only: the pinned
# npm packages (package-lock.json), the web3.py venv (pinned requirements), and
# compiles contracts/ with npm's solcjs for ethers/viem/web3.py and with Hardhat's own build.
# Idempotent; caches live where CI points them (npm_config_cache, PIP_CACHE_DIR).
#
# Env: STELE_CI_CACHE (default /var/tmp/stele-ci-cache), STELE_WEB3PY_VENV (default
# $STELE_CI_CACHE/venv-web3py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}"
venv="${STELE_WEB3PY_VENV:-$cache/venv-web3py}"
export npm_config_cache="${npm_config_cache:-$cache/npm}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$cache/pip}"
mkdir -p "$cache" "$npm_config_cache" "$PIP_CACHE_DIR"
# t CMD…: runs CMD, prints how long it took, and keeps its exit status.
t() { local s rc=0; s=$(date +%s); "$@" || rc=$?; echo "  ($(( $(date +%s) - s ))s: $*)"; return $rc; }

cd "$here"
# `npm install --no-save` with the committed lock rather than `npm ci`: the registry reachable
# here lacks the macOS/Windows/arm builds that Hardhat's EDR lists as optional dependencies,
# so the lock cannot name them and `npm ci` refuses it as "out of sync". The lock still pins
# every installed version and integrity hash; a changed lock after install fails the setup.
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.stele-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  echo "==> npm install from package-lock.json (ethers, viem, hardhat, foundry, solc, node 22)"
  t npm install --no-save --no-audit --no-fund --loglevel=error
  [ "$(sha256sum package-lock.json | cut -d' ' -f1)" = "$lock_sum" ] || {
    echo "setup: npm changed package-lock.json: the committed lock does not match package.json" >&2; exit 1; }
  echo "$lock_sum" > node_modules/.stele-lock-sum
fi
# The Foundry binaries and Hardhat's native EDR arrive as platform packages; fail early if not.
for f in node_modules/@foundry-rs/cast-linux-amd64/bin/cast node_modules/@foundry-rs/forge-linux-amd64/bin/forge \
         node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil node_modules/node22/bin/node \
         node_modules/@nomicfoundation/edr-linux-x64-gnu/package.json; do
  [ -e "$f" ] || { echo "setup: $f missing after npm install" >&2; exit 1; }
done

echo "==> web3.py venv at $venv"
req_hash="$(sha256sum web3py/requirements.txt | cut -c1-16)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stele-req" 2>/dev/null)" != "$req_hash" ]; then
  rm -rf "$venv"
  t python3 -m venv "$venv"
  t "$venv/bin/pip" install --quiet --disable-pip-version-check -r web3py/requirements.txt
  echo "$req_hash" > "$venv/.stele-req"
fi

echo "==> compile contracts (solcjs $(node -p 'require("./node_modules/solc/package.json").version'))"
t node contracts/build.mjs
(cd hardhat && t ../node_modules/node22/bin/node ../node_modules/hardhat/dist/src/cli.js build --quiet)
echo "setup done"
