#!/usr/bin/env bash
# Suite: fault tests of a real 4-replica cluster (tests/cluster/faults.py): the primary
# killed, f replicas killed, a replica restarted after 1,000 new blocks, all replicas
# restarted, a wiped datadir, a partition that heals, and a Byzantine replica (equivocating
# primary, bad shares, wrong execution digest) from the test-only `byzantine` build.
#
# The Byzantine binary is built with `--features byzantine` and copied to
# `stele-byzantine`; the normal binary is then rebuilt, so release and test builds of `stele`
# never contain the misbehaviour.
set -uo pipefail
STELE_ROOT="${STELE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$STELE_ROOT/target}"
export CARGO_TARGET_DIR
export STELE_CI_CACHE="${STELE_CI_CACHE:-/var/tmp/stele-ci-cache}"
venv="${STELE_WEB3PY_VENV:-$STELE_CI_CACHE/venv-web3py}"
[ -x "$venv/bin/python" ] || bash "$STELE_ROOT/tests/clients/setup.sh" >/dev/null || exit 1

cd "$STELE_ROOT" || exit 1
echo "==> build the Byzantine test binary"
cargo build -p stele-node --features byzantine || exit 1
cp "$CARGO_TARGET_DIR/debug/stele" "$CARGO_TARGET_DIR/debug/stele-byzantine"
echo "==> rebuild the honest binary"
cargo build -p stele-node || exit 1
if "$CARGO_TARGET_DIR/debug/stele" run --help | grep -q -- --byzantine; then
  echo "the honest binary must not have --byzantine"; exit 1
fi

"$venv/bin/python" "$STELE_ROOT/tests/cluster/faults.py" \
  --stele "$CARGO_TARGET_DIR/debug/stele" --byzantine-bin "$CARGO_TARGET_DIR/debug/stele-byzantine" "$@"
