"""Sweeps: a grid of RunConfigs × seeds, trained on this machine's cores or on a Ray cluster, summarized across seeds.

One run is an anecdote; the spread across seeds says how much of a difference between two configurations is real.
A sweep file (TOML) names a base RunConfig, the axes to vary and the seeds:

    name = "lecture"                    # optional (default: the file's name)
    seeds = [0, 1, 2]                   # every configuration is trained once per seed

    [base]                              # any RunConfig field but seed; the rest keep RunConfig's defaults
    length = 101

    [grid]                              # field = [values]: every combination of the values is one configuration
    cell = ["simple_rnn", "lstm", "gru"]
    lag = [1, 5, 10, 20, 50, 100]

TOML has no null: "none" stands for None in the fields whose default is None (spectral_radius, clip).

Limits, so that a mistyped or hostile file costs a fraction of a second: load_sweep reads only a regular file
(never a FIFO or a device such as /dev/zero) of at most MAX_SWEEP_BYTES (1 MiB; a sweep file is a few hundred
bytes), and a grid of at most max_runs = MAX_RUNS (10,000) runs, the product of the axes' lengths × the seeds,
checked before the grid is expanded; `max_runs=` (CLI: --max-runs N) allows more. A file that cannot be opened is
an OSError; anything else wrong with it is one ValueError of one line.

    Sweep / load_sweep  the grid: RunConfig(**base, **combination, seed=s) for every combination of the axes (their
                        product, in the order written, the last axis fastest) and every seed (fastest of all)
    run_sweep           trains what the run store does not hold yet, in worker processes or Ray tasks; the driver
                        (this process) writes every result into the store, so workers need no shared disk
    stored_results      what the store holds of a sweep, training nothing
    summarize           mean, standard deviation and 95% interval across seeds, per group of configurations
    profiles            accuracy against lag (or another field) with that interval as a band, for
                        plots.accuracy_vs_lag_figure

Invalid combinations: RunConfig validates each combination. A value that no valid combination uses (a typo, or
lag 200 when every length is ≤ 101) is an error before anything runs; a combination of values that are valid
elsewhere but not together (lag 50 with length 20, in a grid that also has length 101) is skipped and listed in
Sweep.invalid, which `rnnlab sweep` prints.

Failures and resuming: a run that raises is retried once; if it fails again, its error and traceback are written
to <store>/.failures/<hash>.json (the store never lists dot-folders) and the sweep goes on. Running a sweep again
trains exactly what the store lacks, so an interrupted sweep resumes where it stopped and failed runs get another
try; a run that then succeeds clears its failure record.
"""
import collections
import concurrent.futures
import contextlib
import io
import itertools
import json
import math
import multiprocessing
import os
import pickle
import re
import stat
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field, fields
from numbers import Real
from pathlib import Path

import numpy as np
import torch

from . import files
from .memory import fit_decay, influence_curve
from .runs import RunConfig, RunResult, Store, run
from .train import History

EXECUTORS = ("local", "ray")
SWEEP_KEYS = ("name", "seeds", "base", "grid")
FIELDS = tuple(f.name for f in fields(RunConfig))
STATISTICS = ("test_accuracy", "test_loss")  # from each run's metrics
DECAY_STATISTICS = ("time_constant", "horizon")  # of the influence of x_0 on h_t, with influence=True
INFLUENCE_SEQUENCES = 64  # test sequences the influence curve of a trained model is averaged over
MAX_SWEEP_BYTES = 2**20  # 1 MiB
MAX_RUNS = 10_000  # runs of one sweep (configurations × seeds) unless max_runs says otherwise


# ---------------------------------------------------------------------------------------------- the grid

def _nullable(name):
    return next(f for f in fields(RunConfig) if f.name == name).default is None


@dataclass(frozen=True)
class LagPlus:
    """A length that follows the lag: length = lag + steps (written "lag + 11" in a sweep file), so that a grid
    over the lag keeps the same steps around the answer instead of one long sequence for every lag."""

    steps: int

    def __str__(self):
        return f"lag + {self.steps}"


def _value(where, name, value):
    """A TOML value for field `name` as RunConfig takes it: "none" is None where None is allowed; a length may be
    "lag + N" (LagPlus)."""
    if isinstance(value, (list, dict)):
        raise TypeError(f"{where} must be a string, a number or a boolean, got {value!r}")
    if isinstance(value, str) and value.lower() == "none" and _nullable(name):
        return None
    if name == "length" and isinstance(value, str) and (m := re.fullmatch(r"\s*lag\s*\+\s*([0-9]{1,6})\s*", value)):
        if int(m.group(1)) < 1:
            raise ValueError(f"{where} = {value!r}: N in 'lag + N' must be >= 1")
        return LagPlus(int(m.group(1)))
    return value


def _resolve(d):
    """A combination as RunConfig takes it: a LagPlus length becomes lag + N."""
    if isinstance(d.get("length"), LagPlus):
        d = {**d, "length": d.get("lag", 0) + d["length"].steps}
    return d


def _fields(where, names):
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise ValueError(f"{where} names unknown RunConfig fields {unknown}; allowed: {', '.join(FIELDS)}")
    if "seed" in names:
        raise ValueError(f"{where} must not set 'seed': list the seeds in `seeds = [...]`")


def _reason(e):
    return " ".join(str(e).split()) or type(e).__name__


@dataclass(frozen=True, eq=False)
class Sweep:
    """Configurations × seeds, expanded and validated on construction.

    base: RunConfig fields shared by every run (not seed). axes: field → list of values, the grid. seeds: ints.
    max_runs: the most runs (combinations × seeds) to expand; a larger grid is a ValueError before expansion.
    configs: the valid RunConfigs in grid order; invalid: (combination dict, reason) for each combination RunConfig
    rejects although each of its values is valid in another one (see the module's docstring).
    """

    base: dict
    axes: dict
    seeds: tuple
    name: str = "sweep"
    max_runs: int = MAX_RUNS
    configs: tuple = field(init=False)
    invalid: tuple = field(init=False)

    def __post_init__(self):
        if not isinstance(self.base, dict):
            raise TypeError(f"base must be a dict of RunConfig fields, got {type(self.base).__name__}")
        if not isinstance(self.axes, dict):
            raise TypeError(f"axes (the grid) must be a dict field → list of values, got {type(self.axes).__name__}")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        if isinstance(self.max_runs, bool) or not isinstance(self.max_runs, int) or self.max_runs < 1:
            raise ValueError(f"max_runs must be an int >= 1, got {self.max_runs!r}")
        _fields("base", list(self.base))
        _fields("grid", list(self.axes))
        base = {k: _value(f"base.{k}", k, v) for k, v in self.base.items()}
        axes = {}
        for k, values in self.axes.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"grid.{k} must be a non-empty list of values, got {values!r}")
            values = [_value(f"grid.{k} values", k, v) for v in values]
            counts = collections.Counter(values)  # == as `in` compares: 1, 1.0 and True are one value
            repeated = [v for v in values if counts[v] > 1]
            if repeated:
                raise ValueError(f"grid.{k} lists {repeated[0]!r} more than once: {values!r}")
            axes[k] = tuple(values)
        seeds = self.seeds
        if not isinstance(seeds, (list, tuple)) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of ints >= 0, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds lists a seed more than once: {list(seeds)!r}")
        runs = math.prod(len(values) for values in axes.values()) * len(seeds)
        if runs > self.max_runs:
            sizes = " × ".join(f"{len(values)} {k}" for k, values in axes.items()) or "1 combination"
            raise ValueError(f"the grid has {runs:,} runs ({sizes} × {len(seeds):,} seed{'s' if len(seeds) > 1 else ''}), more than max_runs = "
                             f"{self.max_runs:,}; allow more with max_runs (rnnlab sweep --max-runs N)")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "seeds", tuple(seeds))

        configs, invalid, used, first_reason = [], [], set(), {}
        for values in itertools.product(*axes.values()):
            combination = dict(zip(axes, values))
            try:
                config = RunConfig(**_resolve({**base, **combination}))
            except (TypeError, ValueError) as e:
                invalid.append((combination, _reason(e)))
                for item in combination.items():
                    first_reason.setdefault(item, _reason(e))
                continue
            used.update(combination.items())
            configs.extend(config.replace(seed=s) for s in seeds)
        for k, values in axes.items():
            for v in values:
                if (k, v) not in used:
                    raise ValueError(f"grid.{k} = {v!r} gives no valid run: {first_reason[(k, v)]}")
        if not configs:
            raise ValueError(f"the sweep has no valid run: {invalid[0][1]}")
        object.__setattr__(self, "configs", tuple(configs))
        object.__setattr__(self, "invalid", tuple(invalid))

    @classmethod
    def from_dict(cls, d, name="sweep", max_runs=MAX_RUNS):
        """A Sweep from the parsed TOML: {"name"?, "seeds", "base"?, "grid"?}."""
        if not isinstance(d, dict):
            raise TypeError(f"a sweep must be a table (dict), got {type(d).__name__}")
        unknown = sorted(set(d) - set(SWEEP_KEYS))
        if unknown:
            raise ValueError(f"unknown sweep keys {unknown}; allowed: {', '.join(SWEEP_KEYS)} "
                             f"(RunConfig fields go under [base] or [grid])")
        if "seeds" not in d:
            raise ValueError("a sweep must list its seeds: seeds = [0, 1, 2]")
        return cls(base=d.get("base", {}), axes=d.get("grid", {}), seeds=d["seeds"], name=d.get("name", name),
                   max_runs=max_runs)

    def __repr__(self):
        axes = ", ".join(f"{k}×{len(v)}" for k, v in self.axes.items()) or "no axes"
        return (f"Sweep({self.name!r}: {axes}, {len(self.seeds)} seeds → {len(self.configs)} runs, "
                f"{len(self.invalid)} invalid combinations skipped)")


def _too_large(path):
    return ValueError(f"{path} is larger than a sweep file may be: {MAX_SWEEP_BYTES:,} bytes (1 MiB)")


def _regular_and_small(path, info):
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file (a sweep file is TOML text, not a FIFO, device or folder)")
    if info.st_size > MAX_SWEEP_BYTES:
        raise _too_large(path)


def _read_small(path):
    """The bytes of a regular file of at most MAX_SWEEP_BYTES. Checked before opening, so that a device is never
    opened, and again on the open file (it may have been replaced since); opened non-blocking, as a FIFO put there
    meanwhile would block a plain open until someone writes to it; never more read than the limit allows (a file
    in /proc says size 0)."""
    _regular_and_small(path, os.stat(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as f:
        _regular_and_small(path, os.fstat(fd))
        data = f.read(MAX_SWEEP_BYTES + 1)
    if len(data) > MAX_SWEEP_BYTES:
        raise _too_large(path)
    return data


def load_sweep(path, max_runs=MAX_RUNS):
    """Read a sweep file (TOML, see the module's docstring); its name defaults to the file's name.

    Reads any path it is given (the caller's own files: the dashboard decides which paths a visitor may name), but
    only a regular file of at most MAX_SWEEP_BYTES, and expands at most max_runs runs. OSError if the file cannot
    be opened; ValueError (one line, naming the file) for anything else wrong with it."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the same parser, before it joined the standard library
        try:
            import tomli as tomllib
        except ImportError:
            raise ImportError("reading a sweep file needs Python >= 3.11 (tomllib) or, on 3.10, the tomli "
                              "package: pip install tomli") from None
    path = Path(path)
    data = _read_small(path)
    try:
        d = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start:,}): a sweep file is TOML") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path} is not valid TOML: {_reason(e)}") from None
    except RecursionError:  # the parser recurses once per level of [[[…]]] or {a = {b = …}}
        raise ValueError(f"{path} nests arrays or tables too deeply for a sweep file") from None
    try:
        return Sweep.from_dict(d, name=path.stem, max_runs=max_runs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{path}: {_reason(e)}") from None


# ---------------------------------------------------------------------------------------------- one task

def train_run(config):
    """Train one run in a worker: config dict → {"config", "history", "metrics", "weights"}, plain data.

    weights is the state_dict as torch.save bytes, so that the result pickles (or crosses to Ray) in one piece
    and the driver, not the worker, writes the store."""
    config = RunConfig.from_dict(config)
    result = run(config, store=False, progress=False)
    buffer = io.BytesIO()
    torch.save(result.model.state_dict(), buffer)
    return {"config": config.to_dict(), "history": result.history.to_dict(), "metrics": result.metrics,
            "weights": buffer.getvalue()}


def _attempt(train, config):
    """Run train(config) in a worker with one torch thread (the workers already share the cores); an exception
    comes back as {"error", "traceback"}, so that the executors only ever return values."""
    torch.set_num_threads(1)
    try:
        return train(config)
    except Exception as e:
        return _error(e)


# ---------------------------------------------------------------------------------------------- executors

def default_workers():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# What a worker imports before its first run (torch.optim pulls in torch._dynamo on the first step): preloaded
# once in the fork server, every worker of every pool starts with them, in milliseconds instead of seconds.
PRELOAD = ["rnnlab.sweeps", "torch._dynamo"]


def _context():
    """forkserver where the platform has it, else spawn; never fork. A worker forked from the driver would inherit
    its torch threads, locks and whatever state the caller (a notebook, the dashboard) has built; the fork server
    is a fresh process that only imported PRELOAD and ran no torch operation, so its children start clean."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # takes effect when the server starts (once per driver process)
        return context
    return multiprocessing.get_context("spawn")


class _LocalPool:
    """Runs _attempt(train, config) in a pool of `workers` processes: submit → handle, wait(handles) → the finished
    ones, get(handle) → result. A worker that dies (killed, out of memory) breaks a ProcessPoolExecutor for good:
    its runs come back as errors, and the next submit starts a new pool."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = self._new()

    def _new(self):
        return concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=_context())

    def submit(self, train, config):
        try:
            return self.pool.submit(_attempt, train, config)
        except concurrent.futures.BrokenExecutor:
            self.pool.shutdown(wait=False)
            self.pool = self._new()
            return self.pool.submit(_attempt, train, config)

    def wait(self, handles):
        """The finished handles, in the order given (a set's order would make a sweep's record order arbitrary)."""
        done = concurrent.futures.wait(handles, return_when=concurrent.futures.FIRST_COMPLETED)[0]
        return [h for h in handles if h in done]

    def get(self, handle):
        return handle.result()

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


RAY_MISSING = ("the ray executor needs Ray, an optional extra: pip install 'rnnlab[ray]' "
               "(or pip install 'ray[default]>=2.9'); --executor local needs nothing more")


class _RayPool:
    """The same over Ray tasks of one CPU each. No address: a new local Ray instance with `workers` CPUs; "auto"
    or "ray://host:port": join that cluster, whose nodes get this driver's rnnlab as a py_module. A Ray that the
    caller already initialised is used as it is and left running."""

    def __init__(self, workers, address):
        try:
            import ray
        except ImportError:
            raise ImportError(RAY_MISSING) from None
        self.ray, self.started, self.pending = ray, not ray.is_initialized(), set()
        if self.started:
            if address is None:
                ray.init(address="local", num_cpus=workers, include_dashboard=False)
            else:
                ray.init(address=address, runtime_env={"py_modules": [str(Path(__file__).resolve().parent)]})
        self.task = ray.remote(num_cpus=1, max_retries=0)(_attempt)

    def submit(self, train, config):
        ref = self.task.remote(train, config)
        self.pending.add(ref)
        return ref

    def wait(self, handles):
        return self.ray.wait(list(handles), num_returns=1)[0]

    def get(self, ref):
        self.pending.discard(ref)
        return self.ray.get(ref)

    def close(self):
        for ref in self.pending:  # interrupted: free the cluster for others
            self.ray.cancel(ref, force=True)
        if self.started:
            self.ray.shutdown()


# ---------------------------------------------------------------------------------------------- the driver

@dataclass(repr=False)
class SweepResult:
    """What run_sweep did. results: a RunResult (no model) for every config of the sweep the store now holds, in
    grid order, cached=True for those it held before; failures: the records of the runs that failed twice."""

    results: list
    trained: int
    skipped: int
    failures: list
    store: Store

    def __repr__(self):
        return (f"SweepResult({len(self.results)} runs: {self.trained} trained, {self.skipped} from the store, "
                f"{len(self.failures)} failed; {self.store})")


def _failure_path(store, config):
    return store.root / ".failures" / f"{config.hash}.json"



def failures(store=None):
    """The failure records in a run store ({hash, config, error, traceback, attempts, time, executor}), oldest
    first; an unreadable record is skipped with a warning."""
    store = store if isinstance(store, Store) else Store(store)
    records = []
    for path in sorted((store.root / ".failures").glob("*.json")):
        try:
            records.append(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as e:
            warnings.warn(f"skipping unreadable failure record {path}: {e}", stacklevel=2)
    return sorted(records, key=lambda r: r.get("time", 0))


def _held(store, config):
    """The stored run (no weights), or None if the store lacks it. A copy that cannot be read back is moved aside
    (Store.set_aside, with a warning) and counts as missing, so that the sweep trains it again."""
    if config not in store:
        return None
    try:
        return store.load(config, weights=False)
    except KeyError:  # deleted meanwhile
        return None
    except (ValueError, OSError) as e:
        store.set_aside(config, e)
        return None


def stored_results(sweep, store=None):
    """The RunResults (no model) that `store` holds for the configs of `sweep` (a Sweep or a list of RunConfigs),
    in grid order; trains nothing: what a dashboard shows of a sweep that may still be running elsewhere."""
    store = store if isinstance(store, Store) else Store(store)
    configs = sweep.configs if isinstance(sweep, Sweep) else sweep
    return [r for c in dict((c.hash, c) for c in configs).values() if (r := _held(store, c)) is not None]


def _error(e):
    return {"error": f"{type(e).__name__}: {_reason(e)}", "traceback": traceback.format_exc()}


def _collect(pool, handle, store, config):
    """The finished task's run, stored, as a RunResult; or {"error", "traceback"} if training, the worker itself
    (killed, out of memory) or storing the result failed."""
    try:
        out = pool.get(handle)
    except Exception as e:
        return _error(e)
    if "error" in out:
        return out
    try:
        return _save(store, config, out)
    except Exception as e:
        return _error(e)


def _save(store, config, out):
    if out["config"] != config.to_dict():
        raise ValueError(f"the worker trained {out['config']}, not the config it was sent ({config.hash}): "
                         "does the cluster run another version of rnnlab?")
    model = config.build_model()
    model.load_state_dict(torch.load(io.BytesIO(out["weights"]), weights_only=True))
    model.eval()
    history = History.from_dict(out["history"])
    path = store.save(config, history, out["metrics"], model)
    with contextlib.suppress(FileNotFoundError):
        _failure_path(store, config).unlink()
    return RunResult(config, history, out["metrics"], None, path, cached=False)


def _reporter(progress, total):
    """update(finished, failed) and close() for a tqdm bar, a callable(fraction, message), or nothing."""
    if progress is None or progress is False:
        return (lambda finished, failed: None), (lambda: None)
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="run", desc="sweep", disable=not sys.stderr.isatty())

        def update(finished, failed):
            bar.set_postfix(failed=failed, refresh=False)
            bar.update(finished - bar.n)

        return update, bar.close
    if callable(progress):
        start = time.perf_counter()

        def update(finished, failed):
            left = (time.perf_counter() - start) / finished * (total - finished) if finished else math.nan
            progress(finished / total if total else 1.0,
                     f"{finished}/{total} runs, {failed} failed" + (f", ~{left:.0f} s left" if finished < total
                                                                     else ""))

        return update, (lambda: None)
    raise TypeError(f"progress must be True, False, None or a callable(fraction, message), got {progress!r}")


def run_sweep(sweep, store=None, executor="local", workers=None, address=None, progress=True, retries=1,
              train=train_run):
    """Train every config of `sweep` that `store` does not hold yet, and store each result as it arrives.

    Args:
        sweep: a Sweep, or a list of RunConfigs.
        store: a rnnlab.runs.Store, a folder, or None for the default store.
        executor: "local" — a process pool (forkserver, else spawn) of `workers` processes, default one per
            core — or "ray": Ray tasks of one CPU each, on a new local instance with `workers` CPUs (default: the
            cores) when address is None, else on the cluster at `address` ("auto", "ray://host:port").
        progress: True for a tqdm bar on a terminal (runs finished/total, failures, time left), False/None, or a
            callable(fraction, message), called after each finished run (the dashboard's bar).
        retries: how often a run that raised is tried again before its failure is recorded.
        train: what a worker runs, config dict → result dict (see train_run); must pickle (a module-level
            function): tests pass one that fails.

    Returns a SweepResult. Each worker trains with one torch thread; results do not depend on the executor or the
    number of workers.
    """
    configs = list(sweep.configs if isinstance(sweep, Sweep) else sweep)
    if not all(isinstance(c, RunConfig) for c in configs):
        raise TypeError("sweep must be a Sweep or a list of rnnlab.runs.RunConfig")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(map(repr, EXECUTORS))}, got {executor!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None (one per core), got {workers!r}")
    if address is not None and executor != "ray":
        raise ValueError(f"address is for executor='ray' (a Ray cluster), got address={address!r} with "
                         f"executor={executor!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    if not callable(train):
        raise TypeError(f"train must be a callable (config dict → result dict), got {train!r}")
    if executor == "local":
        try:
            pickle.dumps(train)
        except Exception:
            raise TypeError(f"train must pickle, to reach the worker processes (a module-level function, or a "
                            f"functools.partial of one), got {train!r}") from None
    store = store if isinstance(store, Store) else Store(store)
    configs = list({c.hash: c for c in configs}.values())
    held = {c.hash: r for c in configs if (r := _held(store, c)) is not None}
    todo = [c for c in configs if c.hash not in held]
    new, failed, pending, pool = {}, [], {}, None
    update, close = _reporter(progress, len(todo))
    try:
        if todo:
            if executor == "local":
                pool = _LocalPool(min(workers or default_workers(), len(todo)))
            else:
                pool = _RayPool(workers or (default_workers() if address is None else None), address)
            pending = {pool.submit(train, c.to_dict()): (c, 1) for c in todo}
        while pending:
            for handle in pool.wait(list(pending)):
                config, attempt = pending.pop(handle)
                out = _collect(pool, handle, store, config)
                if isinstance(out, RunResult):
                    new[config.hash] = out
                elif attempt <= retries:
                    pending[pool.submit(train, config.to_dict())] = (config, attempt + 1)
                    continue
                else:
                    record = dict(hash=config.hash, config=config.to_dict(), attempts=attempt, time=time.time(),
                                  executor=executor, **out)
                    with files.atomic_file(_failure_path(store, config), "w", encoding="utf-8") as f:
                        f.write(json.dumps(record, indent=2) + "\n")
                    failed.append(record)
                update(len(new) + len(failed), len(failed))
    finally:
        if pool is not None:
            pool.close()
        close()
    results = [held.get(c.hash) or new[c.hash] for c in configs if c.hash in held or c.hash in new]
    return SweepResult(results, len(new), len(held), failed, store)


# ---------------------------------------------------------------------------------------------- statistics

def _t_two_sided(theta, df):
    """A(t|ν) = P(|T| ≤ t) for Student's t with ν = df degrees of freedom, θ = atan(t/√ν) (Abramowitz & Stegun
    26.7.3, 26.7.4: a finite sum for integer ν)."""
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df == 1:
        return 2 * theta / math.pi
    if df % 2 == 0:  # sinθ·[1 + ½cos²θ + (1·3)/(2·4)cos⁴θ + … + (1·3…(ν−3))/(2·4…(ν−2))·cos^(ν−2)θ]
        term = total = 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c2
            total += term
        return s * total
    # (2/π)·{θ + sinθ·[cosθ + (2/3)cos³θ + … + (2·4…(ν−3))/(1·3…(ν−2))cos^(ν−2)θ]}
    term = total = math.sqrt(c2)
    for k in range(1, (df - 1) // 2):
        term *= (2 * k) / (2 * k + 1) * c2
        total += term
    return 2 / math.pi * (theta + s * total)


def t_quantile(p, df):
    """The p-quantile of Student's t with df degrees of freedom (an int ≥ 1), for p in (0.5, 1): the t with
    P(T ≤ t) = p, so a 95% interval is mean ± t_quantile(0.975, n − 1)·s/√n. Solves A(t|ν) = 2p − 1 by
    bisection on θ = atan(t/√ν) (scipy is not needed); exact to ~1e-12."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df (degrees of freedom) must be an int >= 1, got {df!r}")
    if not 0.5 < p < 1:
        raise ValueError(f"p must lie in (0.5, 1), got {p!r}")
    low, high = 0.0, math.pi / 2
    for _ in range(200):
        mid = (low + high) / 2
        if mid in (low, high):
            break
        low, high = (mid, high) if _t_two_sided(mid, df) < 2 * p - 1 else (low, mid)
    return math.sqrt(df) * math.tan((low + high) / 2)


def interval(values, level=0.95):
    """(mean, std, lower, upper) of a sample: std the sample standard deviation (n − 1), [lower, upper] the
    t-interval mean ± t_quantile((1 + level)/2, n − 1)·std/√n. One value, or a value that is ±inf or nan (a curve
    that never decays has time constant inf): std, lower and upper are nan."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must hold at least one number, got none")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    mean = statistics.fmean(values) if all(math.isfinite(v) for v in values) else float(np.mean(values))
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return mean, math.nan, math.nan, math.nan
    std = statistics.stdev(values)
    half = t_quantile((1 + level) / 2, len(values) - 1) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def _decay(result):
    """(time constant, horizon) of the influence of x_0 on h_t, ‖∂h_t/∂x_0‖_F, of a trained model, averaged over
    the first INFLUENCE_SEQUENCES test sequences; a horizon beyond the sequence counts as inf."""
    config = result.config
    if config.task == "imdb":
        raise ValueError("influence=True needs the task's inputs, which imdb runs keep in the data set: summarize "
                         "imdb sweeps with influence=False")
    model = result.model
    if model is None:
        if result.path is None:
            raise ValueError(f"run {result.hash} has neither a model nor a stored path to load one from")
        model = Store(Path(result.path).parent).load(result.hash).model
    _, (x, _) = config.make_data()
    fit = fit_decay(influence_curve(model, torch.as_tensor(x[:INFLUENCE_SEQUENCES])))
    return fit.time_constant, math.inf if fit.horizon is None else float(fit.horizon)


def summarize(results, by=None, influence=False, level=0.95):
    """Mean, standard deviation and `level` interval across seeds, per group of runs that share the fields `by`.

    For each statistic (test_accuracy and test_loss; with influence=True also the time constant and horizon of
    ‖∂h_t/∂x_0‖, see rnnlab.memory.fit_decay) and each group of n runs with values v_i:

        mean = Σ v_i / n,   std = √(Σ (v_i − mean)² / (n − 1)),   mean ± t_{(1+level)/2, n−1}·std/√n

    the Student-t interval (t_quantile). Within a group the runs must differ in their seed only.

    Args:
        results: RunResults (a SweepResult's .results, rnnlab.runs.list_runs(), …); repeated hashes count once.
        by: RunConfig field names; default: every field that varies among the results, except seed.
        influence: also the decay of the influence of x_0 (loads each model; ~10 ms a run).
    Returns a list of dicts, one per group in order of first appearance: the `by` fields, n, seeds, hashes,
    chance, level, and <statistic>_mean, _std, _lower, _upper (None where the task has no such metric, e.g. accuracy of
    the adding task). Plain data: pandas.DataFrame(summary) is a table.
    """
    if isinstance(results, SweepResult):
        results = results.results
    results = list({r.config.hash: r for r in results}.values())
    if by is None:
        by = [f for f in FIELDS if f != "seed" and len({getattr(r.config, f) for r in results}) > 1]
    elif isinstance(by, str):
        by = [by]
    by = list(by)
    unknown = [b for b in by if b not in FIELDS]
    if unknown:
        raise ValueError(f"by must name RunConfig fields, got {unknown}; allowed: {', '.join(FIELDS)}")
    groups = {}
    for r in results:
        groups.setdefault(tuple(getattr(r.config, b) for b in by), []).append(r)
    names = STATISTICS + (DECAY_STATISTICS if influence else ())
    summary = []
    for key, runs in groups.items():
        for f in FIELDS:
            values = sorted({repr(getattr(r.config, f)) for r in runs})
            if f not in by and f != "seed" and len(values) > 1:
                raise ValueError(f"the group {dict(zip(by, key))} mixes runs that differ in {f} ({', '.join(values)})"
                                 f", not only in their seed: add {f!r} to by")
        row = dict(zip(by, key))
        row.update(n=len(runs), seeds=[r.config.seed for r in runs], hashes=[r.hash for r in runs],
                   chance=runs[0].metrics.get("chance"), level=level)
        values = {s: [r.metrics.get(s) for r in runs] for s in STATISTICS}
        if influence:
            decays = [_decay(r) for r in runs]
            values.update(time_constant=[d[0] for d in decays], horizon=[d[1] for d in decays])
        for s in names:
            stats = interval(values[s], level) if None not in values[s] else (None,) * 4
            row.update(zip((f"{s}_mean", f"{s}_std", f"{s}_lower", f"{s}_upper"), stats))
        summary.append(row)
    return summary


@dataclass(frozen=True, eq=False)
class LagProfile:
    """Mean test accuracy per lag across seeds and a band around it; what plots.accuracy_vs_lag_figure draws.
    lags holds the values of the field on the x axis: the lag, unless profiles(x=...) chose another."""

    lags: np.ndarray
    accuracy: np.ndarray
    chance: float
    lower: np.ndarray | None  # None when no lag has two seeds (no spread to show), or band=None
    upper: np.ndarray | None
    n: np.ndarray  # runs (seeds) behind each point


BANDS = ("interval", "std", None)


def profiles(summary, by="cell", band="interval", x="lag"):
    """Accuracy against lag, one LagProfile per value of `by`, from a summary grouped by `by` and "lag" (or x).

    by: a field name or a list of them (names then read "cell=lstm, hidden_size=32"). band: "interval" (the
    summary's t-interval), "std" (mean ± one standard deviation) or None (no band). x: the field against which
    accuracy is drawn, "lag" or another numeric field the summary is grouped by (length, hidden_size, …).
    Returns dict name → LagProfile, its x values sorted.
    """
    by = [by] if isinstance(by, str) else list(by)
    if not by:
        raise ValueError("by must name at least one field, got none")
    if band not in BANDS:
        raise ValueError(f"band must be 'interval' or 'std' (or None: no band), got {band!r}")
    if not isinstance(x, str) or x in by:
        raise ValueError(f"x must name a field that is not in by ({by}), got {x!r}")
    out = {}
    for row in summary:
        missing = [k for k in by + [x, "test_accuracy_mean"] if k not in row]
        if missing:
            raise ValueError(f"summary rows must have {missing}: summarize(results, by=[{', '.join(map(repr, by))}, "
                             f"{x!r}]) on runs with a test accuracy")
        if isinstance(row[x], bool) or not isinstance(row[x], Real):
            raise ValueError(f"x must be a numeric field, got {x} = {row[x]!r}")
        name = str(row[by[0]]) if len(by) == 1 else ", ".join(f"{k}={row[k]}" for k in by)
        out.setdefault(name, []).append(row)
    profiles = {}
    for name, rows in out.items():
        rows = sorted(rows, key=lambda r: r[x])
        xs = [r[x] for r in rows]
        if len(set(xs)) != len(xs):
            extra = sorted({k for r in rows for k in r if k in FIELDS and k not in by and k != x})
            raise ValueError(f"profile {name!r} has more than one row per {x}: the summary is also grouped by "
                             f"{extra}; add them to by")
        if len({r["chance"] for r in rows}) > 1:
            raise ValueError(f"profile {name!r} mixes chance levels {sorted({r['chance'] for r in rows})}")
        if None in [r["test_accuracy_mean"] for r in rows]:
            raise ValueError(f"profile {name!r}: its runs have no test accuracy (a regression task)")
        mean = np.array([r["test_accuracy_mean"] for r in rows], dtype=np.float64)
        if band == "interval":
            lower = np.array([r["test_accuracy_lower"] for r in rows], dtype=np.float64)
            upper = np.array([r["test_accuracy_upper"] for r in rows], dtype=np.float64)
        elif band == "std":
            std = np.array([r["test_accuracy_std"] for r in rows], dtype=np.float64)
            lower, upper = mean - std, mean + std
        if band is None or np.isnan(lower).all():
            lower = upper = None
        profiles[name] = LagProfile(np.array(xs), mean, float(rows[0]["chance"]), lower, upper,
                                    np.array([r["n"] for r in rows]))
    return profiles


def format_summary(summary):
    """A summary as a text table: the group's fields, n, and mean ± std [95% interval] of each statistic."""
    if not summary:
        return "no runs to summarize"
    keys = [k for k in summary[0] if k in FIELDS]
    stats = [s for s in STATISTICS + DECAY_STATISTICS if f"{s}_mean" in summary[0]
             and any(r[f"{s}_mean"] is not None for r in summary)]

    def cell(row, s):
        mean, std, lower, upper = (row[f"{s}_{p}"] for p in ("mean", "std", "lower", "upper"))
        if mean is None:
            return "-"
        if math.isnan(std):
            return f"{mean:.4g}"
        return f"{mean:.4g} ± {std:.2g} [{lower:.4g}, {upper:.4g}]"

    header = keys + ["n"] + [f"{s} (mean ± std [{summary[0]['level']:.0%} interval])" for s in stats]
    rows = [[str(r[k]) for k in keys] + [str(r["n"])] + [cell(r, s) for s in stats] for r in summary]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
