#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (scripts/setup.sh) and runs every test.
# Tests that need ../shared (real datasets, golden model) skip with a message when it is absent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
bash scripts/setup.sh
go vet ./...
go test -count=1 -timeout 40m "$@" ./...
