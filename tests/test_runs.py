"""rnnlab.runs: RunConfig (validation, stable hash), run() and its store (atomic, cached, crash- and race-safe)."""
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab import runs as runs_module
from rnnlab.runs import RunConfig, Store, default_store, delete_run, list_runs, load_run, run
from rnnlab.tasks import chance_level, lag_recall
from rnnlab.train import evaluate

REPO = Path(rnnlab.__file__).resolve().parent.parent
TINY = dict(length=5, n_train=64, n_test=40, hidden_size=8, epochs=1, batch_size=16)

LEGACY = {  # RunConfig's fields and defaults in rnnlab 0.1.0, written out by hand, when the hash covered them all
    "task": "lag_recall", "length": 20, "lag": 0, "num_symbols": 8, "n_train": 2000, "n_test": 500,
    "cell": "simple_rnn", "hidden_size": 32, "embedding_dim": 8, "nonlinearity": "tanh", "init": "keras",
    "spectral_radius": None, "head": "last", "epochs": 10, "batch_size": 32, "optimizer": "rmsprop", "lr": 0.001,
    "clip": None, "seed": 0,
}
DEFAULTS = LEGACY | {"jitter": 0, "stop_at": None, "copy_symbols": 10}  # every field and default today, pinned


def _sha12(d):
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def test_hash_is_sha256_of_the_canonical_json_of_the_fields_that_differ_from_their_defaults():
    assert RunConfig().to_dict() == DEFAULTS  # every default pinned: a changed default would change old runs' meaning
    assert RunConfig().hash == _sha12({})
    assert RunConfig(lag=3, spectral_radius=0.9).hash == _sha12({"lag": 3, "spectral_radius": 0.9})
    assert RunConfig(lag=0).hash == RunConfig().hash  # a default given explicitly is still the default
    assert len(RunConfig().hash) == 12 and int(RunConfig().hash, 16) >= 0


def test_legacy_hash_is_the_hash_of_every_field_as_rnnlab_0_1_named_runs():
    assert RunConfig().legacy_hash == _sha12(LEGACY)
    assert RunConfig(lag=3, spectral_radius=0.9).legacy_hash == _sha12(LEGACY | {"lag": 3, "spectral_radius": 0.9})
    assert RunConfig(jitter=2, lag=1, length=10).legacy_hash is None  # a field 0.1.0 did not have: no old name


def _with_new_field():
    """RunConfig as it would be with one more field that has a default, as a later issue adds them."""
    return dataclasses.make_dataclass("RunConfig", [("warmup", int, runs_module._opt(0, "a new field", minimum=0))],
                                      bases=(RunConfig,), frozen=True)


def test_a_new_field_with_a_default_leaves_every_hash_and_stored_run_as_it_was(tmp_path, monkeypatch):
    stored = run(RunConfig(**TINY), store=tmp_path, progress=False)
    Extended = _with_new_field()
    for changes in ({}, TINY, dict(cell="lstm", lag=2, clip=1.0)):
        assert Extended(**changes).hash == RunConfig(**changes).hash
        assert Extended(**changes).legacy_hash == RunConfig(**changes).legacy_hash
    assert Extended(**TINY, warmup=5).hash != RunConfig(**TINY).hash and Extended(warmup=5).legacy_hash is None
    monkeypatch.setattr(runs_module, "RunConfig", Extended)
    again = Store(tmp_path).load(stored.hash)
    assert again.config.hash == stored.hash and isinstance(again.config, Extended)
    assert [r.hash for r in Store(tmp_path).list()] == [stored.hash]


def test_a_store_named_by_the_old_hash_is_renamed_once_and_nothing_is_retrained(tmp_path, monkeypatch):
    configs = [RunConfig(**TINY), RunConfig(**TINY, lag=2)]
    stored = [run(c, store=tmp_path, progress=False) for c in configs]
    for c in configs:  # the store as rnnlab 0.1.0 left it
        os.rename(tmp_path / c.hash, tmp_path / c.legacy_hash)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.legacy_hash for c in configs)
    monkeypatch.setattr(runs_module, "fit", lambda *a, **k: pytest.fail("a stored run was trained again"))
    again = [run(c, store=tmp_path, progress=False) for c in configs]
    assert all(r.cached for r in again)
    assert [r.metrics["test_accuracy"] for r in again] == [r.metrics["test_accuracy"] for r in stored]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.hash for c in configs)


def test_listing_a_store_named_by_the_old_hash_renames_it_and_lists_every_run(tmp_path):
    configs = [RunConfig(**TINY), RunConfig(**TINY, cell="gru")]
    for c in configs:
        run(c, store=tmp_path, progress=False)
        os.rename(tmp_path / c.hash, tmp_path / c.legacy_hash)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is reported as malformed
        assert sorted(r.hash for r in list_runs(tmp_path)) == sorted(c.hash for c in configs)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.hash for c in configs)


def test_a_folder_whose_new_name_is_taken_is_left_alone(tmp_path):
    c = RunConfig(**TINY)
    run(c, store=tmp_path, progress=False)
    shutil.copytree(tmp_path / c.hash, tmp_path / c.legacy_hash)
    assert Store(tmp_path).load(c).config == c and Store(tmp_path).load(c.legacy_hash).config == c
    assert (tmp_path / c.legacy_hash).is_dir() and (tmp_path / c.hash).is_dir()


def test_hash_is_the_same_in_another_process_with_another_hash_seed():
    code = "from rnnlab.runs import RunConfig; print(RunConfig(lag=3, spectral_radius=0.9, clip=1.0).hash)"
    env = os.environ | {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == RunConfig(lag=3, spectral_radius=0.9, clip=1.0).hash


def test_every_field_changes_the_hash_and_ints_given_for_floats_do_not():
    alternative = {"task": "adding", "length": 21, "lag": 1, "num_symbols": 9, "n_train": 2001, "n_test": 501,
                   "cell": "gru", "hidden_size": 33, "embedding_dim": 9, "nonlinearity": "relu", "init": "torch",
                   "spectral_radius": 0.5, "head": "flatten", "epochs": 4, "batch_size": 16, "optimizer": "adam",
                   "lr": 0.01, "clip": 1.0, "seed": 1, "jitter": 1, "stop_at": 0.9, "copy_symbols": 3}
    assert set(alternative) == {f.name for f in fields(RunConfig)}
    hashes = {RunConfig().hash} | {RunConfig(**{k: v}).hash for k, v in alternative.items()}
    assert len(hashes) == len(alternative) + 1
    assert RunConfig(lr=1, clip=2, spectral_radius=1).hash == RunConfig(lr=1.0, clip=2.0, spectral_radius=1.0).hash
    assert RunConfig(length=np.int64(20)).hash == RunConfig().hash


def test_to_dict_from_dict_round_trip_and_unknown_keys_are_rejected():
    c = RunConfig(task="adding", length=50, spectral_radius=0.7, clip=1.0, cell="lstm")
    assert RunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert RunConfig.from_dict({"lag": 2}) == RunConfig(lag=2)
    with pytest.raises(ValueError, match=r"unknown RunConfig fields \['hidden', 'rate'\]; allowed: task, length"):
        RunConfig.from_dict({"hidden": 3, "rate": 1})


@pytest.mark.parametrize("changes, error, words", [
    (dict(task="copy"), ValueError, ["task", "'copy'", "'lag_recall'", "'adding'"]),
    (dict(task=3), TypeError, ["task", "3", "'lag_recall'"]),
    (dict(length=0), ValueError, ["length", ">= 1", "0"]),
    (dict(length=2.5), TypeError, ["length", "2.5", "int"]),
    (dict(lag=-1), ValueError, ["lag", ">= 0", "-1"]),
    (dict(lag=20), ValueError, ["lag", "20", "length=20", "0 … 19"]),
    (dict(num_symbols=1), ValueError, ["num_symbols", ">= 2", "1"]),
    (dict(n_train=0), ValueError, ["n_train", "0"]),
    (dict(n_test=True), TypeError, ["n_test", "True"]),
    (dict(cell="rnn"), ValueError, ["cell", "'rnn'", "'simple_rnn', 'lstm', 'gru'"]),
    (dict(hidden_size=0), ValueError, ["hidden_size", "0"]),
    (dict(embedding_dim=-4), ValueError, ["embedding_dim", "-4"]),
    (dict(nonlinearity="sigmoid"), ValueError, ["nonlinearity", "'sigmoid'", "'tanh', 'relu', 'linear'"]),
    (dict(cell="lstm", nonlinearity="relu"), ValueError, ["nonlinearity", "'relu'", "cell='lstm'", "'tanh'"]),
    (dict(init="xavier"), ValueError, ["init", "'xavier'", "'keras'"]),
    (dict(spectral_radius=0.0), ValueError, ["spectral_radius", "> 0", "0.0"]),
    (dict(spectral_radius=float("inf")), ValueError, ["spectral_radius", "inf"]),
    (dict(spectral_radius="1"), TypeError, ["spectral_radius", "'1'", "number or None"]),
    (dict(head="mean"), ValueError, ["head", "'mean'", "'last', 'flatten'"]),
    (dict(epochs=0), ValueError, ["epochs", "0"]),
    (dict(batch_size=0), ValueError, ["batch_size", "0"]),
    (dict(optimizer="adagrad"), ValueError, ["optimizer", "'adagrad'", "'rmsprop', 'adam', 'sgd'"]),
    (dict(lr=-0.1), ValueError, ["lr", "-0.1", "> 0"]),
    (dict(lr=None), TypeError, ["lr", "None", "a number"]),
    (dict(clip=0), ValueError, ["clip", "0"]),
    (dict(seed=-1), ValueError, ["seed", ">= 0", "-1"]),
    (dict(seed=1.0), TypeError, ["seed", "1.0"]),
    (dict(task="adding", length=1), ValueError, ["length", ">= 2", "adding"]),
])
def test_run_config_rejects_bad_values_naming_field_value_and_allowed(changes, error, words):
    with pytest.raises(error) as e:
        RunConfig(**changes)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        RunConfig().lag = 3


def test_build_model_follows_the_config_and_is_seeded_without_touching_the_global_rng():
    m = RunConfig(num_symbols=5, embedding_dim=3, hidden_size=7, nonlinearity="relu").build_model()
    assert (m.vocab_size, m.num_classes, m.embedding.embedding_dim, m.hidden_size) == (5, 5, 3, 7)
    assert m.rnn.nonlinearity == "relu" and not m.regression
    a = RunConfig(task="adding", head="flatten", length=12, cell="gru", spectral_radius=0.5).build_model()
    assert a.embedding is None and a.input_size == 2 and a.regression and a.seq_len == 12 and a.cell == "gru"
    rho = torch.linalg.eigvals(a.rnn.A_h[:a.hidden_size].detach().double()).abs().max()
    assert float(rho) == pytest.approx(0.5, rel=1e-6)

    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    w1, w2 = RunConfig(seed=3).build_model().state_dict(), RunConfig(seed=3).build_model().state_dict()
    assert torch.equal(torch.rand(2), expected)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    w3 = RunConfig(seed=4).build_model().state_dict()
    assert not torch.equal(w1["rnn.A"], w3["rnn.A"])


def test_make_data_is_deterministic_with_distinct_train_and_test_that_follow_the_task():
    c = RunConfig(length=9, lag=4, num_symbols=5, n_train=30, n_test=20, seed=2)
    (xtr, ytr), (xte, yte) = c.make_data()
    assert xtr.shape == (30, 9) and xte.shape == (20, 9)
    np.testing.assert_array_equal(ytr, xtr[:, 9 - 1 - 4]), np.testing.assert_array_equal(yte, xte[:, 4])
    (again, _), _ = c.make_data()
    np.testing.assert_array_equal(again, xtr)
    assert not np.array_equal(xtr[:20], xte)
    assert not np.array_equal(c.replace(seed=3).make_data()[0][0], xtr)
    (ax, ay), _ = RunConfig(task="adding", length=10, n_train=8, n_test=4).make_data()
    assert ax.shape == (8, 10, 2)
    np.testing.assert_allclose(ay, (ax[..., 0] * ax[..., 1]).sum(1), rtol=1e-15)


def test_run_trains_stores_and_its_metrics_match_an_independent_evaluation(tmp_path):
    config = RunConfig(**TINY)
    result = run(config, store=tmp_path, progress=False)
    assert not result.cached and result.path == tmp_path / config.hash
    assert sorted(p.name for p in result.path.iterdir()) == ["config.json", "metrics.json", "weights.pt"]
    _, test = config.make_data()
    independent = evaluate(result.model, test)
    assert result.metrics["test_accuracy"] == independent["accuracy"]
    assert result.metrics["test_loss"] == pytest.approx(independent["loss"], rel=1e-6)
    assert (result.metrics["chance_metric"], result.metrics["chance"]) == chance_level("lag_recall", num_symbols=8)
    assert result.history.epochs == 1 and result.history.val_loss[-1] == pytest.approx(independent["loss"])
    stored = json.loads((result.path / "config.json").read_text())
    assert RunConfig.from_dict(stored) == config


def test_second_run_of_the_same_config_is_served_from_the_store_without_training(tmp_path, monkeypatch):
    config = RunConfig(**TINY)
    first = run(config, store=tmp_path, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("fit was called for a stored config")

    monkeypatch.setattr(runs_module, "fit", no_training)
    second = run(config, store=Store(tmp_path), progress=False)
    assert second.cached and second.path == first.path
    assert second.metrics == first.metrics and second.history == first.history
    with pytest.raises(AssertionError, match="fit was called"):
        run(config.replace(seed=1), store=tmp_path, progress=False)


def test_weights_round_trip_gives_the_same_predictions_after_load(tmp_path):
    config = RunConfig(**TINY, seed=5)
    trained = run(config, store=tmp_path, progress=False)
    loaded = load_run(config.hash, store=tmp_path)
    x, _ = lag_recall(50, 5, 0, 8, seed=99)
    x = torch.from_numpy(x)
    with torch.no_grad():
        assert torch.equal(trained.model(x), loaded.model(x))
    assert torch.equal(loaded.model.rnn.A, trained.model.rnn.A)
    assert not torch.equal(loaded.model.rnn.A, config.build_model().rnn.A)  # training moved the weights
    assert load_run(config, store=tmp_path).hash == config.hash


def test_adding_run_reports_mse_and_no_accuracy(tmp_path):
    result = run(RunConfig(task="adding", **TINY), store=tmp_path, progress=False)
    assert result.metrics["test_accuracy"] is None and result.metrics["chance_metric"] == "mse"
    assert result.metrics["chance"] == pytest.approx(1 / 6)
    assert list_runs(tmp_path)[0].metrics["test_accuracy"] is None


def test_store_false_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path))
    result = run(RunConfig(**TINY), store=False, progress=False)
    assert result.path is None and not result.cached and list(tmp_path.iterdir()) == []


def test_list_load_delete(tmp_path):
    a = run(RunConfig(**TINY), store=tmp_path, progress=False)
    b = run(RunConfig(**TINY, lag=2), store=tmp_path, progress=False)
    listed = list_runs(tmp_path)
    assert [r.hash for r in listed] == [a.hash, b.hash]  # oldest first
    assert all(r.model is None and r.cached for r in listed)
    assert listed[1].config.lag == 2 and listed[1].metrics == b.metrics
    assert delete_run(a.config, store=tmp_path) is True
    assert delete_run(a.hash, store=tmp_path) is False
    assert [r.hash for r in list_runs(tmp_path)] == [b.hash]
    assert [p.name for p in tmp_path.iterdir()] == [b.hash]  # nothing left behind
    with pytest.raises(KeyError, match=a.hash):
        load_run(a.hash, store=tmp_path)
    with pytest.raises(ValueError, match="12-hex-digit hash, got 'nope'"):
        load_run("nope", store=tmp_path)
    assert list_runs(tmp_path / "absent") == []


def test_a_write_that_fails_halfway_loses_nothing_stored_and_leaves_no_half_run(tmp_path, monkeypatch):
    earlier = run(RunConfig(**TINY), store=tmp_path, progress=False)

    def half_save(obj, f):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(runs_module.torch, "save", half_save)
    doomed = RunConfig(**TINY, lag=1)
    with pytest.raises(OSError, match="disk full"):
        run(doomed, store=tmp_path, progress=False)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.hash for r in list_runs(tmp_path)] == [earlier.hash]
    assert doomed not in Store(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [earlier.hash]
    assert torch.equal(load_run(earlier.hash, store=tmp_path).model.rnn.A, earlier.model.rnn.A)


def test_a_process_killed_mid_write_leaves_the_store_readable_and_the_half_run_unlisted(tmp_path):
    earlier = run(RunConfig(**TINY), store=tmp_path, progress=False)
    script = textwrap.dedent(f"""
        import os, signal, torch
        from rnnlab import runs
        def dying_save(obj, f):
            f.write(b"PK\\x03\\x04 half a zip")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        runs.torch.save = dying_save
        runs.run(runs.RunConfig(**{TINY!r}, lag=3), store={str(tmp_path)!r}, progress=False)
    """)
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != earlier.hash]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-")  # the half run, hidden
    assert (tmp_path / leftovers[0] / "config.json").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.hash for r in list_runs(tmp_path)] == [earlier.hash]
    assert RunConfig(**TINY, lag=3) not in Store(tmp_path)
    assert torch.equal(load_run(earlier.hash, store=tmp_path).model.rnn.A, earlier.model.rnn.A)


def test_a_second_save_of_the_same_run_keeps_the_first_intact(tmp_path):
    """The race: another process stored the run between our check and our rename. Oracle: the first weights."""
    config = RunConfig(**TINY)
    first = run(config, store=tmp_path, progress=False)
    store = Store(tmp_path)
    other = config.build_model()  # untrained: different weights
    path = store.save(config, first.history, first.metrics | {"seconds": first.metrics["seconds"] + 1}, other)
    assert path == first.path
    assert [p.name for p in tmp_path.iterdir()] == [config.hash]
    kept = store.load(config)
    assert torch.equal(kept.model.rnn.A, first.model.rnn.A) and kept.metrics == first.metrics


def test_malformed_folders_are_skipped_with_a_warning_and_the_rest_listed(tmp_path):
    good = run(RunConfig(**TINY), store=tmp_path, progress=False)
    (tmp_path / "0123456789ab").mkdir()
    (tmp_path / "0123456789ab" / "config.json").write_text("{not json")
    (tmp_path / "notes").mkdir()
    wrong = tmp_path / "aaaaaaaaaaaa"  # a valid run under a name that is not its hash
    wrong.mkdir()
    for f in good.path.iterdir():
        (wrong / f.name).write_bytes(f.read_bytes())
    (tmp_path / "stray.txt").write_text("not a run")
    with pytest.warns(UserWarning) as record:
        listed = list_runs(tmp_path)
    assert [r.hash for r in listed] == [good.hash]
    messages = " ".join(str(w.message) for w in record)
    assert all(name in messages for name in ("0123456789ab", "notes", "aaaaaaaaaaaa"))
    assert "stray.txt" not in messages


def test_default_store_is_rnnlab_home_then_xdg_cache_then_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "lab"))
    assert default_store() == tmp_path / "lab" / "runs"
    assert Store().root == tmp_path / "lab" / "runs"
    monkeypatch.delenv("RNNLAB_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_store() == tmp_path / "xdg" / "rnnlab" / "runs"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store() == tmp_path / "home" / ".cache" / "rnnlab" / "runs"


def test_run_rejects_a_non_config():
    with pytest.raises(TypeError, match="config must be a RunConfig, got dict"):
        run({"lag": 1}, store=False)


def test_the_default_config_recalls_the_last_symbol_at_95_percent(tmp_path):
    """Oracle: the label's definition on held-out data (lag 0: y = x_{T-1}); the defaults are the demo's."""
    result = run(RunConfig(), store=tmp_path, progress=False)
    assert result.metrics["test_accuracy"] >= 0.95 and result.metrics["chance"] == 1 / 8


def test_the_torch_free_choices_are_those_the_models_and_the_trainer_offer():
    """RunConfig validates against rnnlab.choices (no torch); models and train read the same tuples. Oracle: the
    layer classes models.LAYERS maps, and the torch optimizer each name makes."""
    from rnnlab import choices, history, models, train
    assert (models.CELLS, models.HEADS, models.INITS, models.NONLINEARITIES, train.OPTIMIZERS) == (
        choices.CELLS, choices.HEADS, choices.INITS, choices.NONLINEARITIES, choices.OPTIMIZERS)
    assert models.LAYERS == {"simple_rnn": models.SimpleRNN, "lstm": models.LSTM, "gru": models.GRU}
    assert tuple(models.LAYERS) == choices.CELLS
    made = [train.make_optimizer(name, [torch.zeros(1, requires_grad=True)], 0.1) for name in choices.OPTIMIZERS]
    assert [type(o) for o in made] == [torch.optim.RMSprop, torch.optim.Adam, torch.optim.SGD]
    assert train.History is history.History is runs_module.History


def test_validating_configs_and_listing_the_store_import_no_torch(tmp_path):
    """`rnnlab runs` lists the store without torch (seconds to import): RunConfig's checks, Store.list, load without
    weights and changed need none of it; building a model then imports it. Oracle: sys.modules in a fresh process."""
    config = RunConfig(**TINY)
    run(config, store=tmp_path, progress=False)
    code = textwrap.dedent(f"""
        import sys
        from rnnlab import runs
        try:
            runs.RunConfig(cell="transformer")
        except ValueError as e:
            print(e)
        print(runs.RunConfig(**{TINY!r}).hash, hasattr(runs, "nothing"))
        store = runs.Store({str(tmp_path)!r})
        listed = store.load({config.hash!r}, weights=False)
        print([r.hash for r in store.list()], listed.model, store.changed({config.hash!r}))
        print("torch" in sys.modules)
        store.load({config.hash!r})
        print("torch" in sys.modules)
    """)
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["cell must be one of 'simple_rnn', 'lstm', 'gru', got 'transformer'",
                                f"{config.hash} False", f"[{config.hash!r}] None []", "False", "True"]
