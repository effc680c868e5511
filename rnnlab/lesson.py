"""The lesson, measured and shipped: how far back each cell recalls one marked symbol, and why.

    rnnlab lesson        # trains sweeps/reach*.toml (resumable), searches each cell's reach, writes rnnlab/shipped/

SWEEPS are sweeps/reach.toml and sweeps/reach_gru.toml: marked_recall (one of 8 symbols marked `lag` steps before
the end, 10 distractors before it), lags 1, 2, 4, … 256, a SimpleRNN (Keras' initialisation), an LSTM (Keras' and
chrono initialisation) and a GRU (chrono), 32 state units each, 3 seeds, Adam 3e-3 with the gradient norm clipped
to 1, up to 10 epochs of 10,000 sequences, stopped once an epoch's training accuracy reaches 0.99. `write` then

- searches each configuration's reach per seed (experiments.reach: it reuses the sweep's doubling lags, doubles on
  up to MAX_LAG, and bisects between the last lag learnt and the first not learnt, to within TOLERANCE),
- measures ‖∂h_t/∂x_0‖ over T = 1,000 steps of each seed's model at initialisation and trained at its reach
  (float64, INFLUENCE_SEQUENCES random sequences), with its time constant and 10⁻³ horizon (memory.fit_decay),
- and writes what the dashboard's first page draws, so it waits on nothing: shipped/lesson.json (accuracy
  against the lag with intervals across seeds, the reach, the normalised influence curves, decay against reach)
  and the seed-0 models trained at lag 64 as a small run store, shipped/runs.

`load()` reads the shipped summary back (or None where none is shipped).
"""
import copy
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from . import __version__, files, memory, presets
from .experiments import fitted, reach
from .runs import RunConfig, Store, run
from .sweeps import LagPlus, Sweep, interval, run_sweep, summarize

SHIPPED = Path(__file__).with_name("shipped")
BASE = dict(task="marked_recall", num_symbols=8, hidden_size=32, embedding_dim=16, n_train=10000, n_test=1000,
            epochs=10, batch_size=32, optimizer="adam", lr=0.003, clip=1.0, stop_at=0.99)
PREFIX = 10  # distractor steps before the marked one: length = lag + 1 + PREFIX
LAGS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SEEDS = (0, 1, 2)
GROUPS = (("simple_rnn", "keras"), ("lstm", "keras"), ("lstm", "chrono"), ("gru", "chrono"))
SWEEPS = (Sweep(base={**BASE, "length": LagPlus(PREFIX + 1)},
                axes={"cell": ["simple_rnn", "lstm"], "init": ["keras", "chrono"], "lag": list(LAGS)},
                seeds=list(SEEDS), name="reach"),
          Sweep(base={**BASE, "length": LagPlus(PREFIX + 1), "cell": "gru", "init": "chrono"}, axes={"lag": list(LAGS)},
                seeds=list(SEEDS), name="reach_gru"))
TOLERANCE = 0.125  # each reach is searched to within 1/8 of its value (experiments.reach)
MAX_LAG = 1024  # the reach search goes on doubling past the sweep's lags, up to this
SHOWN_LAG = 64  # the lag at which the shipped checkpoints were trained (each cell learns it)
INFLUENCE_LENGTH = 1000
INFLUENCE_SEQUENCES = 16
THRESHOLD = 1e-3  # the horizon: the first t where ‖∂h_t/∂x_0‖ < 10⁻³·‖∂h_0/∂x_0‖
MAX_BYTES = 4 << 20  # the shipped summary is read only if it is a regular file of at most this size


def name(cell, init):
    """How the lesson names a configuration: "SimpleRNN", "LSTM (chrono)", …"""
    label = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[cell]
    return label if cell == "simple_rnn" else f"{label} ({init})"


def config(cell, init, lag, seed=0):
    """The sweep's RunConfig of one configuration at one lag."""
    return RunConfig(**BASE, cell=cell, init=init, lag=lag, length=lag + 1 + PREFIX, seed=seed)


def _round(values, digits=4):
    """Floats to `digits` significant digits (None where not finite): the shipped JSON stays small."""
    return [float(f"{v:.{digits}g}") if v is not None and math.isfinite(v) else None for v in values]


def _decay(model, cfg):
    """‖∂h_t/∂x_0‖ / ‖∂h_0/∂x_0‖ over INFLUENCE_LENGTH steps of cfg's task, and its fitted decay."""
    x, _ = presets.sample_input(cfg, INFLUENCE_LENGTH, seed=0, batch=INFLUENCE_SEQUENCES)
    curve = memory.influence_curve(copy.deepcopy(model).double().eval(), x)  # float64, on a copy
    curve = curve / curve[0]
    fit = fitted(curve, THRESHOLD)
    horizon = None if fit is None or fit.horizon is None else int(fit.horizon)
    tau = None if fit is None or not math.isfinite(fit.time_constant) else float(fit.time_constant)
    return curve, {"horizon": horizon, "time_constant": tau, "regime": None if fit is None else fit.regime}


def write(store=None, out=None, workers=None, progress=True):
    """Train what the store lacks, search each reach, measure the decays, and write `out` (lesson.json and runs/).
    Returns the summary written (a dict)."""
    out = SHIPPED if out is None else out
    say = (lambda message: print(message, flush=True)) if progress else (lambda message: None)
    started = time.time()
    results = []
    for sweep in SWEEPS:
        swept = run_sweep(sweep, store=store, workers=workers, progress=progress)
        if swept.failures:
            raise RuntimeError(f"{len(swept.failures)} runs of {sweep.name} failed: see <store>/.failures")
        results += swept.results
    rows = summarize(results, by=["cell", "init", "lag"])
    by_hash = {r.hash: r for r in results}
    statistics = ("test_accuracy_mean", "test_accuracy_std", "test_accuracy_lower", "test_accuracy_upper")
    accuracy = [{"name": name(row["cell"], row["init"])}
                | {k: row[k] for k in ("cell", "init", "lag", "n", "seeds", "chance")}
                | {k: _round([row[k]])[0] for k in statistics}
                | {"per_seed": [by_hash[h].metrics["test_accuracy"] for h in row["hashes"]]}
                for row in rows]
    reaches, influence, points = {}, {}, []
    shipped = Store(Path(out) / "runs")
    for cell, init in GROUPS:
        label = name(cell, init)
        found = reach(config(cell, init, 1), seeds=SEEDS, max_lag=MAX_LAG, store=store, tolerance=TOLERANCE,
                      progress=lambda message, label=label: say(f"{label}: {message}"))
        mean, std, lower, upper = interval(list(found.per_seed.values()))
        reaches[label] = {"cell": cell, "init": init, "per_seed": {str(s): v for s, v in found.per_seed.items()},
                          "tried": {str(s): {str(k): v for k, v in t.items()} for s, t in found.tried.items()},
                          "mean": mean, "std": _round([std])[0], "lower": _round([lower])[0],
                          "upper": _round([upper])[0], "threshold": found.threshold, "max_lag": found.max_lag}
        for seed, lag in found.per_seed.items():
            trained = run(config(cell, init, max(lag, 1), seed), store=store, progress=False)
            at_init = config(cell, init, max(lag, 1), seed).build_model()
            _, before = _decay(at_init, trained.config)
            _, after = _decay(trained.model, trained.config)
            points.append({"name": label, "cell": cell, "init": init, "seed": seed, "reach": lag,
                           "at_init": before, "trained": after})
        shown = run(config(cell, init, SHOWN_LAG, 0), store=store, progress=False)
        curve_trained, fit_trained = _decay(shown.model, shown.config)
        curve_init, fit_init = _decay(shown.config.build_model(), shown.config)
        influence[label] = {"lag": SHOWN_LAG, "seed": 0, "hash": shown.hash,
                            "test_accuracy": shown.metrics["test_accuracy"],
                            "trained": {"curve": _round(curve_trained), **fit_trained},
                            "at_init": {"curve": _round(curve_init), **fit_init}}
        if shown.hash not in shipped:
            shipped.save(shown.config, shown.history, shown.metrics, shown.model)
    summary = {"about": "rnnlab.lesson: written by `rnnlab lesson` from sweeps/reach.toml and sweeps/reach_gru.toml",
               "rnnlab": __version__, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
               "written": time.strftime("%Y-%m-%d"), "base": BASE, "prefix": PREFIX, "lags": list(LAGS),
               "seeds": list(SEEDS), "groups": [name(c, i) for c, i in GROUPS],
               "training_seconds": sum(r.metrics["seconds"] for r in results),  # the sweeps' runs
               "tolerance": TOLERANCE,
               "wall_seconds": time.time() - started, "accuracy": accuracy, "reach": reaches,
               "influence": influence, "influence_length": INFLUENCE_LENGTH, "threshold": THRESHOLD,
               "decay_vs_reach": points}
    with files.atomic_file(Path(out) / "lesson.json") as f:
        f.write((json.dumps(summary, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return summary


def load(folder=None):
    """The shipped summary (a dict, see write), or None if `folder` (default: SHIPPED) holds none. Read only from a
    regular file of at most MAX_BYTES, as JSON."""
    path = Path(SHIPPED if folder is None else folder) / "lesson.json"
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_BYTES:
            return None
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def shipped_store(folder=None):
    """The shipped checkpoints as a run store (read it; run() would train into it)."""
    return Store(Path(SHIPPED if folder is None else folder) / "runs")


def correlation(points, key="trained", statistic="time_constant"):
    """Pearson's r between log(reach) and log(statistic) over the points whose both values are finite and > 0 (the
    decay-vs-reach picture's number), and how many points it used."""
    pairs = [(p["reach"], p[key][statistic]) for p in points
             if p["reach"] and p[key][statistic] and math.isfinite(p[key][statistic])]
    if len(pairs) < 3:
        return math.nan, len(pairs)
    r = np.corrcoef(np.log([a for a, _ in pairs]), np.log([b for _, b in pairs]))[0, 1]
    return float(r), len(pairs)
