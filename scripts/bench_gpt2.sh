#!/usr/bin/env bash
# GPT-2 throughput of hier (Go, hier/gpt2/bench_test.go) beside the same model in PyTorch eager
# (scripts/bench_gpt2.py, HF modeling_gpt2.py semantics), on the same libtorch and thread count,
# measured in this one run. Each measurement runs in its own process so peak RSS is its own.
#   HIER_BENCH_THREADS (default 2)   HIER_BENCH_STEPS (default 3)   HIER_BENCH_CASES (default "a b")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
threads="${HIER_BENCH_THREADS:-2}"
steps="${HIER_BENCH_STEPS:-3}"
cases="${HIER_BENCH_CASES:-a b}"
export HIER_BENCH_THREADS="$threads"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/gpt2.test" ./hier/gpt2/ >/dev/null

go_measure() { # bench-name case -> "tokens/s peak_rss_MB"
  "$tmp/gpt2.test" -test.run '^$' -test.bench "^Benchmark$1\$/^$2\$" -test.benchtime "${steps}x" 2>/dev/null |
    awk '/tokens\/s/ { for (i = 1; i <= NF; i++) { if ($(i) == "tokens/s") t = $(i-1); if ($(i) == "peak_rss_MB") r = $(i-1) } } END { print t, r }'
}
py_measure() { # mode case -> "tokens/s peak_rss_MB"
  /usr/bin/python3 scripts/bench_gpt2.py --mode "$1" --case "$2" --threads "$threads" --steps "$steps" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tokens_per_s"], d["peak_rss_mb"])'
}

echo "### GPT-2 throughput (threads=$threads, $steps timed steps after 1 warm-up; (a) 4x4x256 batch 16, (b) 12x12x768 batch 8; length 128)"
echo
echo "| case | workload | hier tokens/s | PyTorch eager tokens/s | ratio | hier peak RSS MB | PyTorch peak RSS MB |"
echo "|---|---|---:|---:|---:|---:|---:|"
for c in $cases; do
  for w in "GPT2TrainClassifier train_cls train (seq-cls)" "GPT2TrainLM train_lm train (causal LM)" "GPT2Forward forward forward-only"; do
    set -- $w
    gb=$1; pm=$2; shift 2; label="$*"
    read -r gt gr < <(go_measure "$gb" "$c")
    read -r pt pr < <(py_measure "$pm" "$c")
    ratio=$(awk -v a="$gt" -v b="$pt" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %.0f | %.0f | %s | %.0f | %.0f |\n' "$c" "$label" "$gt" "$pt" "$ratio" "$gr" "$pr"
  done
done
