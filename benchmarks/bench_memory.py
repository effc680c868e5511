"""How fast is influence_curve, ‖∂h_t/∂x_0‖ for every t, against the ways autograd would get it?

    python benchmarks/bench_memory.py            # T = 2,000, hidden 128, input 32, batch 4 (+ T = 100,000)
    python benchmarks/bench_memory.py --quick    # smaller, for a smoke run

Methods, all for the same SimpleRNN and inputs, every ratio measured in this run:
    influence_curve        rnnlab: J_t carried forward, one matmul per step (forward mode)
    T backward passes      one backward pass per t through the fused forward (rnnlab's BPTT) of hidden-many
                           copies of the batch, copy k seeded with e_k; a sample of the passes is timed and
                           scaled linearly to T passes
    jacrev                 torch.func.jacrev of the whole state sequence, per sequence (T·hidden cotangents);
                           its time grows as T² or faster and its memory as T², so it is timed at two short T
                           and extrapolated with the power of T they show (clamped to [1, 3])
    jacfwd                 torch.func.jacfwd over the explicit loop, per sequence (input tangents)
    forward, B             the fused forward pass over the batch: a floor nothing can beat
    forward, B·D           the fused forward pass over batch·input sequences: the floor of any forward-mode
                           method, which must push input-many tangents through the recurrence
Then T = 10,000 and 100,000 at hidden 32, each in a fresh process: seconds and peak resident memory (glibc's
mmap threshold fixed at 64 KiB, so that heap fragmentation does not blur the peak). Then the LSTM and the GRU:
influence_curve against the fused forward pass over the B·D sequences it stands for, at the sizes above and at the
dashboard's (T = 10,000, hidden 32, input 32, batch 1), timed in turns.
"""
import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

import torch

from rnnlab.memory import influence_curve
from rnnlab.models import GRU, LSTM, SimpleRNN


def note(message):
    print(f"  … {message}", file=sys.stderr, flush=True)


def best_of(fn, repeat):
    """Least wall time of `repeat` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_backward_passes(rnn, x, sample):
    """Seconds for all T backward passes, from timing `sample` of them: pass t backpropagates e_k from h_t[k]
    through hidden-many copies of the batch at once (copy k carries e_k), so that one pass gives all of ∂h_t/∂x_0.
    It runs the fused forward and rnnlab's hand-written BPTT, with the weights frozen (no weight gradients)."""
    B, T, D = x.shape
    H = rnn.hidden_size
    rnn.requires_grad_(False)
    x0 = x[:, 0].repeat(H, 1).requires_grad_()  # row k·B + b: copy k of sequence b
    states = rnn(torch.cat([x0[:, None], x[:, 1:].repeat(H, 1, 1)], dim=1))
    seed = torch.eye(H, dtype=x.dtype).repeat_interleave(B, dim=0)  # e_k on every copy k
    steps = torch.linspace(0, T - 1, sample).long().tolist()
    start = time.perf_counter()
    for t in steps:
        (grad,) = torch.autograd.grad(states[:, t], x0, grad_outputs=seed, retain_graph=True)
        torch.linalg.vector_norm(grad.view(H, B, D), dim=(0, 2))
    seconds = (time.perf_counter() - start) / len(steps) * T
    rnn.requires_grad_(True)
    return seconds


def jacrev_seconds(rnn, x, chunk_size=256):
    """torch.func.jacrev of the explicit loop's whole state sequence (T·hidden outputs), one sequence at a time
    (a batch would add batch² zero blocks), 256 cotangents per vmap chunk to bound memory."""
    start = time.perf_counter()
    for b in range(x.shape[0]):
        xb = x[b : b + 1].detach()
        torch.func.jacrev(lambda x0: rnn.loop(torch.cat([x0[:, None], xb[:, 1:]], dim=1)),
                          chunk_size=chunk_size)(xb[:, 0])
    return time.perf_counter() - start


def jacfwd_seconds(rnn, x):
    start = time.perf_counter()
    for b in range(x.shape[0]):
        xb = x[b : b + 1].detach()
        torch.func.jacfwd(lambda x0: rnn.loop(torch.cat([x0[:, None], xb[:, 1:]], dim=1)))(xb[:, 0])
    return time.perf_counter() - start


def peak_rss_mib():
    """The process's peak resident memory: VmHWM on Linux (ru_maxrss would carry the parent's peak over exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_run(T, hidden, dtype):
    """One influence curve over T steps in this (fresh) process: seconds and the growth of peak RSS."""
    torch.manual_seed(0)
    rnn = SimpleRNN(hidden, hidden).to(dtype)
    x = torch.randn(1, T, hidden, dtype=dtype)
    influence_curve(rnn, x[:, :100])  # warm up
    before = peak_rss_mib()
    start = time.perf_counter()
    curve = influence_curve(rnn, x)
    seconds = time.perf_counter() - start
    after = peak_rss_mib()
    return {"T": T, "seconds": seconds, "peak_rss_mib": after, "growth_mib": after - before,
            "input_mib": x.numel() * x.element_size() / 2**20, "curve_end": float(curve[-1])}


def gated_rows(T, H, D, B, dtype, repeat):
    """influence_curve of an LSTM and a GRU ÷ the fused forward pass over the B·D sequences it stands for, the two
    timed in turns so that both see the same load."""
    print(f"\nLSTM and GRU, T = {T}, hidden = {H}, input = {D}, batch = {B}:")
    for cls in (LSTM, GRU):
        torch.manual_seed(0)
        rnn = cls(D, H).to(dtype)
        x, x_bd = torch.randn(B, T, D, dtype=dtype), torch.randn(B * D, T, D, dtype=dtype)
        influence_curve(rnn, x[:, :50])
        ours, floor = [], []
        for _ in range(repeat):
            ours.append(best_of(lambda: influence_curve(rnn, x), 1))
            with torch.no_grad():
                floor.append(best_of(lambda: rnn(x_bd), 1))
        print(f"  {cls.__name__:4s} influence_curve {min(ours):.4g} s, forward over B·D sequences {min(floor):.4g} s:"
              f" {min(ours) / min(floor):.3g}× (issue 15 asks ≤ 1.5)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 300, hidden 64, no T = 100,000 run")
    parser.add_argument("--T", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--input", type=int, default=32)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--gated", action="store_true", help="only the LSTM and GRU rows")
    parser.add_argument("--long", type=int, default=None, help=argparse.SUPPRESS)  # child process of the long runs
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.long:
        print(json.dumps(long_run(args.long, 32, dtype)))
        return
    if args.quick:
        args.T, args.hidden = 300, 64
    T, H, D, B = args.T, args.hidden, args.input, args.batch
    if args.gated:
        gated_rows(T, H, D, B, dtype, 3)
        return gated_rows(10_000, 32, 32, 1, dtype, 3)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
          f", Python {platform.python_version()}, {args.dtype}")
    print(f"SimpleRNN tanh, T = {T}, hidden = {H}, input = {D}, batch = {B}\n")
    torch.manual_seed(0)
    rnn = SimpleRNN(D, H).to(dtype)
    x = torch.randn(B, T, D, dtype=dtype)
    x_bd = torch.randn(B * D, T, D, dtype=dtype)
    repeat = 1 if args.quick else 3
    influence_curve(rnn, x[:, :50])  # warm up the thread pool and the allocator
    with torch.no_grad():
        rnn(x_bd[:, :50])

    ours = best_of(lambda: influence_curve(rnn, x), repeat)
    with torch.no_grad():
        floor_b = best_of(lambda: rnn(x), repeat)
        floor_bd = best_of(lambda: rnn(x_bd), repeat)
    note(f"influence_curve {ours:.3g} s, forward passes {floor_b:.3g} s and {floor_bd:.3g} s")
    sample = 3
    naive = naive_backward_passes(rnn, x, sample)
    note(f"T backward passes {naive:.3g} s")
    fwd = jacfwd_seconds(rnn, x)
    note(f"jacfwd {fwd:.3g} s")
    # jacrev at T = short, 2·short: fit c·T² and extrapolate; ours measured at the same short T for a direct ratio.
    short = 10 if args.quick else 20
    jacrev_seconds(rnn, x[:1, :5])  # warm up vmap
    rev = [jacrev_seconds(rnn, x[:, :s]) for s in (short, 2 * short)]
    exponent = max(1.0, min(3.0, math.log2(rev[1] / rev[0])))  # T outputs × O(T) per backward, or worse
    rev_T = rev[1] * (T / (2 * short)) ** exponent
    ours_short = best_of(lambda: influence_curve(rnn, x[:, : 2 * short]), 5)

    rows = [("influence_curve (rnnlab)", ours, "measured"),
            ("T backward passes", naive, f"{sample} passes timed, × T/{sample}"),
            ("torch.func.jacrev", rev_T, f"timed at T={short},{2 * short}: {rev[0]:.3g}s, {rev[1]:.3g}s; "
                                         f"extrapolated ∝ T^{exponent:.2f}"),
            ("torch.func.jacfwd (loop)", fwd, "measured"),
            ("forward, B sequences", floor_b, "measured (the floor)"),
            ("forward, B·D sequences", floor_bd, "measured (forward-mode floor)")]
    print(f"{'method':28s} {'seconds':>10s} {'÷ influence':>12s}   note")
    for name, seconds, how in rows:
        print(f"{name:28s} {seconds:10.4g} {seconds / ours:12.3g}   {how}")
    print(f"\nat T = {2 * short}: jacrev {rev[1]:.4g} s, influence_curve {ours_short:.4g} s: "
          f"{rev[1] / ours_short:.3g}× (measured, no extrapolation)")
    print(f"influence_curve ÷ forward over B·D sequences = {ours / floor_bd:.3g} (issue 6 asks ≤ 2)")
    print(f"targets: ≥ 100× faster than T backward passes: {naive / ours:.3g}×; "
          f"≥ 10× faster than jacrev: {rev_T / ours:.3g}×")

    gated_rows(T, H, D, B, dtype, repeat)
    if not args.quick:
        gated_rows(10_000, 32, 32, 1, dtype, repeat)
        print("\nlong sequences, hidden 32, input 32, batch 1, each in a fresh process (MALLOC_MMAP_THRESHOLD_=65536):")
        for long_T in (10_000, 100_000):
            cmd = [sys.executable, __file__, "--long", str(long_T), "--dtype", args.dtype]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            # A fixed mmap threshold keeps glibc's heap fragmentation (tens of MiB, at random) out of the peak.
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
            r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout)
            print(f"  T = {r['T']:>7,}: {r['seconds']:7.3f} s, peak RSS of the process {r['peak_rss_mib']:6.1f} MiB, "
                  f"of which {r['growth_mib']:.1f} MiB during the call (x alone: {r['input_mib']:.1f} MiB)")


if __name__ == "__main__":
    main()
