#!/usr/bin/env bash
# Imports a built OVA into a vSphere simulator with every property set.
#
#   bash ova-build/vcsim-import.sh OVA PROPERTIES.json
#
# Builds ova-build/vcsim/src/stele-vcsim-import offline in GOPATH mode against Debian's
# golang-github-vmware-govmomi-dev (0.24.2; the module proxy is not reachable), then runs it.
source "$(dirname "$0")/lib.sh"

ova="${1:?usage: vcsim-import.sh OVA PROPERTIES.json}"
props="${2:?usage: vcsim-import.sh OVA PROPERTIES.json}"
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi ]; then
    progress vcsim "installing golang-go golang-github-vmware-govmomi-dev"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-github-vmware-govmomi-dev >/dev/null
fi
bin="$OVA_WORK/bin/stele-vcsim-import"
mkdir -p "$OVA_WORK/bin" "$CARGO_TARGET_DIR/ova-gocache"
progress vcsim "go build stele-vcsim-import (GOPATH mode, offline)"
GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$CARGO_TARGET_DIR/ova-gocache" \
    GOPATH="$OVA_BUILD_DIR/vcsim:/usr/share/gocode" \
    go build -o "$bin" stele-vcsim-import
progress vcsim "importing $(basename "$ova")"
"$bin" -ova "$ova" -properties "$props"
