"""rnnlab.tasks: labels against their definitions (explicit loops), seeds, the adding baseline, bad arguments."""
import numpy as np
import pytest
import torch

from rnnlab import presets
from rnnlab.cli import main
from rnnlab.runs import RunConfig, load_run, run
from rnnlab.sweeps import load_sweep
from rnnlab.tasks import (ADDING_BASELINE_MSE, TASKS, Task, _generated, adding, chance_level, lag_recall, marked_recall,
                          task)


@pytest.mark.parametrize("length, lag", [(1, 0), (5, 0), (5, 2), (5, 4), (30, 29)])
def test_lag_recall_label_is_the_symbol_lag_steps_before_the_end_by_explicit_loop(length, lag):
    x, y = lag_recall(200, length, lag, num_symbols=5, seed=3)
    assert x.shape == (200, length) and y.shape == (200,)
    assert x.dtype == np.int64 and y.dtype == np.int64
    for i in range(200):
        t = length - 1 - lag
        assert y[i] == x[i][t]
    if lag == length - 1:
        np.testing.assert_array_equal(y, x[:, 0])  # the longest lag recalls x_0


def test_lag_recall_symbols_are_uniform_over_the_alphabet_chi_square():
    x, _ = lag_recall(4000, 10, 0, num_symbols=8, seed=0)
    assert x.min() == 0 and x.max() == 7
    counts = np.bincount(x.ravel(), minlength=8)
    expected = x.size / 8
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 24.3  # 99.9% quantile of χ² with 7 degrees of freedom


def test_same_seed_same_data_and_different_seeds_differ():
    a, b = lag_recall(50, 12, 3, 6, seed=7), lag_recall(50, 12, 3, 6, seed=7)
    np.testing.assert_array_equal(a[0], b[0]), np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], lag_recall(50, 12, 3, 6, seed=8)[0])
    p, q = adding(50, 12, seed=7), adding(50, 12, seed=7)
    np.testing.assert_array_equal(p[0], q[0]), np.testing.assert_array_equal(p[1], q[1])
    assert not np.array_equal(p[0], adding(50, 12, seed=8)[0])


@pytest.mark.parametrize("length", [2, 3, 10, 51])
def test_adding_has_one_marker_per_half_and_label_is_the_sum_of_marked_values_by_loop(length):
    x, y = adding(300, length, seed=1)
    assert x.shape == (300, length, 2) and y.shape == (300,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    half = length // 2
    for i in range(300):
        marked = [t for t in range(length) if x[i, t, 1] == 1.0]
        assert len(marked) == 2 and marked[0] < half <= marked[1]
        assert set(np.unique(x[i, :, 1])) <= {0.0, 1.0}
        assert y[i] == pytest.approx(x[i, marked[0], 0] + x[i, marked[1], 0], abs=1e-15)
    assert 0.0 <= x[..., 0].min() and x[..., 0].max() < 1.0


def test_adding_baseline_of_always_answering_one_measures_one_sixth():
    """Closed form: E[(v_a + v_b - 1)²] = Var(v_a + v_b) = 2/12 for independent U[0, 1]."""
    _, y = adding(200_000, 20, seed=0)
    mse = np.mean((y - 1.0) ** 2)
    # standard error of the mean of (y-1)²: sd ≈ 0.14, /√200000 ≈ 3e-4
    assert mse == pytest.approx(1 / 6, abs=2e-3)
    assert ADDING_BASELINE_MSE == pytest.approx(1 / 6, rel=1e-15)
    assert chance_level("adding") == ("mse", ADDING_BASELINE_MSE)


def test_lag_recall_chance_is_one_over_num_symbols_and_guessing_measures_it():
    _, y = lag_recall(100_000, 4, 1, num_symbols=5, seed=2)
    assert np.mean(y == 3) == pytest.approx(1 / 5, abs=5e-3)  # always answering one symbol
    assert chance_level("lag_recall", num_symbols=5) == ("accuracy", 0.2)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n=0), ValueError, ["n", "0", ">= 1"]),
    (dict(length=0), ValueError, ["length", "0"]),
    (dict(lag=-1), ValueError, ["lag", "-1", ">= 0"]),
    (dict(lag=10), ValueError, ["lag", "10", "length=10", "0 … 9"]),
    (dict(lag=11), ValueError, ["lag", "11"]),
    (dict(num_symbols=1), ValueError, ["num_symbols", "1", ">= 2"]),
    (dict(n=2.0), TypeError, ["n", "2.0", "int"]),
    (dict(length="10"), TypeError, ["length", "'10'"]),
    (dict(num_symbols=True), TypeError, ["num_symbols", "True"]),
    (dict(seed=-1), ValueError, ["seed", "-1"]),
    (dict(seed=0.5), TypeError, ["seed", "0.5"]),
])
def test_lag_recall_rejects_bad_arguments_naming_them(kwargs, error, words):
    args = dict(n=4, length=10, lag=0, num_symbols=3, seed=0) | kwargs
    with pytest.raises(error) as e:
        lag_recall(**args)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n=-3), ValueError, ["n", "-3"]),
    (dict(length=1), ValueError, ["length", ">= 2", "1"]),
    (dict(length=4.0), TypeError, ["length", "4.0"]),
])
def test_adding_rejects_bad_arguments_naming_them(kwargs, error, words):
    with pytest.raises(error) as e:
        adding(**(dict(n=4, length=10, seed=0) | kwargs))
    for w in words:
        assert w in str(e.value)


def test_chance_level_rejects_unknown_task_and_missing_num_symbols():
    with pytest.raises(ValueError, match="task must be one of 'lag_recall', 'marked_recall', 'adding', 'imdb', "
                                         "'copy_memory', got 'copy'"):
        chance_level("copy")
    with pytest.raises(ValueError, match="num_symbols"):
        chance_level("lag_recall")


# ------------------------------------------------------------------------------------------- the registry

SMALL = dict(length=6, n_train=40, n_test=24, hidden_size=4, embedding_dim=4, epochs=1, batch_size=8)


@pytest.mark.parametrize("name", ["lag_recall", "marked_recall", "adding"])
def test_every_generated_task_serves_data_samples_and_x0_perturbations_the_model_reads(name):
    """Oracles: the sizes the config asks for, the model's forward pass accepting what sample() draws, and a
    perturbed x_0 that differs from x_0 in every sequence while the rest of the sequence is left alone."""
    config = RunConfig(task=name, **SMALL)
    (x, y), (xt, yt) = config.make_data()
    assert len(x) == len(y) == 40 and len(xt) == len(yt) == 24 and x.shape[1] == 6
    model = config.build_model()
    xs, ys = presets.sample_input(config, length=9, seed=1, batch=3)
    assert model(xs).shape[0] == 3 and len(ys) == 3 and xs.shape[1] == 9
    first = presets.alternative_first_input(config, xs)
    assert first.shape == xs[:, 0].shape and bool((first != xs[:, 0]).reshape(3, -1).any(1).all())
    assert config.chance() == chance_level(name, num_symbols=config.num_symbols)


def test_an_unknown_task_is_refused_by_name_everywhere(tmp_path, capsys):
    for call in (lambda: RunConfig(task="copy"), lambda: chance_level("copy"), lambda: task("copy"),
                 lambda: load_sweep_text(tmp_path, '[grid]\ntask = ["copy"]\n')):
        with pytest.raises(ValueError, match="'copy'") as e:
            call()
        assert "lag_recall" in str(e.value)
    with pytest.raises(SystemExit) as e:
        main(["train", "--task", "copy", "--store", str(tmp_path)])
    assert e.value.code == 2 and "copy" in capsys.readouterr().err


def load_sweep_text(folder, text):
    path = folder / "s.toml"
    path.write_text(f"seeds = [0]\n{text}")
    return load_sweep(path)


def test_a_task_registered_in_tasks_trains_stores_and_samples_with_no_other_change(tmp_path, monkeypatch):
    """The README's "adding a task": one Task in TASKS. Here y = x_0 (recall the first symbol); oracle: its labels
    are the first column of its inputs, and it trains, stores and reads back through the ordinary run()."""
    def first(c, n, seed):
        x = np.random.default_rng(seed).integers(0, c.num_symbols, size=(n, c.length))
        return x, x[:, 0].copy()

    base = TASKS["lag_recall"]
    monkeypatch.setitem(TASKS, "first_symbol", Task(
        name="first_symbol", measures="recall x_0", data=_generated(first),
        sample=lambda c, batch, length, seed: tuple(map(torch.from_numpy, first(c, batch, seed))),
        perturb_first=base.perturb_first, chance=base.chance, model=base.model))
    config = RunConfig(task="first_symbol", **SMALL)
    (x, y), _ = config.make_data()
    assert np.array_equal(y, x[:, 0]) and config.chance() == ("accuracy", 1 / 8)
    result = run(config, store=tmp_path, progress=False)
    assert load_run(result.hash, store=tmp_path).config == config
    assert presets.sample_input(config, seed=2)[0].shape == (1, 6)


@pytest.mark.parametrize("length, lag, jitter", [(1, 0, 0), (8, 0, 0), (8, 3, 0), (8, 7, 0), (30, 5, 10), (30, 0, 29)])
def test_marked_recall_marks_exactly_one_step_lag_to_lag_plus_jitter_before_the_end_and_asks_for_its_symbol(
        length, lag, jitter):
    """Oracle: an explicit loop over each sequence, decoding token = symbol + K·marker."""
    K = 5
    x, y = marked_recall(400, length, lag, K, seed=7, jitter=jitter)
    assert x.shape == (400, length) and y.shape == (400,) and x.dtype == y.dtype == np.int64
    distances = set()
    for row, answer in zip(x, y):
        marked = [t for t in range(length) if row[t] >= K]
        assert len(marked) == 1 and all(0 <= v < 2 * K for v in row)
        t = marked[0]
        assert row[t] - K == answer and lag <= length - 1 - t <= lag + jitter
        distances.add(length - 1 - t)
    assert distances == set(range(lag, lag + jitter + 1))  # 400 draws cover ≤ 30 distances (miss p < 30·(29/30)^400)
    again, _ = marked_recall(400, length, lag, K, seed=7, jitter=jitter)
    assert np.array_equal(x, again)


def test_marked_recall_symbols_are_uniform_and_the_lag_must_fit():
    x, y = marked_recall(20000, 6, 2, 4, seed=0)
    counts = np.bincount(y, minlength=4) / 20000
    assert np.all(np.abs(counts - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 20000))  # 4 standard errors of a proportion
    with pytest.raises(ValueError, match="lag \\+ jitter must be < length.*lag=4, jitter=2, length=6"):
        marked_recall(3, 6, 4, 4, jitter=2)
    with pytest.raises(ValueError, match="lag \\+ jitter must be < length for task='marked_recall'"):
        RunConfig(task="marked_recall", length=6, lag=4, jitter=2)
    assert RunConfig(task="marked_recall", length=6, lag=4, jitter=1).chance() == ("accuracy", 1 / 8)
