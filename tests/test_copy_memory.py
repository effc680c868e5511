"""The copy task (Arjovsky, Shah & Bengio, 2016): inputs and labels against the definition written as a loop, the
memoryless baseline against torch's cross-entropy, the RunConfig mapping, and a short copy learned end to end."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab import presets
from rnnlab.cli import main
from rnnlab.runs import RunConfig, load_run, run
from rnnlab.tasks import chance_level, copy_memory, copy_memory_baseline

K = 8  # symbols to copy from; the paper's too


def _definition(symbols, length):
    """x_t and y_t for one sequence as the module docstring defines them, one step at a time."""
    k = len(symbols)
    T = length - 2 * k
    x, y = [], []
    for t in range(length):
        x.append(symbols[t] if t < k else K + 1 if t == T + k - 1 else 0)
        y.append(symbols[t - T - k] if t >= T + k else 0)
    return x, y


@pytest.mark.parametrize("length, k", [(3, 1), (9, 3), (12, 2), (30, 10)])
def test_inputs_and_labels_follow_the_definition_by_explicit_loop(length, k):
    x, y = copy_memory(50, length, k, K, seed=1)
    assert x.shape == y.shape == (50, length) and x.dtype == y.dtype == np.int64
    for i in range(50):
        symbols = x[i, :k].tolist()
        assert all(1 <= s <= K for s in symbols)
        expected_x, expected_y = _definition(symbols, length)
        assert x[i].tolist() == expected_x and y[i].tolist() == expected_y


def test_the_paper_layout_k_symbols_t_minus_1_blanks_the_delimiter_k_blanks():
    """T = 100, k = 10 as in the paper: 10 symbols, 99 blanks, the delimiter, 10 blanks; 110 blank targets, then
    the 10 symbols."""
    x, y = copy_memory(3, 120, 10, K, seed=0)
    assert (x[:, 10:109] == 0).all() and (x[:, 109] == K + 1).all() and (x[:, 110:] == 0).all()
    assert (y[:, :110] == 0).all() and np.array_equal(y[:, 110:], x[:, :10])


def test_symbols_are_uniform_over_1_to_k_chi_square_and_the_seed_fixes_them():
    x, _ = copy_memory(4000, 21, 10, K, seed=0)
    counts = np.bincount(x[:, :10].ravel(), minlength=K + 1)
    assert counts[0] == 0 and counts.sum() == 40_000
    expected = 40_000 / K
    assert ((counts[1:] - expected) ** 2 / expected).sum() < 24.3  # 99.9% quantile of χ² with 7 degrees of freedom
    assert np.array_equal(copy_memory(5, 9, 2, K, seed=3)[0], copy_memory(5, 9, 2, K, seed=3)[0])
    assert not np.array_equal(copy_memory(5, 9, 2, K, seed=3)[0], copy_memory(5, 9, 2, K, seed=4)[0])


@pytest.mark.parametrize("length, k", [(7, 2), (120, 10), (21, 10)])
def test_baseline_is_the_mean_cross_entropy_of_the_memoryless_answer(length, k):
    """Oracle: torch's cross-entropy of the constant predictor (probability 1 on blank for the first T + k steps,
    1/K on each symbol for the last k), and the model's own loss on it, against k·log(K)/(T + 2k). Every step
    scores exactly 0 or log K: only rounding separates them (float64, rel 1e-12)."""
    _, y = copy_memory(64, length, k, K, seed=2)
    logits = torch.full((64, length, K + 1), -math.inf, dtype=torch.float64)
    logits[:, : length - k, 0] = 0.0
    logits[:, length - k :, 1:] = 0.0
    measured = F.cross_entropy(logits.reshape(-1, K + 1), torch.from_numpy(y).reshape(-1))
    expected = k * math.log(K) / length
    assert float(measured) == pytest.approx(expected, rel=1e-12)
    assert copy_memory_baseline(length, k, K) == pytest.approx(expected, rel=1e-15)
    model = RunConfig(task="copy_memory", head="each", length=length, copy_symbols=k).build_model()
    assert float(model.loss(logits, torch.from_numpy(y))) == pytest.approx(expected, rel=1e-12)


def test_chance_accuracy_on_the_answers_is_one_over_k_and_guessing_measures_it():
    """Always answering symbol 1: right on 1/K of the answers (standard error √(1/8·7/8/100000) ≈ 1e-3)."""
    _, y = copy_memory(50_000, 5, 2, K, seed=5)
    assert np.mean(y[:, -2:] == 1) == pytest.approx(1 / K, abs=5e-3)
    assert chance_level("copy_memory", num_symbols=K) == ("accuracy", 1 / K)
    assert RunConfig(task="copy_memory", head="each", length=30).chance() == ("accuracy", 1 / K)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n=0), ValueError, ["n", "0"]),
    (dict(length=6), ValueError, ["length", "6", "2·copy_symbols + 1 = 7"]),
    (dict(copy_symbols=0), ValueError, ["copy_symbols", "0", ">= 1"]),
    (dict(copy_symbols=2.0), TypeError, ["copy_symbols", "2.0"]),
    (dict(num_symbols=1), ValueError, ["num_symbols", "1", ">= 2"]),
    (dict(seed=-1), ValueError, ["seed", "-1"]),
])
def test_copy_memory_rejects_bad_arguments_naming_them(kwargs, error, words):
    with pytest.raises(error) as e:
        copy_memory(**(dict(n=4, length=9, copy_symbols=3, num_symbols=K, seed=0) | kwargs))
    for w in words:
        assert w in str(e.value)


# ------------------------------------------------------------------------------------------------ as a RunConfig

SMALL = dict(task="copy_memory", head="each", length=9, copy_symbols=3, n_train=48, n_test=24, hidden_size=6,
             embedding_dim=4, epochs=1, batch_size=16)


@pytest.mark.parametrize("changes, words", [
    (dict(length=6), ["length", "6", "= 7", "copy_memory"]),
    (dict(head="last"), ["head", "'each'", "'last'", "copy_memory"]),
    (dict(head="flatten"), ["head", "'each'", "'flatten'"]),
    (dict(task="lag_recall"), ["head", "'last' or 'flatten'", "'each'", "lag_recall"]),
    (dict(copy_symbols=0), ["copy_symbols", "0", ">= 1"]),
])
def test_run_config_refuses_what_the_copy_task_cannot_be_and_names_the_field(changes, words):
    with pytest.raises(ValueError) as e:
        RunConfig(**(SMALL | changes))
    for w in words:
        assert w in str(e.value)


def test_run_config_maps_length_to_t_plus_2k_and_builds_a_per_step_model_over_k_plus_2_ids():
    config = RunConfig(**SMALL)
    assert RunConfig().copy_symbols == 10 and RunConfig(copy_symbols=10).hash == RunConfig().hash
    (x, y), (xt, yt) = config.make_data()
    assert x.shape == y.shape == (48, 9) and xt.shape == yt.shape == (24, 9)
    assert (x[:, 5] == K + 1).all() and np.array_equal(y[:, 6:], x[:, :3])  # T = 9 − 6 = 3: the delimiter at T+k−1
    model = config.build_model()
    assert (model.head, model.embedding.num_embeddings, model.num_classes) == ("each", K + 2, K + 1)
    assert model(torch.from_numpy(x[:2])).shape == (2, 9, K + 1)


@pytest.mark.parametrize("length, k", [(40, 3), (9, 3), (6, 2), (3, 1)])
def test_samples_of_any_length_keep_as_many_symbols_as_fit_and_x0_moves_to_another_symbol(length, k):
    """sample_input at lengths other than the config's: k' = min(copy_symbols, (length − 1)//2), so T ≥ 1."""
    config = RunConfig(**SMALL)
    x, y = presets.sample_input(config, length=length, seed=1, batch=4)
    symbols = x[0, :k].tolist()
    assert (x[0].tolist(), y[0].tolist()) == _definition(symbols, length)
    first = presets.alternative_first_input(config, x)
    assert ((first >= 1) & (first <= K) & (first != x[:, 0])).all()
    assert config.build_model()(x).shape == (4, length, K + 1)


def test_a_sample_too_short_to_copy_anything_is_refused_by_name():
    with pytest.raises(ValueError, match="length must be >= 3 for task='copy_memory'.*got 2"):
        presets.sample_input(RunConfig(**SMALL), length=2)


def test_a_tiny_run_trains_stores_and_its_accuracy_counts_the_answers_only(tmp_path):
    """Oracle for the stored test accuracy: the reloaded model's right answers on the last k steps of the test set,
    counted one sequence at a time."""
    config = RunConfig(**SMALL)
    result = run(config, store=tmp_path, progress=False)
    stored = load_run(result.hash, store=tmp_path)
    assert stored.config == config and stored.metrics == result.metrics
    assert (result.metrics["chance_metric"], result.metrics["chance"]) == ("accuracy", 1 / K)
    _, (xt, yt) = config.make_data()
    right = 0
    with torch.no_grad():
        for i in range(len(xt)):
            guess = stored.model(torch.from_numpy(xt[i : i + 1]))[0].argmax(-1)
            right += int((guess[-3:] == torch.from_numpy(yt[i, -3:])).sum())
    assert result.metrics["test_accuracy"] == right / (3 * len(xt))


def test_the_command_line_trains_a_copy_run(tmp_path, capsys):
    main(["train", "--task", "copy_memory", "--head", "each", "--length", "9", "--copy-symbols", "3",
          "--n-train", "32", "--n-test", "16", "--hidden-size", "4", "--epochs", "1", "--no-progress",
          "--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"(chance accuracy {1 / K:.4f})" in out and "stored in" in out


def test_a_simple_rnn_beats_the_memoryless_baseline_on_a_short_copy():
    """k = 2 symbols, T = 3: 5 epochs of 2,000 sequences (RMSprop, lr 1e-2, hidden 32), under a second. Over 12
    seeds (measured when this test was written) the test loss was 0.000 … 0.158 against the baseline
    2·log 8/7 = 0.594, the accuracy on the answers 0.85 … 1.0 against chance 1/8."""
    config = RunConfig(task="copy_memory", head="each", length=7, copy_symbols=2, n_train=2000, n_test=500,
                       epochs=5, lr=1e-2)
    metrics = run(config, store=False, progress=False).metrics
    assert metrics["test_loss"] < 0.5 * copy_memory_baseline(7, 2, K)
    assert metrics["test_accuracy"] > 0.5
