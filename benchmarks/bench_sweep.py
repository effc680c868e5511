"""How much do more workers and Ray buy for a sweep on this machine?

    python benchmarks/bench_sweep.py            # 16 small lag_recall runs (2 cells × 2 lags × 4 seeds)
    python benchmarks/bench_sweep.py --quick    # 8 tiny runs, for a smoke run
    python benchmarks/bench_sweep.py --no-ray   # the local executor only

Every row trains the same sweep into a fresh run store:
    in-process          run(config, store=False) one after the other in this process: the work itself
    local, w workers    run_sweep(executor="local"): a process pool of w processes (forked by the fork server)
    ray, w workers      run_sweep(executor="ray") on a local Ray instance with w CPUs, started before the clock
                        (ray.init is timed on its own)
Before the clock each executor also runs w tiny warm-up runs: the cold start (the fork server or the Ray workers
starting and importing torch), shown apart, since a sweep pays it once. speed-up = wall(1 worker) ÷ wall(2
workers); overhead per run = (wall(1 worker) − in-process) ÷ runs: handing the run to a worker, shipping its
weights back, writing the store. train s/run: the mean time a run spent in fit, measured where it ran; if it
grows with 2 workers, they did not get a core each (other processes share these cores: the load is printed). Then
Ray on its own: `import ray; ray.init(address="local", num_cpus=2)` in a fresh process (with Ray's dashboard, its
default, and without, as run_sweep starts it), and the round trip of an empty Ray task. Each worker and this
process use one torch thread.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch

from rnnlab.runs import RunConfig, run
from rnnlab.sweeps import Sweep, run_sweep

torch.set_num_threads(1)

# address="local": a plain ray.init() would join any Ray instance already running on this machine (another test
# run's, say) and then refuse num_cpus.
INIT = ("import time; t = time.perf_counter(); import ray; ray.init(address='local', num_cpus=2{}); "
        "print(time.perf_counter() - t); ray.shutdown()")


def sweep(quick):
    base = dict(length=50, n_train=2000, n_test=200, hidden_size=32, epochs=5) if not quick else \
        dict(length=6, n_train=64, n_test=32, hidden_size=8, embedding_dim=4, epochs=2, batch_size=16)
    return Sweep(base=base, axes={"cell": ["simple_rnn", "lstm"], "lag": [1, 5]},
                 seeds=list(range(2 if quick else 4)))


def warmup_base():
    return dict(length=4, n_train=16, n_test=8, hidden_size=4, embedding_dim=2, epochs=1, batch_size=8)


def train_seconds(results):
    """Mean seconds a run spent in fit, measured inside the worker: it grows when the workers share a core."""
    return sum(r.metrics["seconds"] for r in results) / len(results)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ray_init_seconds(options=""):
    """Seconds, or the reason it failed (on a loaded machine Ray's node start can pass its own 30 s limit)."""
    out = subprocess.run([sys.executable, "-c", INIT.format(options)], capture_output=True, text=True)
    if out.returncode != 0:
        return f"failed ({(out.stderr.strip().splitlines() or ['no message'])[-1][:160]})"
    return f"{float(out.stdout.strip().splitlines()[-1]):.2f} s"


def empty_task_seconds(n=200):
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        noop = ray.remote(num_cpus=1)(lambda: None)
        ray.get(noop.remote())  # the first call starts a worker process
        start = time.perf_counter()
        for _ in range(n):
            ray.get(noop.remote())
        return (time.perf_counter() - start) / n
    finally:
        ray.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 tiny runs")
    parser.add_argument("--no-ray", action="store_true", help="the local executor only")
    args = parser.parse_args()
    s = sweep(args.quick)
    n = len(s.configs)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print(f"{n} runs: {s!r}, base {s.base}\n")

    run(RunConfig(**warmup_base()), store=False, progress=False)  # this process's cold start, as the workers'
    here = []
    serial = timed(lambda: here.extend(run(c, store=False, progress=False) for c in s.configs))
    rows = [("in-process", 1, serial, train_seconds(here), None, None)]
    executors = ["local"] if args.no_ray else ["local", "ray"]
    for executor in executors:
        for workers in (1, 2):
            init = None
            if executor == "ray":
                import ray

                init = timed(lambda: ray.init(address="local", num_cpus=workers, include_dashboard=False,
                                              log_to_driver=False))
            try:
                with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as store:
                    # Cold start, timed apart: the first runs start the worker processes (fork server or Ray
                    # workers, each importing torch); a long sweep pays it once.
                    warm = Sweep(base=warmup_base(), axes={}, seeds=list(range(workers)))
                    warmup = timed(lambda: run_sweep(warm, store=scratch, executor=executor, workers=workers,
                                                     progress=False))
                    done = []
                    wall = timed(lambda: done.append(run_sweep(s, store=store, executor=executor, workers=workers,
                                                               progress=False)))
            finally:
                if executor == "ray":
                    ray.shutdown()
            rows.append((executor, workers, wall, train_seconds(done[0].results), warmup, init))

    print(f"{'executor':12s} {'workers':>7s} {'wall s':>8s} {'runs/s':>7s} {'train s/run':>11s} {'speed-up':>9s} "
          f"{'overhead/run s':>15s} {'cold start s':>12s} {'ray.init s':>10s}")
    one = {}
    for executor, workers, wall, per_run, warmup, init in rows:
        if workers == 1:
            one[executor] = wall
        speedup = one[executor] / wall if executor != "in-process" and workers == 2 else None
        overhead = (wall - serial) / n if executor != "in-process" and workers == 1 else None
        speedup = "" if speedup is None else f"{speedup:.2f}×"
        overhead = "" if overhead is None else f"{overhead:.3f}"
        warmup = "" if warmup is None else f"{warmup:.2f}"
        init = "" if init is None else f"{init:.2f}"
        print(f"{executor:12s} {workers:7d} {wall:8.2f} {n / wall:7.2f} {per_run:11.3f} {speedup:>9s} {overhead:>15s} "
              f"{warmup:>12s} {init:>10s}")
    if not args.no_ray:
        print(f"\n`import ray; ray.init(address='local', num_cpus=2)` in a fresh process: {ray_init_seconds()} "
              f"with Ray's dashboard (the default), {ray_init_seconds(', include_dashboard=False')} without")
        print(f"round trip of an empty Ray task (ray.get(f.remote())), one at a time: "
              f"{empty_task_seconds() * 1e3:.2f} ms")
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other processes share these cores)")


if __name__ == "__main__":
    main()
