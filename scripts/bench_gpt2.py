#!/usr/bin/env python3
"""GPT-2 in PyTorch eager, written the way Hugging Face's modeling_gpt2.py (eager attention path)
computes it, for a side-by-side benchmark with hier's Go implementation (hier/gpt2/bench_test.go)
on the same libtorch and thread count.

Semantics follow HF: Conv1D layers (x @ W + b via addmm, W [in, out]); GELU "gelu_new" as the
Python expression HF's NewGELUActivation evaluates; attention scores divided by sqrt(head_dim),
causal mask applied with torch.where and finfo.min; dropout 0.1 (HF's default) in train mode;
sequence-classification head `score` without bias pooled at the last non-pad token; causal-LM
loss on shifted logits of the head tied to wte. Optimiser: torch.optim.AdamW, gradients set to None
before each backward (zero_grad(set_to_none=True)), as hier's AdamW.ZeroGrad does.

Usage: bench_gpt2.py --mode train_cls|train_lm|forward --case a|b --threads N --steps K
                     [--warmup W] [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16]
                     [--autocast bfloat16|float16]
Prints one JSON object per line: {"mode", "case", "device", "dtype", "tokens_per_s", "peak_rss_mb",
"peak_gpu_mb", "steps", "warmup", "seconds", ...}. --mode and --case also take comma-separated
lists (every mode for every case, one line each, in one process); on CUDA the peak memory of each
line is its own (torch.cuda.reset_peak_memory_stats before each model is built; peak_gpu_mb is
torch.cuda.max_memory_allocated, the same statistic hier reports). On the CPU, peak_rss_mb is the
process's and grows over the lines: give one mode and one case per process there.

On CUDA the clock is read after torch.cuda.synchronize(), before the first timed step and after
the last. The dtype is that of every parameter and activation (model.to(dtype)), as hier does with
a bfloat16 model; --autocast instead keeps the parameters in --dtype and runs the forward pass and
loss under torch.autocast (mixed precision), as hier's HIER_BENCH_AUTOCAST / --precision bf16. TF32 stays at PyTorch's default (off for float32 matmuls);
the JSON records it.
"""
import argparse
import contextlib
import gc
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = {"a": (4, 4, 256, 16), "b": (12, 12, 768, 8)}
SEQ = 128
VOCAB = 50257
PAD = 50256


class Conv1D(nn.Module):
    def __init__(self, n_out, n_in):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.n_out = n_out

    def forward(self, x):
        shape = x.size()[:-1] + (self.n_out,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(shape)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, d, h, n_pos):
        super().__init__()
        self.h, self.d = h, d
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)
        self.register_buffer("bias", torch.tril(torch.ones(n_pos, n_pos, dtype=torch.bool)).view(1, 1, n_pos, n_pos), persistent=False)

    def split(self, t):
        b, s, _ = t.size()
        return t.view(b, s, self.h, self.d // self.h).permute(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype, device=w.device)
        s = q.size(-2)
        causal = self.bias[:, :, :s, :s]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype, device=w.device))
        w = self.attn_dropout(F.softmax(w, dim=-1))
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        o = o.view(o.size(0), o.size(1), self.d)
        return self.resid_dropout(self.c_proj(o))


class MLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = Conv1D(4 * d, d)
        self.c_proj = Conv1D(d, 4 * d)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, d, h, n_pos):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(d, h, n_pos)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, layers, heads, d, n_pos=1024, labels=3):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, d)
        self.wpe = nn.Embedding(n_pos, d)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.02)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList([Block(d, heads, n_pos) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.score = nn.Linear(d, labels, bias=False)

    def hidden(self, ids):
        pos = torch.arange(0, ids.size(-1), dtype=torch.long, device=ids.device).unsqueeze(0)
        x = self.drop(self.wte(ids) + self.wpe(pos))
        for b in self.h:
            x = b(x)
        return self.ln_f(x)

    def cls_loss(self, ids, labels):
        logits = self.score(self.hidden(ids))
        last = (torch.eq(ids, PAD).int().argmax(-1) - 1) % ids.size(-1)
        pooled = logits[torch.arange(ids.size(0), device=ids.device), last]
        return F.cross_entropy(pooled, labels)

    def lm_loss(self, ids):
        logits = F.linear(self.hidden(ids), self.wte.weight)
        shift_logits = logits[..., :-1, :].contiguous()
        shift_labels = ids[..., 1:].contiguous()
        return F.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def measure(mode, case, device, dtype, steps, warmup, autocast=None):
    cuda = device.type == "cuda"
    torch.manual_seed(1)
    layers, heads, d, batch = CASES[case]
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    model = GPT2(layers, heads, d).to(device=device, dtype=dtype)
    n = batch * SEQ
    ids = torch.tensor([(i * 7919 + 13) % 50000 for i in range(n)], dtype=torch.long).view(batch, SEQ).to(device)
    labels = torch.tensor([i % 3 for i in range(batch)], dtype=torch.long).to(device)
    def amp():
        # torch.autocast around the forward pass and loss (backward outside), or nothing.
        if autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=autocast)

    if mode == "forward":
        model.eval()

        def step():
            with torch.no_grad(), amp():
                model.score(model.hidden(ids))
    else:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

        def step():
            with amp():
                loss = model.cls_loss(ids, labels) if mode == "train_cls" else model.lm_loss(ids)
            # set_to_none=True drops the gradients as hier's AdamW.ZeroGrad does (and torch >= 2.0's
            # default); torch 1.13's default zeroes them instead. Measured on (b): 30-100 MB lower
            # peak RSS for this side, speed within noise.
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    dt = time.perf_counter() - t0
    out = {"mode": mode, "case": case, "device": str(device), "dtype": str(dtype).replace("torch.", ""),
           "autocast": str(autocast).replace("torch.", "") if autocast is not None else None,
           "steps": steps, "warmup": warmup, "seconds": dt, "tokens_per_s": n * steps / dt,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
           "params": sum(p.numel() for p in model.parameters()), "torch": torch.__version__}
    if cuda:
        out["allow_tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, help="train_cls, train_lm, forward, or a comma-separated list")
    ap.add_argument("--case", required=True, help="a, b, or a comma-separated list")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=list(DTYPES), default="float32")
    ap.add_argument("--autocast", choices=["bfloat16", "float16"], default=None,
                    help="run the forward pass and loss under torch.autocast with this dtype (parameters stay --dtype)")
    a = ap.parse_args()
    modes, cases = a.mode.split(","), a.case.split(",")
    for m in modes:
        if m not in ("train_cls", "train_lm", "forward"):
            ap.error("unknown mode %r" % m)
    for c in cases:
        if c not in CASES:
            ap.error("unknown case %r" % c)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", 0)
    for c in cases:
        for m in modes:
            print(json.dumps(measure(m, c, device, DTYPES[a.dtype], a.steps, a.warmup,
                                      DTYPES[a.autocast] if a.autocast else None)), flush=True)
            gc.collect()


if __name__ == "__main__":
    main()
