#!/usr/bin/env bash
# Benchmarks hier (Go over libtorch) against PyTorch eager at the same intra-op thread count and
# prints a markdown table (op | hier (Go) | PyTorch eager | ratio | ratio min–max | flag), then the
# GPT-2 throughput table of scripts/bench_gpt2.sh.
#
#   bash scripts/bench.sh            (or: make bench, which installs python3-torch first)
#
# Environment:
#   HIER_BENCH_THREADS  intra-op threads for both sides (default 2)
#   HIER_BENCHTIME      go test -benchtime (default 1s)
#   HIER_BENCH_COUNT    rounds; Go and Python runs alternate, the table shows each side's median
#                       and the median and min–max of the per-round ratios (default 3)
#   HIER_BENCH_ROUNDS   rounds of the GPT-2 table (default 3; see scripts/bench_gpt2.sh)
#   HIER_BENCH_SKIP_GPT2=1  print only the ops table (skip scripts/bench_gpt2.sh)
#   HIER_BENCH_SKIP_BF16=1  skip the bf16-autocast-vs-fp32 table (HIER_BENCH_PRECISION=bf16-vs-fp32
#                       of scripts/bench_gpt2.sh), which runs for HIER_BENCH_BF16_CASES (default "a")
#   HIER_PYTHON         Python with torch (default /usr/bin/python3, Debian's python3-torch)
#   HIER_BENCH_OUT      keep the raw outputs in this directory (default: a temporary one)
#
# Layout: each section runs its Go benchmarks (appending `go test -bench` output to $go_out),
# writes its Python measurements as JSON files $out/py_<section>_<round>.json (round i of a
# quantity is its i-th occurrence, in the Go file and across these files in round order), and
# adds table rows with
# `row 'label|hier expr|pytorch expr'`. Expressions are go:<Benchmark>:<unit> or py:<json key>,
# or a difference of two (see scripts/benchtable). To add a section (say GPT-2 training
# tokens/s), write a function like section_torch_ops and call it below.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
export PKG_CONFIG_PATH="$root/build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" # the shim of build/ (hiertorch.pc)

threads="${HIER_BENCH_THREADS:-2}"
benchtime="${HIER_BENCHTIME:-1s}"
count="${HIER_BENCH_COUNT:-3}"
python="${HIER_PYTHON:-/usr/bin/python3}"
if [ -n "${HIER_BENCH_OUT:-}" ]; then
  out="$HIER_BENCH_OUT"
  mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
go_out="$out/go_bench.txt"
: >"$go_out"
rm -f "$out"/py_*.json # stale rounds of an earlier run in $HIER_BENCH_OUT
rows=()
row() { rows+=(-row "$1"); }
log() { echo "bench: $*" >&2; }

have_python_torch() {
  # Run from / so that a ./torch directory cannot shadow the package.
  (cd / && "$python" -c 'import torch' >/dev/null 2>&1)
}

# ---- build ----
build() {
  if [ ! -f build/CMakeCache.txt ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build build -j"$(nproc)" >/dev/null
  go build ./torch/... >/dev/null
  log "built build/libhiertorch.so; threads=$threads benchtime=$benchtime count=$count"
}

# ---- section: single torch ops (torch/bench_test.go, scripts/bench_torch.py) ----
# The Go and Python runs alternate ($count rounds), so that drifts in the machine's speed (a
# shared VM) hit both sides alike; the table shows the median of each side and of the per-round
# ratio, the ratio's min–max, and flags a row whose ratios spread by more than 15% of the median.
section_torch_ops() {
  local py=1 i
  if ! have_python_torch; then
    py=0
    log "no PyTorch for $python (install python3-torch or set HIER_PYTHON); PyTorch column is n/a"
  fi
  for i in $(seq "$count"); do
    log "torch ops, round $i/$count: go test -bench 'TinyAdd|NativeAdd|Sgemm1024'"
    HIER_BENCH_THREADS="$threads" go test -run '^$' -bench 'TinyAdd|NativeAdd|Sgemm1024' \
      -benchtime "$benchtime" -count 1 ./torch/ | tee -a "$go_out" | grep '^Benchmark' >&2
    if [ "$py" = 1 ]; then
      log "torch ops, round $i/$count: $python scripts/bench_torch.py --threads $threads"
      (cd / && "$python" "$root/scripts/bench_torch.py" --threads "$threads") | tee "$out/py_torch_ops_$i.json" >&2
    fi
  done
  row "tiny add (1-element float32, result freed), ns/op|go:TinyAdd:ns/op|py:tiny_add_ns"
  row "native libtorch add (C++ loop, no binding), ns/op|go:NativeAdd:ns/op|"
  row "tiny-add overhead above native libtorch, ns/op (target ratio ≤ 0.50, goal 0.20)|go:TinyAdd:ns/op-go:NativeAdd:ns/op|py:tiny_add_ns-go:NativeAdd:ns/op"
  row "tiny add, 64 results alive then released (hier: a Scope closed every 64 adds; PyTorch: a list dropped every 64), ns/op|go:TinyAddScoped:ns/op|py:tiny_add_batched_ns"
  row "sgemm 1024×1024 float32, GFLOP/s (target ratio ≥ 0.95)|go:Sgemm1024:GFLOP/s|py:sgemm_gflops"
}

build
section_torch_ops
# (further sections go here; the GPT-2 table follows at the end)

py_files=()
# In round order (py_x_2 before py_x_10): benchtable pairs the i-th file with the i-th Go run.
while IFS= read -r f; do
  [ -n "$f" ] && py_files+=(-py "$f")
done < <(cd "$out" && ls -1 py_*.json 2>/dev/null | sort -V | sed "s|^|$out/|")
echo
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
pyver="$(cd / && "$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'n/a')"
go run ./scripts/benchtable -go "$go_out" "${py_files[@]}" "${rows[@]}" \
  -caption "hier vs PyTorch eager: ${cpu:-$(uname -m)}, $(nproc) CPUs, $threads intra-op threads, go test -benchtime $benchtime, $count alternating rounds (Go, then Python); hier and PyTorch columns: median over rounds; ratio: hier/PyTorch per round, median and min–max over rounds; flag: (max−min)/median of the ratios > 0.15; PyTorch $pyver"

# ---- GPT-2 training and forward throughput (separate table; see scripts/bench_gpt2.sh) ----
if [ "${HIER_BENCH_SKIP_GPT2:-}" = 1 ]; then
  log "skipping the GPT-2 table (HIER_BENCH_SKIP_GPT2=1)"
elif have_python_torch; then
  echo
  HIER_BENCH_THREADS="$threads" bash scripts/bench_gpt2.sh
  if [ "${HIER_BENCH_SKIP_BF16:-}" != 1 ]; then
    echo
    HIER_BENCH_THREADS="$threads" HIER_BENCH_PRECISION=bf16-vs-fp32 HIER_BENCH_CASES="${HIER_BENCH_BF16_CASES:-a}" \
      bash scripts/bench_gpt2.sh
  fi
else
  log "skipping the GPT-2 table: $python has no torch (make bench installs python3-torch)"
fi
