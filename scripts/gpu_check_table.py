#!/usr/bin/env python3
"""Prints the GPT-2 throughput table of scripts/gpu_check.sh from its raw outputs (standard
library only, so that it also runs where Python has no torch).

Inputs, in --dir:
  go_<dtype>_r<round>.txt    output of hier/gpt2's test binary with -test.bench (bench_test.go)
  py_<dtype>_r<round>.jsonl  output of scripts/bench_gpt2.py, one JSON object per line

For every (case, workload, precision) the table shows the median tokens/s of each side over the
rounds, the median over rounds of the per-round ratio hier/PyTorch (the two sides alternate within
a round, so a drift in the machine's speed hits both alike), the peak GPU memory of each side
(torch.cuda.max_memory_allocated semantics: bytes held by tensors, not the allocator's cache),
and the model FLOPs utilisation of each side.

MFU = tokens/s x FLOPs per token / peak FLOP/s, with FLOPs per token counted from the matmuls
(L layers, width d, vocabulary V = 50257, sequence length T = 128; biases, LayerNorm, softmax,
GELU and the optimizer are not counted):
  N         = 12 L d^2                    weights of the blocks' matmuls (c_attn 3d^2, attn.c_proj
                                          d^2, c_fc 4d^2, mlp.c_proj 4d^2 per layer)
  train_lm  = 6 (N + V d) + 12 L T d      6 x params (forward 2, backward 4), the tied LM head
                                          counted as a V x d matmul; attention term: q.k^T and
                                          attention.v, 2 T d FLOPs each per token and layer in the
                                          forward pass over the full T x T score matrix (the
                                          implementations compute it all and mask), x3 for training
  train_cls = 6 N + 12 L T d              no LM head (the embedding lookup is not a matmul; the
                                          3-label score head is negligible)
  forward   = 2 N + 4 L T d               forward only
The peak is the accelerator's dense bf16 tensor-core rate (--peak-tflops, default 989 for an
H200); float32 rows are divided by the same peak, so their MFU shows how far float32 is from the
bf16 roof rather than a utilisation of the float32 units.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

VOCAB = 50257
SEQ = 128
CASES = {"a": (4, 4, 256, 16), "b": (12, 12, 768, 8)}  # layers, heads, n_embd, batch
GO_NAMES = {"GPT2TrainLM": "train_lm", "GPT2TrainClassifier": "train_cls", "GPT2Forward": "forward"}
WORKLOAD_LABEL = {"train_lm": "train (causal LM)", "train_cls": "train (seq-cls)", "forward": "forward-only"}
PREC_LABEL = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def flops_per_token(mode, case):
    layers, _, d, _ = CASES[case]
    n = 12 * layers * d * d
    attn = 4 * layers * SEQ * d
    if mode == "train_lm":
        return 6 * (n + VOCAB * d) + 3 * attn
    if mode == "train_cls":
        return 6 * n + 3 * attn
    return 2 * n + attn


def parse_go(path):
    """-> {(mode, case): {"tokens_per_s": x, "peak_gpu_mb": y or None}}"""
    out = {}
    line_re = re.compile(r"^Benchmark(GPT2\w+)/(\w+?)(?:-\d+)?\s+\d+\s+(.*)$")
    with open(path, errors="replace") as f:
        for line in f:
            m = line_re.match(line.strip())
            if not m or m.group(1) not in GO_NAMES:
                continue
            fields = m.group(3).split()
            metrics = {}
            for i in range(1, len(fields)):
                try:
                    metrics[fields[i]] = float(fields[i - 1])
                except ValueError:
                    pass
            if "tokens/s" in metrics:
                out[(GO_NAMES[m.group(1)], m.group(2))] = {
                    "tokens_per_s": metrics["tokens/s"], "peak_gpu_mb": metrics.get("peak_gpu_MB")}
    return out


def parse_py(path):
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            out[(d["mode"], d["case"])] = {"tokens_per_s": d["tokens_per_s"], "peak_gpu_mb": d.get("peak_gpu_mb"),
                                           "allow_tf32_matmul": d.get("allow_tf32_matmul"), "torch": d.get("torch"),
                                           "gpu": d.get("gpu")}
    return out


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--caption", default="")
    ap.add_argument("--cases", default="a b")
    ap.add_argument("--workloads", default="train_lm train_cls forward")
    ap.add_argument("--dtypes", default="float32 bfloat16")
    ap.add_argument("--go-note", default="", help="shown where a hier cell is n/a")
    a = ap.parse_args()
    peak = a.peak_tflops * 1e12

    go, py = {}, {}  # dtype -> round -> {(mode, case): ...}
    for p in glob.glob(os.path.join(a.dir, "go_*_r*.txt")):
        m = re.match(r"go_(\w+)_r(\d+)\.txt$", os.path.basename(p))
        if m:
            go.setdefault(m.group(1), {})[int(m.group(2))] = parse_go(p)
    for p in glob.glob(os.path.join(a.dir, "py_*_r*.jsonl")):
        m = re.match(r"py_(\w+)_r(\d+)\.jsonl$", os.path.basename(p))
        if m:
            py.setdefault(m.group(1), {})[int(m.group(2))] = parse_py(p)

    rows = []
    notes = set()
    for case in a.cases.split():
        for mode in a.workloads.split():
            for dt in a.dtypes.split():
                rounds = sorted(set(go.get(dt, {})) | set(py.get(dt, {})))
                g = [go[dt][r][(mode, case)] for r in rounds if (mode, case) in go.get(dt, {}).get(r, {})]
                p = [py[dt][r][(mode, case)] for r in rounds if (mode, case) in py.get(dt, {}).get(r, {})]
                ratios = [go[dt][r][(mode, case)]["tokens_per_s"] / py[dt][r][(mode, case)]["tokens_per_s"]
                          for r in rounds
                          if (mode, case) in go.get(dt, {}).get(r, {}) and (mode, case) in py.get(dt, {}).get(r, {})]
                gt = statistics.median([x["tokens_per_s"] for x in g]) if g else None
                pt = statistics.median([x["tokens_per_s"] for x in p]) if p else None
                gm = [x["peak_gpu_mb"] for x in g if x["peak_gpu_mb"] is not None]
                pm = [x["peak_gpu_mb"] for x in p if x["peak_gpu_mb"] is not None]
                for x in p:
                    if x.get("allow_tf32_matmul") is not None:
                        notes.add("PyTorch %s on %s, torch.backends.cuda.matmul.allow_tf32=%s" % (
                            x.get("torch"), x.get("gpu"), x["allow_tf32_matmul"]))
                f = flops_per_token(mode, case)
                n_rounds = "%d/%d" % (len(ratios), len(rounds)) if rounds else "0"
                rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    case, WORKLOAD_LABEL[mode], PREC_LABEL.get(dt, dt),
                    fmt(gt, ".0f") if gt is not None else ("n/a" + (" (%s)" % a.go_note if a.go_note else "")),
                    fmt(pt, ".0f"),
                    fmt(statistics.median(ratios) if ratios else None, ".2f"),
                    fmt(max(gm) if gm else None, ".0f"), fmt(max(pm) if pm else None, ".0f"),
                    fmt(gt * f / peak * 100 if gt else None, ".1f"), fmt(pt * f / peak * 100 if pt else None, ".1f"),
                    n_rounds))
    print("### GPT-2 on the accelerator: hier (Go) vs PyTorch eager" + (" — " + a.caption if a.caption else ""))
    print()
    print("| case | workload | precision | hier tokens/s | PyTorch tokens/s | ratio (median of rounds) "
          "| hier peak GPU MB | PyTorch peak GPU MB | hier MFU % | PyTorch MFU % | rounds |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(r)
    print()
    print("(a) 4 layers x 4 heads x 256, batch 16; (b) GPT-2 small 12 x 12 x 768, batch 8; length 128, vocab 50257. "
          "tokens/s and peak MB: median and max over the rounds; ratio: median of the per-round hier/PyTorch ratios. "
          "MFU against %.0f TFLOP/s (dense bf16 peak) for every row, fp32 included; FLOPs per token: "
          "train_lm 6(12Ld^2 + Vd) + 12LTd, train_cls 6*12Ld^2 + 12LTd, forward 2*12Ld^2 + 4LTd "
          "(scripts/gpu_check_table.py)." % a.peak_tflops)
    for n in sorted(notes):
        print("- " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
