#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (scripts/setup.sh) and runs every test.
# Tests that need ../shared (real datasets, golden model) skip with a message when it is absent.
# scripts/consumer_check.sh then builds a scratch module that uses this one as a vendored
# dependency against the installed shim, and runs a prediction with it.
#
# Then the numeric packages run a second time with other float kernels forced, so that a test
# which holds only with this CPU's kernels fails on every machine, not just on some CPUs:
#   OPENBLAS_CORETYPE=Sandybridge   OpenBLAS's AVX (no FMA) kernels instead of the detected ones
#   ATEN_CPU_CAPABILITY=default     libtorch's non-vectorised kernels instead of AVX2/AVX-512
#   GLIBC_TUNABLES=...-AVX2,-FMA    glibc's libm (exp, log, pow, sin, cos) without its FMA variants
#   GODEBUG=cpu.fma=off             Go's math.Exp without FMA instructions (pure-Go baselines)
# A computed float compared bitwise with a stored file or a literal fails here; compare with a
# tolerance (../shared/golden/README.md) and keep bitwise checks within one process.
# Extra arguments go to both `go test` runs (e.g. -run, -short).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
export PKG_CONFIG_PATH="$root/build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" # the shim of build/ (hiertorch.pc)
bash scripts/setup.sh
go vet ./...
# The module as another module's vendored dependency, against the installed shim.
bash scripts/consumer_check.sh
go test -count=1 -timeout 40m "$@" ./...

numeric=(./torch/ ./hier/gpt2/ ./hier/train/ ./hier/rec/ ./hier/pipeline/ ./hier/baseline/ ./hier/eval/ ./hier/data/)
echo "test.sh: again with other float kernels forced: ${numeric[*]}" >&2
start=$SECONDS
OPENBLAS_CORETYPE=Sandybridge ATEN_CPU_CAPABILITY=default \
  GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA GODEBUG=cpu.fma=off \
  go test -count=1 -timeout 30m "$@" "${numeric[@]}"
echo "test.sh: forced-kernel pass took $((SECONDS - start)) s" >&2
