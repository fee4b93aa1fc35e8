#!/usr/bin/env bash
# GPT-2 throughput of hier (Go, hier/gpt2/bench_test.go) beside the same model in PyTorch eager
# (scripts/bench_gpt2.py, HF modeling_gpt2.py semantics), on the same libtorch and thread count,
# measured in this one run. Each measurement runs in its own process so peak RSS is its own.
#
# Each (case, workload) is measured in HIER_BENCH_ROUNDS rounds that alternate the two sides
# (hier, PyTorch, hier, PyTorch, ...), so that drifts in the machine's speed (a shared VM) hit
# both alike. A row shows the median tokens/s of each side, the median over rounds of the
# per-round ratio hier/PyTorch and its min–max, the peak RSS of each side (max over rounds),
# and the flag "rounds disagree" when (max ratio − min ratio)/median ratio > 0.15.
#
#   HIER_BENCH_THREADS (default 2)   HIER_BENCH_STEPS (default 3)   HIER_BENCH_CASES (default "a b")
#   HIER_BENCH_ROUNDS (default 3)
#   HIER_BENCH_PRECISION (default fp32): fp32, or bf16 for both sides under autocast mixed
#     precision (hier: HIER_BENCH_AUTOCAST=bfloat16, PyTorch: torch.autocast), or bf16-vs-fp32 for
#     a table of each side's bf16/fp32 throughput ratio (per round: hier fp32, PyTorch fp32, hier
#     bf16, PyTorch bf16)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
export PKG_CONFIG_PATH="$root/build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" # the shim of build/ (hiertorch.pc)
threads="${HIER_BENCH_THREADS:-2}"
steps="${HIER_BENCH_STEPS:-3}"
cases="${HIER_BENCH_CASES:-a b}"
rounds="${HIER_BENCH_ROUNDS:-3}"
export HIER_BENCH_THREADS="$threads"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/gpt2.test" ./hier/gpt2/ >/dev/null

precision="${HIER_BENCH_PRECISION:-fp32}"
case "$precision" in fp32 | bf16 | bf16-vs-fp32) ;; *) echo "bench_gpt2: HIER_BENCH_PRECISION=$precision: want fp32, bf16 or bf16-vs-fp32" >&2; exit 2 ;; esac

go_measure() { # bench-name case [autocast dtype] -> "tokens/s peak_rss_MB" ("nan nan" if the benchmark failed)
  HIER_BENCH_AUTOCAST="${3:-}" "$tmp/gpt2.test" -test.run '^$' -test.bench "^Benchmark$1\$/^$2\$" -test.benchtime "${steps}x" 2>/dev/null |
    awk 'BEGIN { t = "nan"; r = "nan" } /tokens\/s/ { for (i = 1; i <= NF; i++) { if ($(i) == "tokens/s") t = $(i-1); if ($(i) == "peak_rss_MB") r = $(i-1) } } END { print t, r }' || true
}
py_measure() { # mode case [autocast dtype] -> "tokens/s peak_rss_MB" ("nan nan" if the run failed)
  { /usr/bin/python3 scripts/bench_gpt2.py --mode "$1" --case "$2" --threads "$threads" --steps "$steps" ${3:+--autocast "$3"} || true; } |
    /usr/bin/python3 -c '
import json, sys
try:
    d = json.load(sys.stdin); print(d["tokens_per_s"], d["peak_rss_mb"])
except Exception:
    print("nan nan")'
}

# summarize "label" then one line per round "hier_tok hier_rss torch_tok torch_rss" on stdin ->
# a table row (medians, per-round ratio median and min–max, max RSS, flag).
summarize() {
  /usr/bin/python3 -c '
import math, statistics, sys
label = sys.argv[1]
rows = [[float(x) for x in l.split()] for l in sys.stdin if l.strip()]
def col(i): return [r[i] for r in rows if not math.isnan(r[i])]
def med(v, fmt): return format(statistics.median(v), fmt) if v else "n/a"
def mx(v): return format(max(v), ".0f") if v else "n/a"
ratios = [r[0] / r[2] for r in rows if not math.isnan(r[0]) and not math.isnan(r[2]) and r[2] != 0]
ratio = spread = "n/a"
flag = ""
if ratios:
    m, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    ratio, spread = format(m, ".2f"), "%.2f–%.2f" % (lo, hi)
    if m != 0 and (hi - lo) / abs(m) > 0.15:
        flag = "rounds disagree"
if len(ratios) < len(rows):
    flag = (flag + "; " if flag else "") + "%d of %d rounds failed" % (len(rows) - len(ratios), len(rows))
print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (label, med(col(0), ".0f"), med(col(2), ".0f"),
      ratio, spread, mx(col(1)), mx(col(3)), flag))
' "$1"
}

# summarize_bf16 "label" then one line per round "hier_fp32 hier_bf16 torch_fp32 torch_bf16" (tokens/s)
# -> a row of each side's median tokens/s and median (min–max) bf16/fp32 ratio, and hier/PyTorch at bf16.
summarize_bf16() {
  /usr/bin/python3 -c '
import math, statistics, sys
label = sys.argv[1]
rows = [[float(x) for x in l.split()] for l in sys.stdin if l.strip()]
def ok(*v): return all(not math.isnan(x) and x != 0 for x in v)
def med(i):
    v = [r[i] for r in rows if not math.isnan(r[i])]
    return format(statistics.median(v), ".0f") if v else "n/a"
def ratio(a, b):
    v = [r[a] / r[b] for r in rows if ok(r[a], r[b])]
    if not v:
        return "n/a", ""
    m, lo, hi = statistics.median(v), min(v), max(v)
    return "%.2f (%.2f–%.2f)" % (m, lo, hi), ("rounds disagree" if (hi - lo) / m > 0.15 else "")
hr, hf = ratio(1, 0)
pr, pf = ratio(3, 2)
xr, xf = ratio(1, 3)
flags = "; ".join(sorted({f for f in (hf, pf, xf) if f}))
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (label, med(0), med(1), hr, med(2), med(3), pr, xr, flags))
' "$1"
}

# each_row log_prefix round_fn summarize_fn: for every case and workload, runs
# `round_fn bench_name py_mode case` (one line of figures) in $rounds rounds and prints the row
# that summarize_fn makes of them.
each_row() {
  local prefix=$1 round_fn=$2 summarize_fn=$3 c w gb pm label r
  for c in $cases; do
    for w in "${workloads[@]}"; do
      set -- $w
      gb=$1; pm=$2; shift 2; label="$*"
      : >"$tmp/rounds"
      for r in $(seq "$rounds"); do
        echo "bench_gpt2: ${prefix}case $c, $label, round $r/$rounds" >&2
        "$round_fn" "$gb" "$pm" "$c" >>"$tmp/rounds"
      done
      "$summarize_fn" "$c | $label" <"$tmp/rounds"
    done
  done
}

workloads=("GPT2TrainClassifier train_cls train (seq-cls)" "GPT2TrainLM train_lm train (causal LM)" "GPT2Forward forward forward-only")
if [ "$precision" = bf16-vs-fp32 ]; then
  echo "### bf16 autocast vs fp32 (threads=$threads, $steps timed steps after 1 warm-up; length 128)"
  echo
  echo "$rounds rounds per row; each round runs hier fp32, PyTorch fp32, hier bf16, PyTorch bf16 (each its own process)." \
    "bf16 = autocast mixed precision (hier: --precision bf16 / torch.Autocast; PyTorch: torch.autocast), parameters float32." \
    "Ratios: median (min–max) over rounds of the per-round ratio."
  echo
  echo "| case | workload | hier fp32 tok/s | hier bf16 tok/s | hier bf16/fp32 | PyTorch fp32 tok/s | PyTorch bf16 tok/s | PyTorch bf16/fp32 | hier/PyTorch at bf16 | flag |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
  bf16_round() { # gb pm case -> "hier_fp32 hier_bf16 torch_fp32 torch_bf16"
    local g32 p32 g16 p16
    read -r g32 _ < <(go_measure "$1" "$3")
    read -r p32 _ < <(py_measure "$2" "$3")
    read -r g16 _ < <(go_measure "$1" "$3" bfloat16)
    read -r p16 _ < <(py_measure "$2" "$3" bfloat16)
    echo "$g32 $g16 $p32 $p16"
  }
  each_row "bf16 vs fp32, " bf16_round summarize_bf16
  exit 0
fi
autocast=""
[ "$precision" = bf16 ] && autocast=bfloat16

echo "### GPT-2 throughput, $precision (threads=$threads, $steps timed steps after 1 warm-up; (a) 4x4x256 batch 16, (b) 12x12x768 batch 8; length 128)"
echo
echo "$rounds rounds per row, alternating hier and PyTorch (each run its own process). Tokens/s: median over rounds;" \
  "ratio: hier/PyTorch per round, median and min–max over rounds; peak RSS: max over rounds;" \
  "flag: (max−min)/median of the ratios > 0.15."
echo
echo "| case | workload | hier tokens/s | PyTorch eager tokens/s | ratio | ratio min–max | hier peak RSS MB | PyTorch peak RSS MB | flag |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
fp_round() { # gb pm case -> "hier_tok hier_rss torch_tok torch_rss"
  local gt gr pt pr
  read -r gt gr < <(go_measure "$1" "$3" $autocast)
  read -r pt pr < <(py_measure "$2" "$3" $autocast)
  echo "$gt $gr $pt $pr"
}
each_row "" fp_round summarize
