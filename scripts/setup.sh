#!/usr/bin/env bash
# Installs what hier needs on Debian 12 (only what is missing) and builds the native shim.
#   libtorch-dev (libtorch 1.13.1, CPU), cmake, g++, pkg-config (the Go package links the shim through
#   it), libopenblas0-openmp (Debian's libtorch calls the system BLAS; the reference BLAS is ~30x
#   slower for matrix products), and the GPT-2 vocabulary.
# The shim is build/libhiertorch.so; go commands in this checkout find it through the build tree's
# pkg-config file: export PKG_CONFIG_PATH=$PWD/build/pkgconfig (the scripts and the Makefile do).
# Set HIER_WITH_PYTHON=1 to also install python3-torch (the PyTorch side of `make bench`).
# Set Torch_DIR or CMAKE_PREFIX_PATH to build against another libtorch (e.g. a CUDA one).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

need=()
dpkg -s libtorch-dev >/dev/null 2>&1 || [ -n "${Torch_DIR:-}${CMAKE_PREFIX_PATH:-}" ] || need+=(libtorch-dev)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v npm >/dev/null 2>&1 || need+=(npm)
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)
if [ "${HIER_WITH_PYTHON:-0}" = 1 ]; then
  dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Debian's libtorch links libblas.so.3; make sure the alternative points at OpenBLAS.
if command -v update-alternatives >/dev/null 2>&1; then
  blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
  case "$blas" in
    *openblas*) ;;
    "") ;;
    *)
      alt=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu | grep -m1 openblas || true)
      if [ -n "$alt" ]; then
        echo "setup: switching libblas.so.3 from $blas to $alt" >&2
        update-alternatives --set libblas.so.3-x86_64-linux-gnu "$alt" >/dev/null
      else
        echo "setup: warning: libblas.so.3 is $blas (reference BLAS); matrix products will be slow" >&2
      fi
      ;;
  esac
fi

# Build the shim (incremental).
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j"$(nproc)" >/dev/null
[ -f build/pkgconfig/hiertorch.pc ] || { echo "setup: build/pkgconfig/hiertorch.pc missing after the build (CMakeLists.txt writes it)" >&2; exit 1; }
echo "setup: built build/libhiertorch.so" >&2
# So that plain `go build` / `go test ./...` in this checkout find the shim without any
# environment, the build tree's pkg-config file is also placed where pkg-config looks by default
# (/usr/local/lib/pkgconfig), marked as this script's. It is never written over an installed
# shim's file (`make install` / `cmake --install`): then, or without write access, go commands
# need PKG_CONFIG_PATH (the scripts here always set it).
sys_pc=/usr/local/lib/pkgconfig/hiertorch.pc
marker="# written by hier scripts/setup.sh for the checkout $root"
if [ -w "$(dirname "$sys_pc")" ] || { [ ! -e "$(dirname "$sys_pc")" ] && [ -w /usr/local/lib ]; }; then
  if [ ! -e "$sys_pc" ] || grep -q '^# written by hier scripts/setup.sh' "$sys_pc"; then
    mkdir -p "$(dirname "$sys_pc")"
    { echo "$marker"; cat build/pkgconfig/hiertorch.pc; } >"$sys_pc.tmp" && mv "$sys_pc.tmp" "$sys_pc"
    echo "setup: $sys_pc points go commands at this checkout's build/ (PKG_CONFIG_PATH overrides it)" >&2
  else
    echo "setup: $sys_pc is an installed shim's; for go commands on this checkout: export PKG_CONFIG_PATH=$root/build/pkgconfig" >&2
  fi
else
  case ":${PKG_CONFIG_PATH:-}:" in
    *":$root/build/pkgconfig:"*) ;;
    *) echo "setup: for go commands in this shell: export PKG_CONFIG_PATH=$root/build/pkgconfig" >&2 ;;
  esac
fi

# GPT-2 vocabulary (vocab.json, merges.txt) into third_party/gpt2.
bash scripts/fetch_vocab.sh
