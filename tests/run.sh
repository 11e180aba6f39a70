#!/usr/bin/env bash
# The one command that runs every test of stele (the README's second command).
#
# What the tests need is installed by the suites themselves (each suite apt-installs its
# tools and sets up its npm and pip packages), so this command alone prepares a fresh
# machine. It builds the workspace once, runs the Rust tests with cargo-nextest, then every suite script in
# tests/suites/ in name order. Each suite is a standalone bash script that exits non-zero
# on failure; a failing suite fails the run, but the remaining suites still run so that
# one report shows everything that is broken.
#
# Environment:
#   CARGO_TARGET_DIR   shared build directory (default: ./target)
#   STELE_SUITES       space-separated suite names to run (default: all)
#   STELE_SHARED       the shared folder with conformance/ (default: ../shared, else the
#                      one beside the repository this clone was cloned from)
set -uo pipefail
cd "$(dirname "$0")/.."
export STELE_ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The shared design notes and conformance fixtures sit beside the checkout. A clone made
# elsewhere (CI clones into a fresh temporary directory) finds them beside the repository
# it was cloned from.
if [ -z "${STELE_SHARED:-}" ]; then
  STELE_SHARED="$(cd .. && pwd)/shared"
  origin="$(git config --get remote.origin.url 2>/dev/null || true)"
  if [ ! -d "$STELE_SHARED" ] && [ -d "$origin/../shared" ]; then
    STELE_SHARED="$(cd "$origin/../shared" && pwd)"
  fi
fi
export STELE_SHARED
[ -f "$STELE_SHARED/conformance/execution-apis/chain.rlp" ] ||
  echo "warning: conformance fixtures not found under $STELE_SHARED (set STELE_SHARED); the fixture tests will fail" >&2

step() { printf '\n==> %s\n' "$*"; }

step "build (debug, whole workspace, tests included)"
cargo build --workspace --all-targets || exit 1

step "Rust unit and integration tests"
failed=()
cargo nextest run --workspace --no-fail-fast || failed+=("cargo-nextest")

for suite in tests/suites/*.sh; do
  [ -e "$suite" ] || continue
  name=$(basename "$suite" .sh)
  if [ -n "${STELE_SUITES:-}" ] && [[ " $STELE_SUITES " != *" $name "* ]]; then continue; fi
  step "suite $name"
  start=$(date +%s)
  if bash "$suite"; then
    printf 'suite %s: ok (%ss)\n' "$name" "$(( $(date +%s) - start ))"
  else
    printf 'suite %s: FAILED (%ss)\n' "$name" "$(( $(date +%s) - start ))"
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall test suites passed\n'
