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

go_measure() { # bench-name case -> "tokens/s peak_rss_MB" ("nan nan" if the benchmark failed)
  "$tmp/gpt2.test" -test.run '^$' -test.bench "^Benchmark$1\$/^$2\$" -test.benchtime "${steps}x" 2>/dev/null |
    awk 'BEGIN { t = "nan"; r = "nan" } /tokens\/s/ { for (i = 1; i <= NF; i++) { if ($(i) == "tokens/s") t = $(i-1); if ($(i) == "peak_rss_MB") r = $(i-1) } } END { print t, r }' || true
}
py_measure() { # mode case -> "tokens/s peak_rss_MB" ("nan nan" if the run failed)
  { /usr/bin/python3 scripts/bench_gpt2.py --mode "$1" --case "$2" --threads "$threads" --steps "$steps" || true; } |
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

echo "### GPT-2 throughput (threads=$threads, $steps timed steps after 1 warm-up; (a) 4x4x256 batch 16, (b) 12x12x768 batch 8; length 128)"
echo
echo "$rounds rounds per row, alternating hier and PyTorch (each run its own process). Tokens/s: median over rounds;" \
  "ratio: hier/PyTorch per round, median and min–max over rounds; peak RSS: max over rounds;" \
  "flag: (max−min)/median of the ratios > 0.15."
echo
echo "| case | workload | hier tokens/s | PyTorch eager tokens/s | ratio | ratio min–max | hier peak RSS MB | PyTorch peak RSS MB | flag |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for c in $cases; do
  for w in "GPT2TrainClassifier train_cls train (seq-cls)" "GPT2TrainLM train_lm train (causal LM)" "GPT2Forward forward forward-only"; do
    set -- $w
    gb=$1; pm=$2; shift 2; label="$*"
    : >"$tmp/rounds"
    for r in $(seq "$rounds"); do
      echo "bench_gpt2: case $c, $label, round $r/$rounds" >&2
      read -r gt gr < <(go_measure "$gb" "$c")
      read -r pt pr < <(py_measure "$pm" "$c")
      echo "$gt $gr $pt $pr" >>"$tmp/rounds"
    done
    summarize "$c | $label" <"$tmp/rounds"
  done
done
