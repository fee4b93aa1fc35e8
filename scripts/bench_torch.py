#!/usr/bin/env python3
"""PyTorch eager baseline for scripts/bench.sh.

Measures, at a given intra-op thread count, the same operations as the Go benchmarks in
torch/bench_test.go and prints one JSON object on stdout:

  tiny_add_ns          ns per `a + b` of two 1-element float32 tensors (result dropped each time)
  tiny_add_batched_ns  the same add, its results kept in a list that is dropped every 64 adds
                       (the pattern of BenchmarkTinyAddScoped: 64 results alive, then released)
  sgemm_gflops         GFLOP/s of a 1024x1024 float32 matmul (2*n^3 flops per product)

Each measurement is a time.perf_counter loop after a warm-up, repeated; the median is reported.
Run it with the Python that has torch (Debian: /usr/bin/python3 with python3-torch), not from a
directory that contains a `torch` folder (it would shadow the package).

  /usr/bin/python3 scripts/bench_torch.py --threads 2
"""
import argparse
import json
import statistics
import sys
import time

import torch


def tiny_add_ns(iters, repeats):
    a = torch.ones(1, dtype=torch.float32)
    b = torch.full((1,), 2.0, dtype=torch.float32)
    for _ in range(max(iters // 10, 1000)):
        a + b
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            a + b
        samples.append((time.perf_counter() - t0) / iters * 1e9)
    return statistics.median(samples)


def tiny_add_batched_ns(iters, repeats, batch=64):
    a = torch.ones(1, dtype=torch.float32)
    b = torch.full((1,), 2.0, dtype=torch.float32)
    rounds = max(iters // batch, 1)

    def loop(n):
        for _ in range(n):
            kept = []
            for _ in range(batch):
                kept.append(a + b)
            del kept

    loop(max(rounds // 10, 20))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loop(rounds)
        samples.append((time.perf_counter() - t0) / (rounds * batch) * 1e9)
    return statistics.median(samples)


def sgemm_gflops(n, iters, repeats):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    for _ in range(2):
        a @ b
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            a @ b
        dt = time.perf_counter() - t0
        samples.append(2.0 * n**3 * iters / dt / 1e9)
    return statistics.median(samples)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (torch.set_num_threads)")
    p.add_argument("--tiny-iters", type=int, default=200000, help="adds per repeat")
    p.add_argument("--sgemm-iters", type=int, default=20, help="matmuls per repeat")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.threads < 1:
        sys.exit("--threads must be >= 1")
    torch.set_num_threads(args.threads)
    out = {
        "tiny_add_ns": tiny_add_ns(args.tiny_iters, args.repeats),
        "tiny_add_batched_ns": tiny_add_batched_ns(args.tiny_iters, args.repeats),
        "sgemm_gflops": sgemm_gflops(1024, args.sgemm_iters, args.repeats),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
