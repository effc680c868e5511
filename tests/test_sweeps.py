"""rnnlab.sweeps: grid expansion, the local and Ray executors, failures and resuming, statistics across seeds.

Oracles: the grid against nested loops over its definition; each stored run against run() in this process; the
t quantile against closed forms (ν = 1, 2) and Simpson's rule on the t density; mean, std and interval against
the statistics module; the Ray executor against the local one.
"""
import functools
import math
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab.cli import main
from rnnlab.memory import fit_decay, influence_curve
from rnnlab.plots import accuracy_vs_lag_figure, summary_figure
from rnnlab.runs import RunConfig, RunResult, Store, run
from rnnlab.sweeps import (RAY_MISSING, LagProfile, Sweep, failures, interval, load_sweep, profiles, run_sweep,
                           stored_results, summarize, t_quantile, train_run)
from rnnlab.train import History

import diverging

REPO = Path(rnnlab.__file__).resolve().parent.parent
TINY = dict(length=6, n_train=64, n_test=32, hidden_size=8, embedding_dim=4, epochs=2, batch_size=16)
VOLATILE = ("seconds", "created")  # the only metrics that depend on when and how fast a run trained


def tiny_sweep(seeds=(0, 1)):
    return Sweep(base=dict(TINY), axes={"cell": ["simple_rnn", "gru"], "lag": [0, 3]}, seeds=list(seeds))


def _stable(metrics):
    return {k: v for k, v in metrics.items() if k not in VOLATILE}


# ---------------------------------------------------------------------------------------------- the grid

def test_grid_is_the_product_of_the_axes_in_file_order_with_the_seeds_fastest():
    axes = {"cell": ["simple_rnn", "lstm", "gru"], "hidden_size": [4, 8], "lag": [0, 2, 5]}
    sweep = Sweep(base=dict(TINY), axes=axes, seeds=[3, 1])
    expected = []  # the definition, written as nested loops
    for cell in axes["cell"]:
        for hidden_size in axes["hidden_size"]:
            for lag in axes["lag"]:
                for seed in (3, 1):
                    expected.append(RunConfig(**{**TINY, "cell": cell, "hidden_size": hidden_size, "lag": lag,
                                                 "seed": seed}))
    assert list(sweep.configs) == expected and len(expected) == 3 * 2 * 3 * 2
    assert len({c.hash for c in sweep.configs}) == len(expected) and sweep.invalid == ()


def test_a_sweep_without_axes_is_one_configuration_per_seed():
    sweep = Sweep(base=dict(TINY, cell="lstm"), axes={}, seeds=[0, 1, 2])
    assert list(sweep.configs) == [RunConfig(**TINY, cell="lstm", seed=s) for s in (0, 1, 2)]


def test_a_combination_invalid_only_together_is_skipped_and_listed_with_the_reason():
    sweep = Sweep(base=dict(TINY), axes={"length": [4, 12], "lag": [1, 8]}, seeds=[0])
    assert [(c.length, c.lag) for c in sweep.configs] == [(4, 1), (12, 1), (12, 8)]
    [(combination, reason)] = sweep.invalid
    assert combination == {"length": 4, "lag": 8} and "lag must be < length" in reason


@pytest.mark.parametrize("axes, words", [
    ({"cell": ["lstm", "lstn"]}, ["grid.cell = 'lstn'", "cell must be one of"]),
    ({"lag": [1, 200]}, ["grid.lag = 200", "lag must be < length"]),
    ({"hidden_size": [8, 0]}, ["grid.hidden_size = 0", "hidden_size must be >= 1"]),
])
def test_a_value_that_no_combination_can_use_is_an_error_naming_it(axes, words):
    with pytest.raises(ValueError) as e:
        Sweep(base=dict(TINY), axes=axes, seeds=[0])
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("text, error, words", [
    ("seeds = [0]\nepochs = 3\n", ValueError, ["unknown sweep keys ['epochs']", "[base] or [grid]"]),
    ("[base]\nlength = 5\n", ValueError, ["seeds = [0, 1, 2]"]),
    ("seeds = []\n", ValueError, ["seeds must be a non-empty list of ints >= 0"]),
    ("seeds = [0, -1]\n", ValueError, ["seeds must be a non-empty list of ints >= 0", "-1"]),
    ("seeds = [1, 1]\n", ValueError, ["more than once", "[1, 1]"]),
    ("seeds = [0]\n[grid]\nseed = [1, 2]\n", ValueError, ["must not set 'seed'"]),
    ("seeds = [0]\n[base]\nhidden = 3\n", ValueError, ["base names unknown RunConfig fields ['hidden']",
                                                       "hidden_size"]),
    ("seeds = [0]\n[grid]\ncell = []\n", ValueError, ["grid.cell must be a non-empty list"]),
    ("seeds = [0]\n[grid]\ncell = \"lstm\"\n", ValueError, ["grid.cell must be a non-empty list", "'lstm'"]),
    ("seeds = [0]\n[grid]\nlr = [0.1, 0.1]\n", ValueError, ["grid.lr lists 0.1 more than once"]),
    ("seeds = [0]\n[grid]\nlr = [[0.1]]\n", TypeError, ["grid.lr values must be a string, a number", "[0.1]"]),
    ("seeds = [0]\n[base]\nlength = \"long\"\n", ValueError, ["no valid run", "length must be an int"]),
    ("seeds = [0\n", ValueError, ["is not valid TOML"]),
])
def test_a_bad_sweep_file_is_refused_with_a_message_naming_the_file_and_the_key(tmp_path, text, error, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(error) as e:
        load_sweep(path)
    assert str(path) in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_none_in_a_sweep_file_stands_for_none_where_a_field_allows_it(tmp_path):
    path = tmp_path / "radius.toml"
    path.write_text('seeds = [0]\n[base]\nlength = 6\n[grid]\nspectral_radius = ["none", 0.9]\nclip = ["None"]\n')
    sweep = load_sweep(path)
    assert [c.spectral_radius for c in sweep.configs] == [None, 0.9] and sweep.configs[0].clip is None
    assert sweep.name == "radius"


def test_the_lecture_sweep_compares_three_cells_at_equal_state_size_from_lag_1_to_100_over_3_seeds():
    sweep = load_sweep(REPO / "sweeps" / "lecture.toml")
    assert sweep.name == "lecture" and sweep.invalid == ()
    assert {c.cell for c in sweep.configs} == {"simple_rnn", "lstm", "gru"}
    assert len({c.hidden_size for c in sweep.configs}) == 1 and {c.task for c in sweep.configs} == {"lag_recall"}
    lags = sorted({c.lag for c in sweep.configs})
    assert lags[0] == 1 and lags[-1] == 100 and all(c.lag < c.length for c in sweep.configs)
    assert sweep.seeds == (0, 1, 2) and len(sweep.configs) == 3 * len(lags) * 3


# ---------------------------------------------------------------------------------------------- running

def test_the_local_executor_stores_every_run_as_run_would_train_it_in_this_process(tmp_path):
    sweep = tiny_sweep()
    messages = []
    result = run_sweep(sweep, store=tmp_path, workers=2, progress=lambda f, m: messages.append((f, m)))
    assert (result.trained, result.skipped, result.failures) == (len(sweep.configs), 0, [])
    assert [r.hash for r in result.results] == [c.hash for c in sweep.configs]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        sorted(c.hash for c in sweep.configs)
    for config in sweep.configs:  # oracle: the same config trained here, without any executor
        here, stored = run(config, store=False, progress=False), Store(tmp_path).load(config)
        assert _stable(stored.metrics) == _stable(here.metrics)
        assert stored.history.loss == here.history.loss and stored.history.val_accuracy == here.history.val_accuracy
        for name, tensor in here.model.state_dict().items():
            assert torch.equal(stored.model.state_dict()[name], tensor), (config.hash, name)
    fractions = [f for f, _ in messages]
    assert fractions == [(i + 1) / len(sweep.configs) for i in range(len(sweep.configs))]
    assert messages[-1][1] == f"{len(sweep.configs)}/{len(sweep.configs)} runs, 0 failed"
    again = run_sweep(sweep, store=tmp_path, workers=2, progress=False)
    assert (again.trained, again.skipped) == (0, len(sweep.configs))
    assert all(r.cached for r in again.results)


def test_an_interrupted_sweep_resumes_with_exactly_the_runs_it_had_not_stored(tmp_path):
    sweep = tiny_sweep()

    def stop_after_two(fraction, message):
        if message.startswith("2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, store=tmp_path, workers=1, progress=stop_after_two)
    stored = {r.hash for r in Store(tmp_path).list()}
    assert stored == {c.hash for c in sweep.configs[:2]}  # one worker: the first two of the grid, nothing half-done
    assert [r.hash for r in stored_results(sweep, tmp_path)] == [c.hash for c in sweep.configs[:2]]
    resumed = run_sweep(sweep, store=tmp_path, workers=2, progress=False)
    assert (resumed.trained, resumed.skipped) == (len(sweep.configs) - 2, 2)
    assert {r.hash for r in resumed.results if not r.cached} == {c.hash for c in sweep.configs[2:]}
    assert {r.hash for r in Store(tmp_path).list()} == {c.hash for c in sweep.configs}


def test_a_stored_run_that_cannot_be_read_back_is_set_aside_and_trained_again(tmp_path):
    sweep, store = tiny_sweep(seeds=[0]), Store(tmp_path)
    run_sweep(sweep, store=store, workers=2, progress=False)
    broken = sweep.configs[1]
    (store.path(broken) / "metrics.json").write_text("{ truncated")
    with pytest.warns(UserWarning, match=f"run {broken.hash} .* is broken"):
        again = run_sweep(sweep, store=store, workers=2, progress=False)
    assert (again.trained, again.skipped) == (1, len(sweep.configs) - 1)
    assert [r.hash for r in again.results if not r.cached] == [broken.hash]
    assert _stable(store.load(broken).metrics) == _stable(run(broken, store=False, progress=False).metrics)
    assert [p.name.startswith(f".broken-{broken.hash}") for p in tmp_path.iterdir()].count(True) == 1


def _flaky_train(marker_dir, config):
    """train_run, except: seed 1 of simple_rnn/lag 0 fails on its first attempt, gru/lag 3/seed 0 on every one."""
    c = RunConfig.from_dict(config)
    if (c.cell, c.lag, c.seed) == ("gru", 3, 0):
        raise RuntimeError("this run always fails")
    marker = Path(marker_dir) / f"{c.hash}.tried"
    if (c.cell, c.lag, c.seed) == ("simple_rnn", 0, 1) and not marker.exists():
        marker.touch()
        raise RuntimeError("this run fails once")
    return train_run(config)


def _dying_train(marker_dir, config):
    """train_run, except that the worker process dies (as if killed) the first time it trains gru/lag 0/seed 0."""
    c = RunConfig.from_dict(config)
    marker = Path(marker_dir) / f"{c.hash}.tried"
    if (c.cell, c.lag, c.seed) == ("gru", 0, 0) and not marker.exists():
        marker.touch()
        os._exit(3)
    return train_run(config)


def test_a_worker_that_raises_is_retried_once_then_recorded_and_the_rest_completes(tmp_path):
    sweep, store = tiny_sweep(), Store(tmp_path / "runs")
    broken = RunConfig(**TINY, cell="gru", lag=3, seed=0)
    flaky = RunConfig(**TINY, cell="simple_rnn", lag=0, seed=1)
    result = run_sweep(sweep, store=store, workers=2, progress=False,
                       train=functools.partial(_flaky_train, str(tmp_path)))
    assert (tmp_path / f"{flaky.hash}.tried").exists() and flaky in store  # failed once, stored on its retry
    assert {r.hash for r in result.results} == {c.hash for c in sweep.configs} - {broken.hash}
    [record] = result.failures
    assert record["hash"] == broken.hash and record["attempts"] == 2
    assert record["error"] == "RuntimeError: this run always fails" and "_flaky_train" in record["traceback"]
    assert RunConfig.from_dict(record["config"]) == broken and broken not in store
    assert [f["hash"] for f in failures(store)] == [broken.hash]
    assert store.list() and all(r.hash != broken.hash for r in store.list())  # the record is not a run
    retried = run_sweep(sweep, store=store, workers=1, progress=False)  # the next call retries what failed
    assert (retried.trained, retried.failures) == (1, []) and broken in store and failures(store) == []


def test_a_worker_process_that_dies_is_retried_in_a_new_pool_and_the_rest_completes(tmp_path):
    sweep, store = tiny_sweep(seeds=[0]), Store(tmp_path / "runs")
    result = run_sweep(sweep, store=store, workers=2, progress=False,
                       train=functools.partial(_dying_train, str(tmp_path)))
    assert result.failures == [] and result.trained == len(sweep.configs)
    assert all(c in store for c in sweep.configs)


def test_run_sweep_refuses_bad_arguments_naming_them(tmp_path):
    sweep = tiny_sweep()
    for kwargs, error, words in [
        (dict(executor="dask"), ValueError, "executor must be one of 'local', 'ray', got 'dask'"),
        (dict(workers=0), ValueError, "workers must be an int >= 1"),
        (dict(address="auto"), ValueError, "address is for executor='ray'"),
        (dict(retries=-1), ValueError, "retries must be an int >= 0"),
        (dict(train=lambda c: c), TypeError, "train must pickle"),
        (dict(progress="yes"), TypeError, "progress must be True, False, None or a callable"),
    ]:
        with pytest.raises(error, match=words):
            run_sweep(sweep, store=tmp_path, **kwargs)
    with pytest.raises(TypeError, match="sweep must be a Sweep or a list of rnnlab.runs.RunConfig"):
        run_sweep(["not a config"], store=tmp_path)


def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ImportError) as e:
        run_sweep(tiny_sweep(), store=tmp_path, executor="ray", progress=False)
    assert str(e.value) == RAY_MISSING and "pip install 'rnnlab[ray]'" in str(e.value)
    assert not any(tmp_path.iterdir())  # nothing was started, nothing written


@pytest.mark.slow
def test_the_ray_executor_on_a_local_instance_stores_the_same_runs_as_the_local_executor(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'rnnlab[ray]'); .ci/run installs it")
    sweep = tiny_sweep()
    local = run_sweep(sweep, store=tmp_path / "local", workers=2, progress=False)
    distributed = run_sweep(sweep, store=tmp_path / "ray", executor="ray", workers=2, progress=False)
    assert distributed.failures == [] and distributed.trained == len(sweep.configs)
    assert [r.hash for r in distributed.results] == [r.hash for r in local.results]
    for a, b in zip(local.results, distributed.results):
        assert _stable(a.metrics) == _stable(b.metrics)
        assert {k: v for k, v in a.history.to_dict().items() if k != "seconds"} == \
            {k: v for k, v in b.history.to_dict().items() if k != "seconds"}
        wa, wb = Store(tmp_path / "local").load(a.hash).model, Store(tmp_path / "ray").load(b.hash).model
        assert all(torch.equal(wa.state_dict()[k], v) for k, v in wb.state_dict().items())


# ---------------------------------------------------------------------------------------------- statistics

@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_of_1_and_2_degrees_of_freedom_is_the_closed_form(p):
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)  # Cauchy
    a = 2 * p - 1  # ν = 2: P(|T| ≤ t) = t/√(2 + t²)
    assert t_quantile(p, 2) == pytest.approx(a * math.sqrt(2 / (1 - a * a)), rel=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 10, 29, 30, 100])
@pytest.mark.parametrize("p", [0.9, 0.975])
def test_t_quantile_leaves_mass_p_below_it_by_simpsons_rule_on_the_t_density(df, p):
    q = t_quantile(p, df)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    t = np.linspace(0.0, q, 20001)
    density = np.exp(log_c - (df + 1) / 2 * np.log1p(t * t / df))
    h = q / 20000
    mass = h / 3 * (density[0] + density[-1] + 4 * density[1:-1:2].sum() + 2 * density[2:-1:2].sum())
    assert 0.5 + mass == pytest.approx(p, abs=1e-10)


def test_t_quantile_tends_to_the_normal_quantile():
    assert t_quantile(0.975, 100_000) == pytest.approx(statistics.NormalDist().inv_cdf(0.975), abs=1e-4)
    with pytest.raises(ValueError, match="df .* must be an int >= 1, got 0"):
        t_quantile(0.975, 0)
    with pytest.raises(ValueError, match=r"p must lie in \(0.5, 1\), got 1.2"):
        t_quantile(1.2, 3)


def test_interval_is_mean_plus_minus_t_times_the_standard_error():
    values = [0.61, 0.72, 0.55, 0.69]
    mean, std = statistics.mean(values), statistics.stdev(values)
    half = t_quantile(0.975, 3) * std / math.sqrt(4)
    assert interval(values) == pytest.approx((mean, std, mean - half, mean + half), rel=1e-12)
    one = interval([0.5])
    assert one[0] == 0.5 and all(math.isnan(v) for v in one[1:])
    never = interval([math.inf, 3.0])  # a curve that never decays: time constant inf
    assert never[0] == math.inf and all(math.isnan(v) for v in never[1:])
    with pytest.raises(ValueError, match="level must lie in"):
        interval(values, level=95)


def _fake(metrics, **fields):
    return RunResult(RunConfig(**{**TINY, **fields}), History(), metrics, None, None)


def test_summarize_groups_by_the_fields_and_matches_a_hand_computation_across_seeds():
    acc = {("simple_rnn", 0): [0.9, 0.8, 0.85], ("simple_rnn", 3): [0.3, 0.2, 0.4], ("lstm", 3): [0.7, 0.75, 0.5]}
    results = [_fake({"test_accuracy": a, "test_loss": 1 - a, "chance": 0.125}, cell=cell, lag=lag, seed=seed)
               for (cell, lag), values in acc.items() for seed, a in enumerate(values)]
    summary = summarize(results + results[:2], by=["cell", "lag"])  # a repeated run counts once
    assert [(r["cell"], r["lag"]) for r in summary] == list(acc)
    t = 0.95 * math.sqrt(2 / (1 - 0.95**2))  # t_{0.975} with ν = n − 1 = 2, closed form
    for row, values in zip(summary, acc.values()):
        mean, std = statistics.mean(values), statistics.stdev(values)
        assert row["n"] == 3 and row["seeds"] == [0, 1, 2] and row["chance"] == 0.125
        assert row["test_accuracy_mean"] == pytest.approx(mean, rel=1e-12)
        assert row["test_accuracy_std"] == pytest.approx(std, rel=1e-12)
        assert row["test_accuracy_lower"] == pytest.approx(mean - t * std / math.sqrt(3), rel=1e-12)
        assert row["test_accuracy_upper"] == pytest.approx(mean + t * std / math.sqrt(3), rel=1e-12)
        assert row["test_loss_mean"] == pytest.approx(1 - mean, rel=1e-12)
    assert [r.keys() - {"lag", "cell"} for r in summarize(results)] == [r.keys() - {"lag", "cell"} for r in summary]
    assert [(r["cell"], r["lag"]) for r in summarize(results)] == list(acc)  # by default: what varies
    with pytest.raises(ValueError, match=r"mixes runs that differ in lag \(0, 3\).*add 'lag' to by"):
        summarize(results, by=["cell"])
    with pytest.raises(ValueError, match="by must name RunConfig fields, got \\['colour'\\]"):
        summarize(results, by=["colour"])


def test_summarize_leaves_the_accuracy_of_a_regression_task_empty():
    results = [_fake({"test_accuracy": None, "test_loss": loss, "chance": 0.17}, task="adding", seed=s)
               for s, loss in enumerate([0.1, 0.3])]
    [row] = summarize(results)
    assert row["test_accuracy_mean"] is None and row["test_accuracy_lower"] is None
    assert row["test_loss_mean"] == pytest.approx(0.2)


def test_summarize_with_influence_fits_the_decay_of_each_trained_model(tmp_path):
    configs = [RunConfig(**{**TINY, "length": 12}, seed=s) for s in (0, 1)]
    results = [run(c, store=tmp_path, progress=False) for c in configs]
    [row] = summarize([Store(tmp_path).load(c, weights=False) for c in configs], influence=True)
    fits = []  # oracle: the curve of each model on its first 64 test sequences, fitted directly
    for r in results:
        _, (x, _) = r.config.make_data()
        fits.append(fit_decay(influence_curve(r.model, torch.as_tensor(x[:64]))))
    time_constants = [f.time_constant for f in fits]
    horizons = [math.inf if f.horizon is None else f.horizon for f in fits]
    assert row["time_constant_mean"] == pytest.approx(statistics.fmean(time_constants), rel=1e-9)
    assert row["horizon_mean"] == pytest.approx(float(np.mean(horizons)))


def test_profiles_give_accuracy_against_lag_with_the_interval_as_band_for_the_figure():
    acc = {("gru", 5): [0.5, 0.6], ("gru", 1): [0.9, 1.0], ("lstm", 1): [1.0, 0.95], ("lstm", 5): [0.7, 0.6]}
    results = [_fake({"test_accuracy": a, "test_loss": 1.0, "chance": 0.125}, cell=cell, lag=lag, seed=seed)
               for (cell, lag), values in acc.items() for seed, a in enumerate(values)]
    summary = summarize(results, by=["cell", "lag"])
    p = profiles(summary)
    assert list(p) == ["gru", "lstm"] and isinstance(p["gru"], LagProfile)
    assert p["gru"].lags.tolist() == [1, 5] and p["gru"].chance == 0.125 and p["gru"].n.tolist() == [2, 2]
    assert p["gru"].accuracy == pytest.approx([0.95, 0.55])
    t = t_quantile(0.975, 1)
    half = t * statistics.stdev([0.9, 1.0]) / math.sqrt(2)
    assert p["gru"].lower[0] == pytest.approx(0.95 - half) and p["gru"].upper[0] == pytest.approx(0.95 + half)
    std = profiles(summary, band="std")["lstm"]
    assert std.upper[1] - std.accuracy[1] == pytest.approx(statistics.stdev([0.7, 0.6]))
    fig = accuracy_vs_lag_figure(p)
    band = next(tr for tr in fig.data if tr.name == "gru band")
    assert list(band.y) == pytest.approx(list(p["gru"].upper) + list(p["gru"].lower[::-1]))
    with pytest.raises(ValueError, match="summary rows must have \\['lag'\\]"):
        profiles([{k: v for k, v in row.items() if k != "lag"} for row in summary])
    with pytest.raises(ValueError, match="band must be 'interval' or 'std'"):
        profiles(summary, band="sem")


def test_profiles_of_single_seed_runs_have_no_band():
    results = [_fake({"test_accuracy": 0.5, "test_loss": 1.0, "chance": 0.125}, lag=lag) for lag in (0, 2)]
    p = profiles(summarize(results, by=["cell", "lag"]))["simple_rnn"]
    assert p.lower is None and p.upper is None and p.accuracy.tolist() == [0.5, 0.5]


T975 = {1: 12.706204736174707, 2: 4.302652729749464}  # t_{0.975,ν}: tan(0.475π) (Cauchy), 0.95·√(2/(1 − 0.95²))


def _accuracy_results(acc, x, chance=0.125, **fields):
    """Fake runs: acc maps (cell, value of x) → the test accuracy of seeds 0, 1, …"""
    return [_fake({"test_accuracy": a, "test_loss": 1 - a, "chance": chance}, cell=cell, seed=seed,
                  **{x: value}, **fields)
            for (cell, value), values in acc.items() for seed, a in enumerate(values)]


@pytest.mark.parametrize("x, values", [("length", (12, 6, 9)), ("hidden_size", (32, 8, 16))])
def test_profiles_against_another_numeric_field_are_sorted_by_it_with_numpy_means_and_t_intervals(x, values):
    """Oracle: numpy's mean and std (ddof=1) of the seeds, mean ± t_{0.975,n−1}·std/√n with the closed-form t."""
    big, small, middle = values  # given out of order: the profile sorts by x
    acc = {("gru", big): [0.5, 0.7, 0.65], ("gru", small): [0.9, 0.8], ("lstm", middle): [0.75, 0.7, 0.9],
           ("lstm", small): [1.0, 0.95], ("gru", middle): [0.6, 0.62]}
    summary = summarize(_accuracy_results(acc, x), by=["cell", x])
    for band in ("interval", "std", None):
        p = profiles(summary, by="cell", band=band, x=x)
        assert list(p) == ["gru", "lstm"] and all(isinstance(q, LagProfile) for q in p.values())
        for cell, profile in p.items():
            xs = sorted(v for c, v in acc if c == cell)
            seeds = [np.array(acc[(cell, v)], dtype=np.float64) for v in xs]
            mean = np.array([s.mean() for s in seeds])
            std = np.array([s.std(ddof=1) for s in seeds])
            half = np.array([T975[len(s) - 1] for s in seeds]) * std / np.sqrt([len(s) for s in seeds])
            assert profile.lags.tolist() == xs and profile.n.tolist() == [len(s) for s in seeds]
            assert profile.chance == 0.125
            np.testing.assert_allclose(profile.accuracy, mean, rtol=1e-12)
            if band is None:
                assert profile.lower is None and profile.upper is None
            else:
                spread = half if band == "interval" else std
                np.testing.assert_allclose(profile.lower, mean - spread, rtol=1e-12)
                np.testing.assert_allclose(profile.upper, mean + spread, rtol=1e-12)


def test_profiles_leave_a_gap_in_the_band_where_one_seed_gives_no_spread():
    """Oracle: numpy over the two seeds at length 9; a single seed at length 12 has no interval (nan), not None."""
    summary = summarize(_accuracy_results({("gru", 9): [0.8, 0.6], ("gru", 12): [0.5]}, "length"),
                        by=["cell", "length"])
    p = profiles(summary, x="length")["gru"]
    half = T975[1] * np.std([0.8, 0.6], ddof=1) / math.sqrt(2)
    assert p.lags.tolist() == [9, 12] and p.n.tolist() == [2, 1] and p.accuracy == pytest.approx([0.7, 0.5])
    assert p.lower[0] == pytest.approx(0.7 - half, rel=1e-12) and p.upper[0] == pytest.approx(0.7 + half, rel=1e-12)
    assert math.isnan(p.lower[1]) and math.isnan(p.upper[1])


def test_profiles_by_several_fields_name_each_curve_after_all_of_them():
    results = (_accuracy_results({("gru", 8): [0.6, 0.8], ("gru", 16): [0.9, 0.7]}, "hidden_size")
               + _accuracy_results({("gru", 8): [0.4]}, "hidden_size", optimizer="adam"))
    p = profiles(summarize(results, by=["cell", "optimizer", "hidden_size"]), by=["cell", "optimizer"],
                 x="hidden_size")
    assert list(p) == ["cell=gru, optimizer=rmsprop", "cell=gru, optimizer=adam"]
    assert p["cell=gru, optimizer=rmsprop"].accuracy == pytest.approx([0.7, 0.8], rel=1e-12)
    assert p["cell=gru, optimizer=adam"].lags.tolist() == [8] and p["cell=gru, optimizer=adam"].lower is None


def _error_summaries():
    acc = {("gru", 1): [0.9, 0.8], ("gru", 2): [0.7, 0.8], ("lstm", 1): [1.0, 0.9]}
    by_lag = summarize(_accuracy_results(acc, "lag"), by=["cell", "lag"])
    by_optimizer = summarize(_accuracy_results(acc, "lag") + _accuracy_results(acc, "lag", optimizer="sgd"),
                             by=["cell", "lag", "optimizer"])
    by_radius = summarize(_accuracy_results(acc, "lag", spectral_radius=None)
                          + _accuracy_results(acc, "lag", spectral_radius=0.9), by=["cell", "lag", "spectral_radius"])
    by_length = summarize(_accuracy_results(acc, "lag") + _accuracy_results(acc, "lag", length=12),
                          by=["cell", "length", "lag"])
    return dict(by_lag=by_lag, by_optimizer=by_optimizer, by_radius=by_radius, by_length=by_length)


@pytest.mark.parametrize("summary, kwargs, message", [
    ("by_lag", dict(by=["cell", "lag"], x="lag"), r"x must name a field that is not in by \(\['cell', 'lag'\]\), "
                                                  r"got 'lag'"),
    ("by_lag", dict(x=3), r"x must name a field that is not in by \(\['cell'\]\), got 3"),
    ("by_optimizer", dict(by=["cell", "lag"], x="optimizer"), "x must be a numeric field, got optimizer = 'rmsprop'"),
    ("by_radius", dict(by=["cell", "lag"], x="spectral_radius"),
     "x must be a numeric field, got spectral_radius = None"),
    ("by_length", dict(x="lag"), r"profile 'gru' has more than one row per lag: the summary is also grouped by "
                                 r"\['length'\]; add them to by"),
    ("by_length", dict(by="cell", x="length"), r"profile 'gru' has more than one row per length: the summary is "
                                               r"also grouped by \['lag'\]"),
    ("by_lag", dict(x="hidden_size"), r"summary rows must have \['hidden_size'\]: summarize\(results, "
                                      r"by=\['cell', 'hidden_size'\]\)"),
    ("by_lag", dict(band="sem"), r"band must be 'interval' or 'std' \(or None: no band\), got 'sem'"),
    ("by_lag", dict(band="none"), r"band must be 'interval' or 'std' \(or None: no band\), got 'none'"),
    ("by_lag", dict(by=[]), "by must name at least one field, got none"),
])
def test_profiles_refuse_a_bad_x_band_or_grouping_naming_the_argument_and_the_value(summary, kwargs, message):
    with pytest.raises(ValueError, match=message):
        profiles(_error_summaries()[summary], **kwargs)


def test_summary_figure_of_summarize_draws_numpy_means_of_the_seeds_with_their_t_interval():
    """Oracle: numpy's mean and std (ddof=1) of each group's seeds and the closed-form t of ν = 1, 2."""
    acc = {("gru", 1): [0.9, 1.0], ("gru", 5): [0.5, 0.6, 0.7], ("lstm", 1): [1.0, 0.95, 0.97],
           ("lstm", 5): [0.7, 0.6]}
    fig = summary_figure(summarize(_accuracy_results(acc, "lag"), by=["cell", "lag"]), by="cell", x="lag")
    assert [bar.name for bar in fig.data] == ["gru", "lstm"]
    for bar in fig.data:
        seeds = [np.array(acc[(bar.name, lag)]) for lag in (1, 5)]
        half = [T975[len(s) - 1] * s.std(ddof=1) / math.sqrt(len(s)) for s in seeds]
        assert list(bar.x) == ["lag = 1", "lag = 5"]
        np.testing.assert_allclose(bar.y, [s.mean() for s in seeds], rtol=1e-12)
        np.testing.assert_allclose(bar.error_y.array, half, rtol=1e-9)
        np.testing.assert_allclose(bar.error_y.arrayminus, half, rtol=1e-9)


def test_summary_figure_of_summarize_puts_the_places_in_the_order_of_x_whatever_the_order_of_the_runs():
    """Runs given at lag 10, then 5, then 1: the places read numpy's sort of the lags, with numpy's means."""
    acc = {("gru", 10): [0.3, 0.4], ("gru", 5): [0.5, 0.7], ("gru", 1): [0.9, 1.0]}
    fig = summary_figure(summarize(_accuracy_results(acc, "lag", length=12), by=["cell", "lag"]), x="lag")
    lags = np.sort([k for _, k in acc])
    assert list(fig.data[0].x) == [f"lag = {k}" for k in lags]
    np.testing.assert_allclose(fig.data[0].y, [np.mean(acc[("gru", k)]) for k in lags], rtol=1e-12)


def test_summary_figure_of_a_regression_sweep_draws_its_mse_baseline_on_the_loss_axis_only():
    """The adding task: summarize leaves its accuracy None and its chance is RunConfig.chance()'s MSE of a constant
    answer; the loss bars are numpy's means of the seeds, the baseline a line on the loss axis, none on accuracy."""
    metric, baseline = RunConfig(task="adding").chance()
    losses = {"gru": [0.05, 0.09], "lstm": [0.2, 0.1]}
    results = [_fake({"test_accuracy": None, "test_loss": loss, "chance": baseline}, task="adding", cell=cell, seed=s)
               for cell, values in losses.items() for s, loss in enumerate(values)]
    summary = summarize(results, by=["cell"])
    fig = summary_figure(summary, statistic="test_loss")
    (line,) = fig.layout.shapes
    assert metric == "mse" and line.y0 == line.y1 == baseline
    np.testing.assert_allclose([bar.y[0] for bar in fig.data], [np.mean(v) for v in losses.values()], rtol=1e-12)
    fig = summary_figure(summary)
    assert not fig.layout.shapes and [a.text for a in fig.layout.annotations] == [
        "no test accuracy for this task: gru, lstm"]


@pytest.mark.parametrize("kind", [np.int64, np.float64])
def test_profiles_take_numpy_numbers_as_x_sorted_with_numpy_means(kind):
    """Rows whose x values are numpy scalars (a summary built with numpy, or read back through pandas)."""
    acc = {("gru", 9): [0.8, 0.6], ("gru", 3): [0.9, 1.0]}
    summary = [{**row, "length": kind(row["length"])}
               for row in summarize(_accuracy_results(acc, "length"), by=["cell", "length"])]
    p = profiles(summary, x="length")["gru"]
    lengths = np.sort([k for _, k in acc])
    assert p.lags.tolist() == lengths.tolist()
    np.testing.assert_allclose(p.accuracy, [np.mean(acc[("gru", k)]) for k in lengths], rtol=1e-12)


# ---------------------------------------------------------------------------------------------- command line

def _write_tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    base = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    path.write_text(f'seeds = [0, 1]\n[base]\n{base}\n[grid]\ncell = ["simple_rnn", "gru"]\nlength = [4, 6]\n'
                    f'lag = [0, 5]\n')
    return path


def test_cli_sweep_trains_prints_the_summary_and_skips_the_stored_runs_the_second_time(tmp_path, capsys):
    path, store = _write_tiny(tmp_path), tmp_path / "runs"
    argv = ["sweep", str(path), "--store", str(store), "--workers", "2", "--no-progress"]
    assert main(argv + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sweep tiny: 12 runs = 6 configurations × 2 seeds" in out and "0 already in" in out
    assert "skipped cell=simple_rnn, length=4, lag=5: lag must be < length" in out
    assert main(argv) == 0
    out = capsys.readouterr().out
    summary = summarize(Store(store).list(), by=["cell", "length", "lag"])
    assert "12 trained, 0 from the store, 0 failed" in out and len(summary) == 6
    for row in summary:  # one line per configuration: its fields, n and the mean accuracy
        line = next(x.split() for x in out.splitlines()
                    if x.split()[:3] == [row["cell"], str(row["length"]), str(row["lag"])])
        assert line[3] == "2" and float(line[4]) == pytest.approx(row["test_accuracy_mean"], rel=1e-3)
    assert main(argv) == 0
    assert "0 trained, 12 from the store, 0 failed" in capsys.readouterr().out


def test_cli_sweep_with_a_diverging_run_records_it_prints_it_and_exits_1(tmp_path, capsys):
    path, store = tmp_path / "diverge.toml", tmp_path / "runs"
    base = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    path.write_text(f'seeds = [0]\n[base]\n{base}\n{diverging.TOML}\n[grid]\n'
                    f'spectral_radius = [0.5, {diverging.RHO}]\n')
    planted = RunConfig(**TINY, **diverging.BASE, spectral_radius=diverging.RHO)
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(path), "--store", str(store), "--no-progress"])
    out, err = capsys.readouterr()
    assert e.value.code == 1 and "1 of 2 runs failed" in err and len(err.strip().splitlines()) == 1
    assert f"failed {planted.hash} after 2 attempts: TrainingDiverged" in out
    assert "sweep diverge: 2 runs = 2 configurations × 1 seed\n" in out
    assert "1 trained, 0 from the store, 1 failed" in out
    assert [f["hash"] for f in failures(store)] == [planted.hash]


@pytest.mark.parametrize("extra, words", [
    (["--address", "auto"], "--address is for --executor ray"),
    (["--workers", "0"], "must be an int >= 1"),
])
def test_cli_sweep_bad_options_exit_2_with_one_line(tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(_write_tiny(tmp_path)), "--store", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert e.value.code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_cli_sweep_bad_or_missing_file_exits_2_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('seeds = [0]\n[grid]\ncell = ["lstn"]\n')
    for path, words in [(bad, "grid.cell = 'lstn' gives no valid run"), (tmp_path / "none.toml", "cannot read")]:
        with pytest.raises(SystemExit) as e:
            main(["sweep", str(path), "--store", str(tmp_path)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and words in err and str(path) in err and len(err.strip().splitlines()) == 1


def test_cli_sweep_with_ray_missing_exits_1_saying_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SystemExit) as e:
        main(["sweep", str(_write_tiny(tmp_path)), "--store", str(tmp_path / "runs"), "--executor", "ray"])
    assert e.value.code == 1 and "pip install 'rnnlab[ray]'" in capsys.readouterr().err
