"""Does the cost of rnnlab grow linearly with the sequence length T? Time and peak memory from T = 100 to 100,000.

    python benchmarks/bench_scaling.py                      # T = 100 … 100,000, 5 rounds (3 from T = 30,000 on)
    python benchmarks/bench_scaling.py --quick              # T = 100 … 30,000, 3 rounds, fewer memory rows
    python benchmarks/bench_scaling.py --keep-freed-memory  # the same with glibc keeping freed memory (see below)

Training step: forward + backward of a SimpleRNN layer (input 32, hidden 32 and 128, batch 32, float32) with a
loss on all states, mean(h_t²), against torch.nn.RNN of the same sizes (its fused forward, autograd backward),
not run past T = 30,000 (10,000 with --quick): at T = 100,000, hidden 128, a call takes about 25 s and 6 GiB. A
row at short T times several calls and divides, so that a sample spans about 3,000 steps. All rows run
interleaved, round after round; the tables give medians: µs per step (time ÷ T), of which the system's share
(sys), that µs per step ÷ the one at T = 1,000 (≈ 1 everywhere if the cost is linear), nn.RNN ÷ rnnlab (> 1:
rnnlab is faster), and the exponent k of time ∝ T^k, least squares on the logs (k ≈ 1: linear), over all T and
over T ≥ 10,000. Why two fits: glibc gives a freed block over 32 MiB back to the system, so once a tensor of
B·T·H floats passes that (T ≈ 2,000 at hidden 128, 8,000 at hidden 32) every tensor of the step is fresh memory,
which the kernel zeroes page by page on first touch (the sys column): a step up in the cost per step, then flat
again, the same for nn.RNN. --keep-freed-memory reruns with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
so high that glibc keeps and reuses the memory: the step disappears. Then influence_curve (hidden 32, batch 4).

Peak memory: one training step (forward, backward, RMSprop step) of SequenceClassifier(input_size=32, hidden_size=H,
head="last"), batch 32, in a fresh process for each (T, H): the growth of the process's peak resident memory
(VmHWM) over its value after imports, data and a short warm-up step, and the whole process's peak; nn.RNN + Linear
the same way for reference. glibc's mmap threshold is fixed at 64 KiB (MALLOC_MMAP_THRESHOLD_) so that heap
fragmentation does not blur the peak. Issue 6's target: T = 10,000, hidden 128, batch 32 within 2 GiB.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import kernel
from rnnlab.memory import influence_curve
from rnnlab.models import SequenceClassifier, SimpleRNN

B, D = 32, 32  # batch, input
LENGTHS = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
HIDDEN = (32, 128)
STEPS_PER_SAMPLE = 3_000  # short rows repeat the call until a sample spans about this many steps
BASELINE_MAX_T = 30_000  # nn.RNN is not run past it (10,000 with --quick)


def training_step(H, x, torch_rnn=False):
    torch.manual_seed(0)
    rnn = torch.nn.RNN(D, H, batch_first=True) if torch_rnn else SimpleRNN(D, H)

    def step():
        rnn.zero_grad(set_to_none=True)
        states = rnn(x)[0] if torch_rnn else rnn(x)
        states.square().mean().backward()
    return step


def influence_step(x):
    torch.manual_seed(0)
    rnn = SimpleRNN(D, 32)
    return lambda: influence_curve(rnn, x)


def measure(rows, rounds):
    """Median (wall seconds, system seconds) per call of each row; rows run interleaved, round after round. Rows
    from T = 30,000 on run 3 rounds at most (a call takes seconds); short rows repeat the call and divide."""
    times = {key: [] for key in rows}
    for r in range(rounds):
        for key, (T, step) in rows.items():
            if T >= 30_000 and r >= 3:
                continue
            reps = max(1, STEPS_PER_SAMPLE // T)
            sys_start, start = resource.getrusage(resource.RUSAGE_SELF).ru_stime, time.perf_counter()
            for _ in range(reps):
                step()
            wall = time.perf_counter() - start
            times[key].append((wall / reps, (resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys_start) / reps))
        print(f"  … round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return {key: tuple(np.median(t, axis=0)) for key, t in times.items()}


def exponents(seconds):
    """k of seconds ∝ T^k ({T: seconds}), least squares on the logs, over all T and over T ≥ 10,000."""
    def fit(Ts):
        return f"{np.polyfit(np.log(Ts), np.log([seconds[T] for T in Ts]), 1)[0]:.3f}" if len(Ts) > 1 else "n/a"
    Ts = sorted(seconds)
    return (f"time ∝ T^k with k = {fit(Ts)} over T = {Ts[0]:,} … {Ts[-1]:,}, "
            f"k = {fit([T for T in Ts if T >= 10_000])} over T ≥ 10,000")


def peak_rss_mib():
    """The process's peak resident memory: VmHWM on Linux (ru_maxrss would carry the parent's peak over exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def memory_child(T, H, torch_rnn):
    """One training step in this (fresh) process: the growth of peak RSS over the baseline, and the peak."""
    torch.manual_seed(0)
    x, y = torch.randn(B, T, D), torch.randint(0, 2, (B,)).float()
    if torch_rnn:
        rnn, dense = torch.nn.RNN(D, H, batch_first=True), torch.nn.Linear(H, 1)
        params = [*rnn.parameters(), *dense.parameters()]

        def loss(xb):
            return F.binary_cross_entropy_with_logits(dense(rnn(xb)[0][:, -1]).squeeze(-1), y)
    else:
        model = SequenceClassifier(input_size=D, hidden_size=H, head="last")
        params = list(model.parameters())

        def loss(xb):
            return model.loss(model(xb), y)
    opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)

    def step(xb):
        opt.zero_grad()
        loss(xb).backward()
        opt.step()
    step(x[:, :100])  # loads the kernel, allocates RMSprop's state: not part of a step at length T
    before = peak_rss_mib()
    step(x)
    after = peak_rss_mib()
    return {"growth": after - before, "peak": after, "x": x.numel() * 4 / 2**20}


def peak_memory(T, H, with_torch_rnn):
    """memory_child for rnnlab and nn.RNN (None if not with_torch_rnn), the two fresh processes side by side."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(T), str(H), str(int(torch_rnn))],
                              stdout=subprocess.PIPE, text=True, env=env)
             for torch_rnn in (False, True) if not torch_rnn or with_torch_rnn]
    results = [json.loads(p.communicate()[0]) for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"the memory run at T = {T}, hidden {H} failed")
    return results + [None] * (2 - len(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="T up to 30,000, nn.RNN up to 10,000, 3 rounds, "
                        "memory at hidden 128 and T = 1,000, 10,000, 30,000 only")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory table")
    parser.add_argument("--keep-freed-memory", action="store_true", help="rerun with glibc keeping freed memory")
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)  # T, H, nn.RNN?: one memory run
    args = parser.parse_args()
    if args.keep_freed_memory and "MALLOC_TRIM_THRESHOLD_" not in os.environ:  # read by glibc at start only
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(2**32), MALLOC_TRIM_THRESHOLD_=str(2**36))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(memory_child(args.child[0], args.child[1], bool(args.child[2]))))
        return
    lengths = [T for T in LENGTHS if T <= 30_000] if args.quick else list(LENGTHS)
    rounds = 3 if args.quick else args.rounds
    baseline_max = 10_000 if args.quick else BASELINE_MAX_T
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, rnnlab's C kernel loaded: {kernel.load() is not None}, "
          f"load average {os.getloadavg()[0]:.2f}, glibc keeps freed memory: {args.keep_freed_memory}")

    torch.manual_seed(0)
    xs = {T: torch.randn(B, T, D) for T in lengths}
    xs_influence = {T: torch.randn(4, T, D) for T in lengths}
    rows = {}
    for T in lengths:
        for H in HIDDEN:
            rows["rnnlab", H, T] = T, training_step(H, xs[T])
            if T <= baseline_max:
                rows["nn.RNN", H, T] = T, training_step(H, xs[T], torch_rnn=True)
        rows["influence", 32, T] = T, influence_step(xs_influence[T])
    for T, step in rows.values():  # warm-up: kernel, thread pool, allocator
        if T <= 1_000:
            step()
    med = measure(rows, rounds)

    def cells(impl, H, T):
        if (impl, H, T) not in med:
            return f"{'not run':>11} {'':>8} {'':>6} {'':>10}"
        wall, system = med[impl, H, T]
        return (f"{1e3 * wall:>11.2f} {1e6 * wall / T:>8.2f} {1e6 * system / T:>6.2f} "
                f"{wall / T / (med[impl, H, 1_000][0] / 1_000):>10.2f}")

    for H in HIDDEN:
        print(f"\ntraining step, hidden {H}, batch {B}, input {D}, float32: forward + backward, loss on all states")
        print(f"{'T':>8} {'rnnlab ms':>11} {'µs/step':>8} {'sys':>6} {'÷ T=1,000':>10} {'nn.RNN ms':>11} "
              f"{'µs/step':>8} {'sys':>6} {'÷ T=1,000':>10} {'nn.RNN ÷ rnnlab':>16}")
        for T in lengths:
            ratio = med["nn.RNN", H, T][0] / med["rnnlab", H, T][0] if T <= baseline_max else None
            print(f"{T:>8,} {cells('rnnlab', H, T)} {cells('nn.RNN', H, T)} "
                  + (f"{ratio:>16.2f}" if ratio else f"{'':>16}"))
        for impl in ("rnnlab", "nn.RNN"):
            print(f"  {impl}: " + exponents({T: med[impl, H, T][0] for T in lengths if (impl, H, T) in med}))
    print(f"  (nn.RNN not run past T = {baseline_max:,}: a call at T = 100,000, hidden 128 takes ≈ 25 s and "
          "≈ 6 GiB; its exponent covers the T it ran)")

    print(f"\ninfluence_curve, hidden 32, batch 4, input {D}, float32")
    print(f"{'T':>8} {'ms':>11} {'µs/step':>8} {'sys':>6} {'÷ T=1,000':>10}")
    for T in lengths:
        print(f"{T:>8,} {cells('influence', 32, T)}")
    print("  " + exponents({T: med["influence", 32, T][0] for T in lengths}))

    if args.no_memory:
        return
    print(f"\npeak memory of one training step (SequenceClassifier, head='last', RMSprop), batch {B}, input {D}, "
          "each in a fresh process: MiB of peak RSS over imports + data + warm-up step (step), and the process's peak")
    print(f"{'T':>8} {'hidden':>6} {'x MiB':>8} {'rnnlab step':>12} {'process':>9} {'nn.RNN step':>12} {'process':>9}")
    memory_rows = [(128, T) for T in (1_000, 10_000, 30_000)] if args.quick else [(H, T) for H in HIDDEN
                                                                                   for T in lengths]
    for H, T in memory_rows:
        ours, theirs = peak_memory(T, H, T <= baseline_max)
        print(f"{T:>8,} {H:>6} {ours['x']:>8.1f} {ours['growth']:>12.1f} {ours['peak']:>9.1f} "
              + (f"{theirs['growth']:>12.1f} {theirs['peak']:>9.1f}" if theirs else f"{'not run':>12}"))
        if (T, H) == (10_000, 128):
            target = ours
    print(f"\nT = 10,000, hidden 128, batch 32 (issue 6: within 2 GiB): peak {target['growth']:.0f} MiB for the step, "
          f"÷ 2 GiB = {target['growth'] / 2048:.3f}; the whole process's peak (Python, torch and the data included) "
          f"{target['peak']:.0f} MiB, ÷ 2 GiB = {target['peak'] / 2048:.3f}")


if __name__ == "__main__":
    main()
