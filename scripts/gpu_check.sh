#!/usr/bin/env bash
# One-shot GPU check of hier: prepared on a CPU machine with Go, run in ONE call on a lent GPU
# machine that has no Go toolchain, no internet and no ../shared directory.
#
#   bash scripts/gpu_check.sh prepare
#       Here (Go, the CPU shim in build/, ../shared/golden): writes gpucheck/ (git-ignored), which
#       then travels with the working tree as an ignored path ("carry": gpucheck):
#         gpucheck/torch.test, gpucheck/gpt2.test   test binaries of ./torch and ./hier/gpt2
#         gpucheck/hier                            the CLI, for the whole pipeline (hier demo) there
#                                                  (go test -c, linked through build/pkgconfig/
#                                                  hiertorch.pc; they load libhiertorch.so at run
#                                                  time, found through LD_LIBRARY_PATH there, which
#                                                  wins over their RUNPATH to this build/)
#         gpucheck/golden/                         the golden files the parity tests read
#         gpucheck/vocab/                          the GPT-2 vocabulary (third_party/gpt2), if present
#         gpucheck/MANIFEST                        sizes, sha256, commit, Go and libtorch versions
#
#   bash scripts/gpu_check.sh run
#       There, from the repository root (output also kept in $OUT, else gpucheck-out/):
#         1. runtime: nvidia-smi, PyTorch's view of the GPU;
#         2. builds the shim against the CUDA libtorch of the Python wheel into build-cuda/
#            (cmake + ninja, TORCH_CUDA_ARCH_LIST=9.0 unless set); if device.cpp's CUDA memory
#            statistics do not compile there, rebuilds without them (hier peak memory is then n/a);
#         3. golden parity tests on the device (HIER_TEST_DEVICE=cuda, HIER_GOLDEN_DIR=gpucheck/golden,
#            NVIDIA_TF32_OVERRIDE=0): torch (TorchScript trace, GELU, AdamW step, runtime/CUDA
#            checks) and hier/gpt2 (TestGolden*: forward, regression head, gradients, two AdamW
#            steps, base checkpoint + trace, activation), tolerances of ../shared/golden/README.md;
#         3b. the whole pipeline on the device: `hier demo --device cuda --json` (pre-training,
#            both heads, features, every recommender with 3 seeds), its table and stage times;
#         4. GPT-2 throughput, hier (hier/gpt2/bench_test.go) and PyTorch eager
#            (scripts/bench_gpt2.py) alternating, $ROUNDS rounds, cases (a) and (b), workloads
#            train_lm, train_cls, forward, in float32 and bfloat16 (parameters and activations in
#            that dtype on both sides, no autocast);
#         5. ONE markdown table (scripts/gpu_check_table.py; MFU formula there), also written to
#            $OUT/gpu_check_table.md, and a PASS/FAIL summary of the steps.
#       It keeps going after a failed step, so that the table and the logs always come back.
#       Budget: the whole run is meant to fit in 8 minutes on an H200 with 16 cores (shim build
#       ~1-3 min, tests <1 min, bench ~2-3 min); rounds that would start past
#       HIER_GPU_CHECK_BUDGET_S (default 390 s after the start) are skipped and the table says so.
#
# Environment of `run` (defaults in brackets):
#   HIER_GPU_CHECK_DEVICE      device for tests and bench [cuda]; cpu simulates the run here
#   HIER_GPU_CHECK_SKIP_BUILD  1: use the existing build/ shim instead of building build-cuda/ [0]
#   HIER_GPU_CHECK_ROUNDS [3]  HIER_GPU_CHECK_WARMUP [3]  HIER_GPU_CHECK_STEPS [10] (timed steps)
#   HIER_GPU_CHECK_CASES ["a b"]  HIER_GPU_CHECK_DTYPES ["float32 bfloat16"]
#   HIER_GPU_CHECK_WORKLOADS ["train_lm train_cls forward"]
#   HIER_GPU_CHECK_THREADS     libtorch intra-op threads on both sides [4]
#   HIER_GPU_CHECK_PYTHON      Python with torch [python3]
#   HIER_GPU_CHECK_BUDGET_S    no bench round starts after this many seconds [390]
#   HIER_GPU_CHECK_PEAK_TFLOPS peak for MFU [989, H200 dense bf16]
#   HIER_GPU_CHECK_FULL_TESTS  1: also run the complete torch and hier/gpt2 test binaries [0]
#   HIER_GPU_CHECK_TESTS [1]   0: skip the golden parity tests
#   HIER_GPU_CHECK_DEMO [1]    0: skip the pipeline run (hier demo); ROUNDS=0 skips the bench
#   HIER_GPU_CHECK_JOBS        parallel compile jobs of the shim build [nproc]
#   HIER_GPU_CHECK_BUILD_TIMEOUT_S  limit of each shim build attempt [300]
#   HIER_GPU_CHECK_CMAKE_ARGS  extra arguments of the shim's cmake configure step (word-split)
#
# Simulation on the CPU machine (shape only: tiny step counts, the CPU shim, no PyTorch unless
# /usr/bin/python3 has torch):
#   bash scripts/gpu_check.sh prepare
#   HIER_GPU_CHECK_DEVICE=cpu HIER_GPU_CHECK_SKIP_BUILD=1 HIER_GPU_CHECK_PYTHON=/usr/bin/python3 \
#     HIER_GPU_CHECK_ROUNDS=1 HIER_GPU_CHECK_WARMUP=1 HIER_GPU_CHECK_STEPS=1 HIER_GPU_CHECK_CASES=a \
#     OUT=/tmp/gpucheck-sim bash scripts/gpu_check.sh run
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pack="$root/gpucheck"

log() { echo "gpu_check: $*" >&2; }

prepare() {
  set -e
  export PATH="$PATH:/usr/local/go/bin"
  export PKG_CONFIG_PATH="$root/build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" # link the CPU shim of build/
  local golden="${HIER_GOLDEN_DIR:-$root/../shared/golden}"
  [ -f "$golden/golden.safetensors" ] || { log "no golden data at $golden"; exit 1; }
  [ -f build/libhiertorch.so ] || { log "build/libhiertorch.so missing: build the shim first (make shim)"; exit 1; }
  rm -rf "$pack"
  mkdir -p "$pack/golden/gpt2-tiny" "$pack/golden/gpt2-tiny-base"
  log "go test -c ./torch/ ./hier/gpt2/ (stripped)"
  go test -c -ldflags='-s -w' -o "$pack/torch.test" ./torch/
  go test -c -ldflags='-s -w' -o "$pack/gpt2.test" ./hier/gpt2/
  go build -ldflags='-s -w' -o "$pack/hier" ./cmd/hier
  # Only what the tests read (README.md is there for the tolerances it documents).
  cp "$golden/golden.safetensors" "$golden/golden.json" "$golden/tokenizer_cases.json" "$golden/README.md" "$pack/golden/"
  cp "$golden/gpt2-tiny/config.json" "$golden/gpt2-tiny/model.safetensors" "$golden/gpt2-tiny/backbone.traced.pt" "$pack/golden/gpt2-tiny/"
  cp "$golden/gpt2-tiny-base/config.json" "$golden/gpt2-tiny-base/model.safetensors" "$pack/golden/gpt2-tiny-base/"
  if [ -f third_party/gpt2/vocab.json ] && [ -f third_party/gpt2/merges.txt ]; then
    mkdir -p "$pack/vocab"
    cp third_party/gpt2/vocab.json third_party/gpt2/merges.txt "$pack/vocab/"
  fi
  {
    echo "prepared $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git rev-parse HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "$(go version); CPU shim libtorch: $(grep -m1 -o '"[0-9.]*"' /usr/include/torch/csrc/api/include/torch/version.h 2>/dev/null || echo '?')"
    echo "test binaries need: $(readelf -d "$pack/torch.test" 2>/dev/null | awk '/NEEDED/ {printf "%s ", $NF}')"
    (cd "$pack" && find . -type f ! -name MANIFEST -printf '%s %p\n' | sort -k2)
    (cd "$pack" && find . -type f ! -name MANIFEST -print0 | sort -z | xargs -0 sha256sum)
  } >"$pack/MANIFEST"
  local kb
  kb=$(du -sk "$pack" | cut -f1)
  du -sh "$pack"
  if [ "$kb" -gt $((60 * 1024)) ]; then
    log "gpucheck/ is $((kb / 1024)) MiB, over the 60 MiB carry budget"
    exit 1
  fi
  log "ready: carry gpucheck; then run: bash scripts/gpu_check.sh run"
}

# ---------------------------------------------------------------------------------------------

device="${HIER_GPU_CHECK_DEVICE:-cuda}"
rounds="${HIER_GPU_CHECK_ROUNDS:-3}"
warmup="${HIER_GPU_CHECK_WARMUP:-3}"
steps="${HIER_GPU_CHECK_STEPS:-10}"
cases="${HIER_GPU_CHECK_CASES:-a b}"
dtypes="${HIER_GPU_CHECK_DTYPES:-float32 bfloat16}"
workloads="${HIER_GPU_CHECK_WORKLOADS:-train_lm train_cls forward}"
threads="${HIER_GPU_CHECK_THREADS:-4}"
python="${HIER_GPU_CHECK_PYTHON:-python3}"
budget="${HIER_GPU_CHECK_BUDGET_S:-390}"
peak_tflops="${HIER_GPU_CHECK_PEAK_TFLOPS:-989}"
jobs="${HIER_GPU_CHECK_JOBS:-$(nproc)}"
build_timeout="${HIER_GPU_CHECK_BUILD_TIMEOUT_S:-300}"

summary=()
note() { summary+=("$1"); log "$1"; }

# step NAME CMD...: runs CMD (a command or a function of this script; the external commands in
# them run under `timeout`), records PASS/FAIL in the summary, returns CMD's status. With
# failed=WARN in its environment a failure is recorded as WARN (a step that has a fallback).
step() {
  local name="$1" rc start=$SECONDS
  shift
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    note "PASS $name ($((SECONDS - start)) s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    note "${failed:-FAIL} $name: timed out ($((SECONDS - start)) s)"
  else
    note "${failed:-FAIL} $name: exit $rc ($((SECONDS - start)) s)"
  fi
  return $rc
}

# to S LOG CMD...: CMD under a timeout of S seconds, stdout and stderr to LOG.
to() {
  local t="$1" logf="$2"
  shift 2
  timeout -k 10 "$t" "$@" >"$logf" 2>&1
}

py_torch() { (cd / && "$python" -c "$1") 2>/dev/null; }

build_shim() { # -> sets libdir
  local prefix gen=() dir=build-cuda
  prefix="$(py_torch 'import torch; print(torch.utils.cmake_prefix_path)')" || prefix=""
  if [ -z "$prefix" ]; then
    note "FAIL shim build: $python has no torch (no CUDA libtorch to build against)"
    return 1
  fi
  command -v ninja >/dev/null && gen=(-G Ninja)
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" # H200 = sm_90; skips TorchConfig's GPU probe
  # shellcheck disable=SC2206 # word splitting of the extra arguments is wanted
  local cfg=(-S . -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release "${gen[@]}" ${HIER_GPU_CHECK_CMAKE_ARGS:-})
  rm -rf "$dir"
  if ! failed=WARN step "shim configure (CUDA libtorch)" to 180 "$out/cmake_configure.log" cmake -B "$dir" "${cfg[@]}"; then
    tail -40 "$out/cmake_configure.log" >&2
    log "retrying the configure step without the NVTX compatibility target"
    rm -rf "$dir"
    step "shim configure, -DHIER_NVTX_COMPAT=OFF" to 180 "$out/cmake_configure2.log" cmake -B "$dir" "${cfg[@]}" -DHIER_NVTX_COMPAT=OFF ||
      { tail -40 "$out/cmake_configure2.log" >&2; return 1; }
  fi
  grep -E '^-- (hier|Found Torch|Found CUDA|PyTorch:)' "$out/cmake_configure.log" "$out/cmake_configure2.log" 2>/dev/null | sed 's/^[^:]*://' >&2
  if ! failed=WARN step "shim build (with CUDA memory statistics)" to "$build_timeout" "$out/cmake_build.log" cmake --build "$dir" -j"$jobs"; then
    grep -m20 -E 'error|Error' "$out/cmake_build.log" >&2
    log "retrying the build without the CUDA memory statistics (-DHIER_CUDA_MEMSTATS=OFF)"
    to 120 "$out/cmake_configure3.log" cmake -B "$dir" -DHIER_CUDA_MEMSTATS=OFF
    step "shim build, -DHIER_CUDA_MEMSTATS=OFF" to "$build_timeout" "$out/cmake_build2.log" cmake --build "$dir" -j"$jobs" ||
      { grep -m40 -E 'error|Error' "$out/cmake_build2.log" >&2; return 1; }
    go_peak_note="hier peak GPU memory n/a: device.cpp's CUDA memory statistics did not compile against this libtorch (see cmake_build.log)"
  fi
  libdir="$root/$dir"
}

run_tests() { # PACKAGE_DIR BINARY PATTERN TIMEOUT_S [LOG_SUFFIX]
  local pkg="$1" bin="$2" pat="$3" name
  name="$(basename "$bin" .test)"
  (cd "$pkg" && HIER_TEST_DEVICE="$device" HIER_GOLDEN_DIR="$pack/golden" NVIDIA_TF32_OVERRIDE=0 \
    to "$4" "$out/test_${name}${5:-}.log" "$bin" -test.v -test.count 1 -test.run "$pat")
  local rc=$?
  grep -E '^(--- |ok|PASS|FAIL|panic)|device_test.go.*libtorch' "$out/test_${name}${5:-}.log" | sed 's/^/  /' >&2
  [ $rc -ne 0 ] && tail -30 "$out/test_${name}${5:-}.log" >&2
  return $rc
}

go_bench() { # DTYPE ROUND
  local re="" w
  for w in $workloads; do
    case "$w" in
      train_lm) re="$re|TrainLM" ;;
      train_cls) re="$re|TrainClassifier" ;;
      forward) re="$re|Forward" ;;
    esac
  done
  (cd hier/gpt2 && HIER_BENCH_DEVICE="$device" HIER_BENCH_DTYPE="$1" HIER_BENCH_WARMUP="$warmup" \
    HIER_BENCH_THREADS="$threads" to 240 "$out/go_$1_r$2.txt" "$gpt2_bin" -test.run '^$' \
    -test.bench "^BenchmarkGPT2(${re#|})\$/^($(echo "$cases" | tr ' ' '|'))\$" -test.benchtime "${steps}x")
  local rc=$?
  grep '^Benchmark' "$out/go_$1_r$2.txt" | sed 's/^/  /' >&2
  [ $rc -ne 0 ] && tail -20 "$out/go_$1_r$2.txt" >&2
  return $rc
}

demo_run() {
  local b="$pack/hier"
  if [ ! -x "$b" ]; then
    b="$(mktemp -d)/hier" && cp "$pack/hier" "$b" && chmod +x "$b"
  fi
  timeout -k 10 300 "$b" demo --device "$device" --json --out "$out/demo-run" --log-level info >"$out/demo.json" 2>"$out/demo.log"
  local rc=$?
  python3 - "$out/demo.json" <<'PY' >&2 || tail -30 "$out/demo.log" >&2
import json, sys
d = json.load(open(sys.argv[1]))
print("  hier demo: wall %.1f s; stages %s" % (d["wall_seconds"], {k: round(v, 1) for k, v in d["timings_seconds"].items()}))
print("  served %s; NDCG@10 %s" % (d["served_method"], {m: round(r["ndcg@10"], 4) for m, r in d["ranking"].items()}))
PY
  rm -rf "$out/demo-run"
  return $rc
}

py_bench() { # DTYPE ROUND
  # From / so that the repository's torch/ directory cannot shadow the torch package.
  (cd / && timeout -k 10 240 "$python" "$root/scripts/bench_gpt2.py" --mode "$(echo "$workloads" | tr ' ' ',')" \
    --case "$(echo "$cases" | tr ' ' ',')" --device "$device" --dtype "$1" --threads "$threads" \
    --steps "$steps" --warmup "$warmup") >"$out/py_$1_r$2.jsonl" 2>"$out/py_$1_r$2.err"
  local rc=$?
  sed 's/^/  /' "$out/py_$1_r$2.jsonl" >&2
  [ $rc -ne 0 ] && tail -20 "$out/py_$1_r$2.err" >&2
  return $rc
}

run() {
  out="${OUT:-$root/gpucheck-out}"
  mkdir -p "$out"
  exec > >(tee "$out/gpu_check.log") 2>&1
  [ -f "$pack/gpt2.test" ] && [ -f "$pack/torch.test" ] ||
    { log "gpucheck/ is missing: run 'bash scripts/gpu_check.sh prepare' on the Go machine and carry gpucheck"; exit 1; }
  torch_bin="$pack/torch.test" gpt2_bin="$pack/gpt2.test"
  if [ ! -x "$torch_bin" ] || [ ! -x "$gpt2_bin" ]; then # the copy lost the executable bits
    local bindir
    bindir="$(mktemp -d)"
    cp "$torch_bin" "$gpt2_bin" "$bindir/" && chmod +x "$bindir"/*.test
    torch_bin="$bindir/torch.test" gpt2_bin="$bindir/gpt2.test"
  fi
  go_peak_note=""
  log "device=$device rounds=$rounds warmup=$warmup steps=$steps cases='$cases' dtypes='$dtypes' workloads='$workloads' threads=$threads python=$python"
  head -2 "$pack/MANIFEST" >&2
  log "machine: $(nproc) CPUs, $(uname -sr)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2
  local pyinfo
  pyinfo="$(py_torch 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available(), "devices", torch.cuda.device_count(), "allow_tf32 matmul", torch.backends.cuda.matmul.allow_tf32)')" ||
    pyinfo="no PyTorch for $python"
  log "$pyinfo"
  local py_ok=1
  case "$pyinfo" in "no PyTorch"*) py_ok=0 ;; esac

  # ---- 1. shim ----
  libdir=""
  if [ "${HIER_GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
    libdir="$root/build"
    note "SKIP shim build (HIER_GPU_CHECK_SKIP_BUILD=1): using $libdir"
  else
    build_shim || true
  fi
  if [ -z "$libdir" ] || [ ! -f "$libdir/libhiertorch.so" ]; then
    note "FAIL no libhiertorch.so: hier tests and bench skipped"
  else
    local torchlib
    torchlib="$(py_torch 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" || torchlib=""
    export LD_LIBRARY_PATH="$libdir${torchlib:+:$torchlib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    [ -d "$pack/vocab" ] && export HIER_VOCAB_DIR="$pack/vocab"

    # ---- 2. runtime check + golden parity on the device ----
    if [ "${HIER_GPU_CHECK_TESTS:-1}" = 1 ]; then
    step "torch: runtime + golden parity on $device" run_tests torch "$torch_bin" \
      'TestRuntimeInfo|TestParseDevice|TestCUDA|TestThreadsAndVersion|TestTorchScriptGolden|TestGeluTanhGolden|TestAdamWGoldenStep|TestGoldenSafetensors' 180
    step "hier/gpt2: golden parity (TestGolden*) on $device" run_tests hier/gpt2 "$gpt2_bin" '^TestGolden' 180
    fi
    if [ "${HIER_GPU_CHECK_DEMO:-1}" = 1 ] && [ -f "$pack/hier" ]; then
      step "pipeline: hier demo on $device" demo_run
    fi
    if [ "${HIER_GPU_CHECK_FULL_TESTS:-0}" = 1 ]; then
      step "torch: full test binary" run_tests torch "$torch_bin" '.' 300 _full
      step "hier/gpt2: full test binary" run_tests hier/gpt2 "$gpt2_bin" '.' 300 _full
    fi
  fi

  # ---- 3. bench: hier and PyTorch alternate, round by round ----
  local r dt done_rounds=0
  for r in $(seq "$rounds"); do
    if [ "$SECONDS" -gt "$budget" ]; then
      note "SKIP bench rounds $r..$rounds: past the ${budget} s budget"
      break
    fi
    for dt in $dtypes; do
      if [ -n "$libdir" ] && [ -f "$libdir/libhiertorch.so" ]; then
        step "bench hier $dt round $r" go_bench "$dt" "$r"
      fi
      if [ "$py_ok" = 1 ]; then
        step "bench PyTorch $dt round $r" py_bench "$dt" "$r"
      fi
    done
    done_rounds=$r
  done

  # ---- 4. the table ----
  if [ "$done_rounds" = 0 ]; then
    print_summary "; no bench rounds, no table"
    return
  fi
  local caption
  caption="$device, $(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo "$(nproc) CPUs"); ${pyinfo%% CUDA *}; hier shim on $(basename "${libdir:-none}"); $warmup warm-up + $steps timed steps, $done_rounds of $rounds rounds, $threads intra-op threads"
  echo
  (cd "$root" && /usr/bin/env python3 scripts/gpu_check_table.py --dir "$out" --peak-tflops "$peak_tflops" \
    --cases "$cases" --workloads "$workloads" --dtypes "$dtypes" --caption "$caption") | tee "$out/gpu_check_table.md"
  [ -n "$go_peak_note" ] && echo "- $go_peak_note" | tee -a "$out/gpu_check_table.md"
  [ "$device" != cpu ] || echo "- CPU simulation: GPU memory n/a and MFU meaningless (shape check only)" | tee -a "$out/gpu_check_table.md"
  print_summary ""
}

# print_summary NOTE: the PASS/FAIL list of the steps; returns 1 if any step failed.
print_summary() {
  echo
  echo "### gpu_check summary ($SECONDS s$1)"
  printf -- '- %s\n' "${summary[@]}"
  local fails=0 s
  for s in "${summary[@]}"; do case "$s" in FAIL*) fails=$((fails + 1)) ;; esac; done
  return $((fails > 0))
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash scripts/gpu_check.sh prepare|run (see the header of this script)" >&2; exit 2 ;;
esac
