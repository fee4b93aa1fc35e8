#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (scripts/setup.sh) and runs the main job on the embedded
# default: `hier demo`, the whole hierarchical-interest pipeline on a seeded synthetic shop.
# Extra arguments go to `hier demo` (e.g. --json, --fusion concat, --multitask).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
export PKG_CONFIG_PATH="$root/build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" # the shim of build/ (hiertorch.pc)
bash scripts/setup.sh
mkdir -p bin
go build -o bin/hier ./cmd/hier
exec bin/hier demo "$@"
