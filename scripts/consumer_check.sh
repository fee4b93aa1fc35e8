#!/usr/bin/env bash
# Checks that hier works as an ordinary cgo dependency of another Go module, the way a service
# uses it (README, "Use from your Go service"):
#   1. installs the shim of build/ into a temporary prefix (cmake --install build --prefix P):
#      P/lib/libhiertorch.so, P/include/hier_torch.h, P/lib/pkgconfig/hiertorch.pc;
#   2. writes a scratch module outside the repository whose main.go (scripts/consumer/main.go)
#      imports github.com/hier-ai/hier/torch and .../hier/gpt2 through the module path, with
#      `replace github.com/hier-ai/hier => <this checkout>` (nothing is published), and vendors
#      it (go mod tidy, go mod vendor); the vendored torch package must carry hier_torch.h;
#   3. builds it with -mod=vendor and PKG_CONFIG_PATH=P/lib/pkgconfig only (not the build
#      tree's pkg-config file); the binary must have no RPATH/RUNPATH;
#   4. runs it, from outside the repository, with LD_LIBRARY_PATH=P/lib: one prediction with
#      the GPT-2 classifier, compared with the golden values of ../shared/golden
#      ($HIER_GOLDEN_DIR overrides), or, without golden data, a random model's shapes and
#      finiteness.
# Needs the shim built (scripts/setup.sh), pkg-config, readelf, and the Go module proxy (or a
# module cache holding hier's dependencies) for go mod tidy. Run by scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
log() { echo "consumer_check: $*" >&2; }
die() {
  log "FAIL: $*"
  exit 1
}
start=$SECONDS

for tool in go cmake pkg-config readelf ldd; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs what is missing)"
done
[ -f build/libhiertorch.so ] || die "build/libhiertorch.so missing: build the shim first (bash scripts/setup.sh, or make shim)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hier-consumer.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# ---- 1. install the shim ----
prefix="$tmp/prefix"
cmake --install build --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; die "cmake --install build --prefix $prefix"; }
pc="$(find "$prefix" -name hiertorch.pc -path '*/pkgconfig/*')"
[ -n "$pc" ] && [ -f "$pc" ] || die "no pkgconfig/hiertorch.pc under $prefix after cmake --install"
pcdir="$(dirname "$pc")"
libdir="$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir hiertorch)"
incdir="$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=includedir hiertorch)"
[ -f "$libdir/libhiertorch.so" ] || die "$pc: libdir=$libdir holds no libhiertorch.so"
[ -f "$incdir/hier_torch.h" ] || die "$pc: includedir=$incdir holds no hier_torch.h"
flags="$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs hiertorch)"
case "$flags" in
  *"$root"*) die "$pc: flags refer to the checkout: $flags" ;;
esac
case "$(readelf -d "$libdir/libhiertorch.so")" in
  *"$root"*) die "$libdir/libhiertorch.so: dynamic section refers to the checkout: $(readelf -d "$libdir/libhiertorch.so" | grep -E 'RPATH|RUNPATH')" ;;
esac
log "installed into $prefix: pkg-config hiertorch $(PKG_CONFIG_PATH="$pcdir" pkg-config --modversion hiertorch): $flags"

# ---- 2. scratch module, vendored ----
svc="$tmp/svc"
mkdir -p "$svc"
goversion="$(awk '$1 == "go" { print $2; exit }' go.mod)"
[ -n "$goversion" ] || die "go.mod: no go directive"
cat >"$svc/go.mod" <<EOF
module example.com/svc

go $goversion

require github.com/hier-ai/hier v0.0.0

replace github.com/hier-ai/hier => $root
EOF
cp scripts/consumer/main.go "$svc/main.go"
cd "$svc"
# The scratch module's own settings: no workspace, no -mod from the caller's GOFLAGS.
export GOWORK=off GOFLAGS=
go mod tidy >"$tmp/tidy.log" 2>&1 || { cat "$tmp/tidy.log" >&2; die "go mod tidy in the scratch module"; }
go mod vendor
vendored=vendor/github.com/hier-ai/hier
grep -qxF "# github.com/hier-ai/hier v0.0.0 => $root" vendor/modules.txt ||
  die "vendor/modules.txt does not record github.com/hier-ai/hier v0.0.0 => $root"
[ -f "$vendored/torch/hier_torch.h" ] || die "$vendored/torch/hier_torch.h missing: go mod vendor did not copy the C header"
cmp -s "$vendored/torch/hier_torch.h" "$root/torch/hier_torch.h" || die "$vendored/torch/hier_torch.h differs from torch/hier_torch.h"
log "vendored $(find vendor -name '*.go' | wc -l) Go files, $vendored/torch/hier_torch.h included"

# ---- 3. build against the installed shim only ----
# The vendored package directory is new on every run, so Go's build cache (which does not key
# on pkg-config's output) cannot hand back an object compiled against another hiertorch.pc.
PKG_CONFIG_PATH="$pcdir" go build -mod=vendor -o "$tmp/svc-bin" . ||
  die "go build -mod=vendor with PKG_CONFIG_PATH=$pcdir"
dyn="$(readelf -d "$tmp/svc-bin")"
grep -q 'NEEDED.*\[libhiertorch\.so\]' <<<"$dyn" || die "the binary does not link libhiertorch.so"
if grep -E 'RPATH|RUNPATH' <<<"$dyn"; then
  die "the binary has an RPATH/RUNPATH (above); it must find the shim through the library path"
fi
# (Outputs are captured before grep: with pipefail, grep -q closing the pipe early could fail it.)
system_libs="$(ldconfig -p 2>/dev/null || true)"
if ! grep -q 'libhiertorch\.so' <<<"$system_libs"; then
  # No system copy: without the library path the shim must be missing.
  deps="$(env -u LD_LIBRARY_PATH ldd "$tmp/svc-bin")"
  grep -q 'libhiertorch\.so => not found' <<<"$deps" ||
    die "without LD_LIBRARY_PATH the binary still finds a libhiertorch.so: $(grep libhiertorch <<<"$deps")"
fi
deps="$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/svc-bin")"
resolved="$(awk '$1 == "libhiertorch.so" { print $3 }' <<<"$deps")"
[ "$resolved" = "$libdir/libhiertorch.so" ] || die "with LD_LIBRARY_PATH=$libdir, libhiertorch.so resolves to '$resolved'"
log "built $(du -h "$tmp/svc-bin" | cut -f1) binary: libhiertorch.so from the library path, no RPATH/RUNPATH"

# ---- 4. run a prediction, outside the repository ----
golden="${HIER_GOLDEN_DIR:-$(dirname "$root")/shared/golden}"
args=()
if [ -f "$golden/golden.safetensors" ] && [ -d "$golden/gpt2-tiny" ]; then
  args=(-golden "$golden")
else
  log "no golden data at $golden: checking a random model's shapes and finiteness only"
fi
cd "$tmp"
LD_LIBRARY_PATH="$libdir" "$tmp/svc-bin" "${args[@]}" || die "the scratch program failed"
log "passed in $((SECONDS - start)) s"
