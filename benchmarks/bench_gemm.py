"""The products of a training step, torch's (MKL on x86) against rnnlab.gemm's, in one process: oneDNN for
`linear`, rnnlab's C kernel for `outer_sum` (the weight gradients).

Shapes: the lecture's batch 32 × 500 steps = 16,000 rows, embedding 32, and each cell's gates·hidden at hidden 32
and 128; the SimpleRNN's projected table (10,000 words). For each: the drive x·A_xᵀ + b (`linear`), ∂L/∂x = δ·A_x
(`linear` with A_x transposed) and a weight gradient δᵀ·x summed over the rows (`outer_sum`). Rounds interleaved,
medians, one thread; the last column is gemm's rate, to set against the core's peak (see benchmarks/README.md).

    python benchmarks/bench_gemm.py [--rounds 30]
"""
import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import gemm
from rnnlab.train import keep_freed_memory

ROWS, E = 16000, 32


def cases():
    """(name, FLOP, (torch's, gemm's)) for each product of a step: the drive u = x·A_xᵀ + b, ∂L/∂x = δ·A_x,
    ∂L/∂A_x = Σ δᵀ·x and ∂L/∂A_h = Σ δᵀ·h (rows of δ: gates·hidden wide; x: the embedding, 32; h: hidden)."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g)
    for name, rows, hidden, gates in [("SimpleRNN table", 10000, 32, 32), ("LSTM h=32", ROWS, 32, 128),
                                      ("GRU h=32", ROWS, 32, 96), ("LSTM h=128", ROWS, 128, 512),
                                      ("GRU h=128", ROWS, 128, 384)]:
        x, h, w, b, dy = rand(rows, E), rand(rows, hidden), rand(gates, E), rand(gates), rand(rows, gates)
        flop = 2 * rows * E * gates
        yield f"{name}: u = x·A_xᵀ + b", flop, (lambda x=x, w=w, b=b: F.linear(x, w, b),
                                               lambda x=x, w=w, b=b: gemm.linear(x, w, b))
        yield f"{name}: ∂L/∂x = δ·A_x", flop, (lambda dy=dy, w=w: dy @ w, lambda dy=dy, w=w: gemm.linear(dy, w.T))
        yield f"{name}: ∂L/∂A_x = Σ δᵀ·x", flop, (lambda dy=dy, x=x: dy.T @ x,
                                                 lambda dy=dy, x=x: gemm.outer_sum(dy, x))
        if name != "SimpleRNN table":
            yield f"{name}: ∂L/∂A_h = Σ δᵀ·h", 2 * rows * hidden * gates, (lambda dy=dy, h=h: dy.T @ h,
                                                                         lambda dy=dy, h=h: gemm.outer_sum(dy, h))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()  # as fit does: no page faults on the outputs
    print(f"torch {torch.__version__}, 1 thread, {platform.processor() or platform.machine()}, oneDNN used: "
          f"{gemm.ONEDNN}")
    print(f"{'product':<34} {'torch ms':>9} {'gemm ms':>8} {'torch ÷ gemm':>12} {'GFLOP/s':>8}")
    for name, flop, (ours_torch, ours_gemm) in cases():
        times = {0: [], 1: []}
        for f in (ours_torch, ours_gemm):
            f()
        for _ in range(args.rounds):
            for i, f in enumerate((ours_torch, ours_gemm)):
                start = time.perf_counter()
                f()
                times[i].append(time.perf_counter() - start)
        a, b = (1000 * float(np.median(times[i])) for i in (0, 1))
        print(f"{name:<34} {a:>9.3f} {b:>8.3f} {a / b:>12.2f} {flop / b / 1e6:>8.0f}")


if __name__ == "__main__":
    main()
