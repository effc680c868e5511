"""The lecture's IMDB experiment: its configuration, the stored run with its vocabulary, and (when the real reviews
are there) a short real training run well above chance; decay_report against the measurements it gathers."""
import math
import os
from pathlib import Path

import numpy as np
import pytest

from rnnlab import memory, presets
from rnnlab import runs as runs_module
from rnnlab.cli import main
from rnnlab.experiments import decay_report, dependency_profile, imdb, imdb_config, reach
from rnnlab.explain import predict_proba
from rnnlab.imdb import load
from rnnlab.params import summary
from rnnlab.runs import RunConfig, list_runs, load_run
from tiny_imdb import tiny_reviews


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "home"))


def test_lecture_configuration_is_the_lectures_model():
    config = imdb_config()
    assert (config.length, config.num_symbols, config.embedding_dim, config.hidden_size, config.batch_size,
            config.epochs, config.optimizer, config.lr) == (500, 10000, 32, 32, 32, 3, "rmsprop", 1e-3)
    assert summary(config.build_model()).total == 322113
    assert summary(imdb_config(head="flatten").build_model()).total == 338081
    assert config.chance() == ("accuracy", 0.5)


def test_imdb_config_rejects_more_reviews_than_a_split_holds():
    with pytest.raises(ValueError, match="n_train must be <= 25000 for task='imdb'"):
        imdb_config(n_train=30000)


def test_experiment_stores_the_run_with_its_vocabulary(tmp_path):
    data = tiny_reviews(tmp_path / "reviews")
    result = imdb(data_dir=data, n_train=60, n_test=60, length=12, num_symbols=20, embedding_dim=8, hidden_size=8,
                  epochs=8, batch_size=4, lr=1e-2, progress=False)
    assert result.metrics["test_accuracy"] >= 0.9  # the label word is right there at the end
    loaded = load_run(result.config)
    assert loaded.cached and loaded.vocabulary.word_to_id == result.vocabulary.word_to_id
    encoded = load(num_words=20, maxlen=12, data_dir=data, progress=False)
    row = encoded.encode("the film was great")
    # the stored vocabulary encodes a typed review exactly as the data set's own does
    assert loaded.vocabulary.encode("the film was great") == encoded.vocabulary.encode("the film was great")
    np.testing.assert_allclose(predict_proba(loaded.model, row[None]), predict_proba(result.model, row[None]))
    assert [r.hash for r in list_runs()] == [result.hash]


def test_cli_imdb_prints_the_summary_and_history(tmp_path, capsys):
    data = tiny_reviews(tmp_path / "reviews")
    main(["imdb", "--data-dir", str(data), "--n-train", "20", "--n-test", "20", "--length", "12",
          "--num-symbols", "20", "--epochs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert "embedding (Embedding)       (None, 12, 32)" in out and "test accuracy" in out


def test_cli_imdb_without_data_says_where_to_put_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["imdb", "--data-dir", str(tmp_path / "missing"), "--no-progress"])
    assert exit_.value.code == 1
    assert "RNNLAB_IMDB_DIR" in capsys.readouterr().err


def real_data_dir():
    if os.environ.get("RNNLAB_IMDB_DIR"):
        return Path(os.environ["RNNLAB_IMDB_DIR"])
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"


REAL = real_data_dir()


@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "train.jsonl.gz").is_file(),
                    reason=f"the real IMDB reviews are not in {REAL} (set RNNLAB_IMDB_DIR to run this test)")
def test_real_imdb_short_run_is_well_above_chance(monkeypatch):
    """One epoch of the lecture's SimpleRNN on 5,000 real reviews cut to their last 100 words."""
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(REAL))
    result = imdb(n_train=5000, n_test=2000, length=100, epochs=2, progress=False)
    assert result.metrics["test_accuracy"] >= 0.65


def test_decay_report_is_each_measurement_of_the_float64_model_on_the_configs_sample():
    """Oracle: the memory functions called one by one on a float64 copy and presets.sample_input's sequence."""
    config = RunConfig(hidden_size=8, embedding_dim=4)
    report = decay_report(config, length=60, seed=3)
    model = config.build_model().double().eval()
    x, y = presets.sample_input(config, 60, 3)
    np.testing.assert_allclose(report.influence, memory.influence_curve(model, x), rtol=1e-12)
    np.testing.assert_allclose(report.perturbation,
                               memory.perturbation_curve(model, x, presets.alternative_first_input(config, x)),
                               rtol=1e-12)
    np.testing.assert_allclose(report.gradient, memory.gradient_curve(model, x, y), rtol=1e-12)
    assert report.lyapunov == pytest.approx(memory.lyapunov_exponent(model, x), rel=1e-12)
    assert report.fit == memory.fit_decay(report.influence) and report.length == 60
    sigma = report.spectrum.sigma_max
    assert sigma <= 1 + 1e-6  # Keras' orthogonal A_h: the bound σ_max^t·c_0 is drawn, and holds
    np.testing.assert_allclose(report.bound, report.influence[0] * sigma ** np.arange(60), rtol=1e-12)
    assert np.all(report.influence <= report.bound * (1 + 1e-9))


def test_decay_report_of_a_gated_cell_has_no_bound_and_words_a_horizon_beyond_the_sequence():
    report = decay_report(RunConfig(cell="lstm", hidden_size=8, embedding_dim=4), length=30)
    assert report.bound is None
    assert report.fit.horizon is None and report.horizon == "> 29"  # 10⁻³ is not reached in 30 steps
    fast = decay_report(RunConfig(hidden_size=8, spectral_radius=0.3), length=200)  # ρ = 0.3 forgets within 200
    first_below = int(np.argmax(fast.influence < 1e-3 * fast.influence[0]))  # oracle: read off the curve itself
    assert fast.influence[first_below] < 1e-3 * fast.influence[0] and fast.horizon == f"{first_below:,}"


@pytest.mark.parametrize("edge", [0, 1, 2, 3, 37, 64, 100, 255])
def test_reach_finds_the_edge_of_a_step_shaped_accuracy_with_logarithmically_many_trainings(edge):
    """A stub trainer whose accuracy is 1 up to lag `edge` and chance beyond: the oracle is the edge itself; the
    search trains at most 2·⌈log2(edge + 2)⌉ + 1 lags, and keeps the distractor prefix (length − lag − 1) of the
    config it was given."""
    config = RunConfig(task="marked_recall", length=15, lag=4)  # 10 distractors before the marked step
    asked = []

    def accuracy(c):
        asked.append(c)
        return 1.0 if c.lag <= edge else 0.125

    found = reach(config, seeds=(0, 5), max_lag=256, accuracy=accuracy)
    assert found.per_seed == {0: edge, 5: edge} and found.threshold == (0.125 + 1) / 2
    assert all(c.length - c.lag - 1 == 10 and c.seed in (0, 5) for c in asked)
    assert len(asked) <= 2 * (2 * math.ceil(math.log2(edge + 2)) + 1)
    assert set(found.tried[0]) == {c.lag for c in asked if c.seed == 0}
    assert found.mean == edge and found.interval == (edge, edge)


def test_reach_stops_growing_at_max_lag_and_refuses_what_it_cannot_search():
    found = reach(RunConfig(task="marked_recall", length=3, lag=0), seeds=(0,), max_lag=40,
                  accuracy=lambda c: 1.0)
    assert found.per_seed == {0: 40} and max(found.tried[0]) == 40
    with pytest.raises(ValueError, match=r"threshold must lie in \(0.125, 1\]"):
        reach(RunConfig(), threshold=0.1, accuracy=lambda c: 1.0)
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        reach(RunConfig(), seeds=(), accuracy=lambda c: 1.0)


@pytest.mark.slow
def test_a_real_reach_search_trains_stored_runs_and_a_second_search_reuses_them(tmp_path, capsys):
    """A SimpleRNN of 8 units on marked_recall, up to lag 8. Oracles: the runs it leaves in the store (one per lag
    tried, with the accuracies it read), the search replayed over those accuracies, and the CLI, which prints the
    same reach and trains nothing more. (Which lags pass depends on float rounding in training; none of this does.)"""
    config = RunConfig(task="marked_recall", length=3, lag=0, hidden_size=8, embedding_dim=8, n_train=400,
                       n_test=200, epochs=20, optimizer="adam", lr=0.01, clip=1.0, stop_at=0.99)
    found = reach(config, seeds=(0,), max_lag=8, store=tmp_path)
    stored = {r.config.lag: r.metrics["test_accuracy"] for r in list_runs(tmp_path)}
    assert stored == found.tried[0]  # one stored run per lag tried, with the accuracy the search read
    replay = reach(config, seeds=(0,), max_lag=8, accuracy=lambda c: stored[c.lag])  # the search over those numbers
    assert replay.per_seed == found.per_seed and replay.tried == found.tried
    main(["reach", "--length", "3", "--lag", "0", "--hidden-size", "8", "--embedding-dim", "8", "--n-train", "400",
          "--n-test", "200", "--epochs", "20", "--optimizer", "adam", "--lr", "0.01", "--clip", "1", "--stop-at",
          "0.99", "--seeds", "0", "--max-lag", "8", "--store", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert f"seed 0: {found.per_seed[0]}" in out and len(list_runs(tmp_path)) == len(stored)


def test_dependency_profile_trains_once_per_lag_then_reads_the_store(tmp_path, monkeypatch):
    config = RunConfig(length=4, num_symbols=3, n_train=64, n_test=32, hidden_size=4, embedding_dim=2,
                            epochs=1, batch_size=32)
    calls = []
    profile = dependency_profile(config, [0, 2], store=tmp_path, progress=lambda f, m: calls.append((f, m)))
    np.testing.assert_array_equal(profile.lags, [0, 2])
    for lag, hash_, acc in zip([0, 2], profile.hashes, profile.accuracy):
        assert hash_ == config.replace(lag=lag).hash
        assert acc == load_run(hash_, store=tmp_path).metrics["test_accuracy"]
    assert profile.chance == pytest.approx(1 / 3)
    assert [f for f, _ in calls] == [0.5, 1.0]

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of reading the store")

    monkeypatch.setattr(runs_module, "fit", no_training)
    again = dependency_profile(config, [0, 2], store=tmp_path)
    np.testing.assert_array_equal(again.accuracy, profile.accuracy)
    with pytest.raises(ValueError, match="lags must be < config.length = 4"):
        dependency_profile(config, [4], store=tmp_path)




def test_dependency_profile_and_reach_take_any_task_with_a_lag_and_refuse_the_others(tmp_path):
    config = RunConfig(task="marked_recall", length=4, num_symbols=3, n_train=32, n_test=16, hidden_size=4,
                       embedding_dim=2, epochs=1)
    assert dependency_profile(config, [1], store=tmp_path).hashes == (config.replace(lag=1).hash,)
    for call in (lambda: dependency_profile(RunConfig(task="adding"), [1]), lambda: reach(RunConfig(task="imdb"))):
        with pytest.raises(ValueError, match="config.task must be a task with a lag \\('lag_recall', 'marked_recall'\\)"):
            call()
