"""Reliability: blow-ups are reported, broken files are refused by name, and crashes, Ctrl-C and two processes at
once leave a readable run store. Real subprocesses, real signals; oracles in each test's docstring."""
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab import runs as runs_module
from rnnlab.cli import main
from rnnlab.explain import explain, keep_window, predict_proba, window_accuracy
from rnnlab.memory import (fit_decay, gradient_curve, influence_curve, lyapunov_exponent, memory_profile,
                           perturbation_curve)
from rnnlab.models import SequenceClassifier, SimpleRNN
from rnnlab.runs import FORMAT, STALE_SECONDS, CorruptRun, RunConfig, Store, list_runs, load_run, run
from rnnlab.tasks import adding
from rnnlab.train import TrainingDiverged, evaluate, fit
from rnnlab.trajectories import state_trajectory

REPO = Path(rnnlab.__file__).resolve().parent.parent
TINY = dict(length=5, n_train=64, n_test=40, hidden_size=8, epochs=1, batch_size=16)
ENV = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------------------ bad arguments

def _audit_cases():
    torch.manual_seed(0)
    clf = SequenceClassifier(vocab_size=5, embedding_dim=3, hidden_size=4, num_classes=5)
    text = SequenceClassifier(vocab_size=5, embedding_dim=3, hidden_size=4)
    rnn = SimpleRNN(2, 3)
    ids, x = torch.randint(5, (4, 6)), torch.randn(2, 5, 2)
    ok = dict(progress=False, epochs=1)
    return [
        (lambda: fit("model", (ids, ids[:, 0]), **ok), TypeError, ["model", "str"]),
        (lambda: fit(torch.nn.Sequential(), (ids, ids[:, 0]), **ok), TypeError, ["model", "Sequential"]),
        (lambda: fit(clf, (ids, torch.tensor([0, 1, 7, 2])), **ok), ValueError, ["train's y", "0 … 4", "7"]),
        (lambda: fit(clf, (ids, torch.tensor([0, 1, -1, 2])), **ok), ValueError, ["train's y", "-1", "index 2"]),
        (lambda: fit(text, (ids, torch.tensor([0.0, 1.0, 0.5, 1.0])), **ok), ValueError, ["y", "0 … 1", "0.5"]),
        (lambda: evaluate(clf, (ids, torch.tensor([0, 1, 7, 2]))), ValueError, ["data's y", "7"]),
        (lambda: fit(clf, (ids, ids), **ok), ValueError, ["y", "one label per example", "(4, 6)"]),
        (lambda: lyapunov_exponent(rnn, x, seed="a"), TypeError, ["seed", "'a'"]),
        (lambda: lyapunov_exponent(rnn, x, seed=-1), ValueError, ["seed", "-1"]),
        (lambda: memory_profile(rnn, [0], ridge=-1.0), ValueError, ["ridge", "-1.0"]),
        (lambda: memory_profile(rnn, [0], ridge="a"), TypeError, ["ridge", "'a'"]),
        (lambda: memory_profile(rnn, [0], test_fraction="a"), TypeError, ["test_fraction", "'a'"]),
        (lambda: memory_profile(rnn, [0], seed=2**64), ValueError, ["seed", str(2**64)]),
        (lambda: memory_profile(rnn, [0], coordinate=True), ValueError, ["coordinate", "True"]),
        (lambda: fit_decay([1.0, 0.5], threshold="a"), TypeError, ["threshold", "'a'"]),
        (lambda: fit_decay([1.0, 0.5, 0.2], tol=-1.0), ValueError, ["tol", "-1.0"]),
        (lambda: fit_decay(["a", "b"]), TypeError, ["curve", "real numbers"]),
        (lambda: perturbation_curve(rnn, x, "a"), TypeError, ["x0_alt", "'a'"]),
        (lambda: perturbation_curve(rnn, x, [math.nan, 0.0]), ValueError, ["x0_alt", "finite", "nan"]),
        (lambda: perturbation_curve(clf, ids, 1.5), ValueError, ["x0_alt", "token id"]),
        (lambda: gradient_curve(clf, ids, [0, 1, 7, 2]), ValueError, ["y", "0 … 4", "7"]),
        (lambda: gradient_curve(clf, ids, [0, 1]), ValueError, ["y", "one label per sequence", "4", "2"]),
        (lambda: gradient_curve(clf, ids, "abc"), TypeError, ["y", "array of labels", "'abc'"]),
        (lambda: predict_proba(text, np.full((2, 3), 0.7)), TypeError, ["x", "integer token ids", "float64"]),
        (lambda: predict_proba(text, np.zeros((0, 3), dtype=int)), ValueError, ["x", "non-empty", "(0, 3)"]),
        (lambda: predict_proba(text, np.zeros((2, 3), dtype=int), batch_size=0), ValueError, ["batch_size", "0"]),
        (lambda: explain(text, [0.5, 1.7]), TypeError, ["ids", "integer token ids"]),
        (lambda: keep_window(np.zeros(3, dtype=int), 1, "first"), ValueError, ["x", "(n, T)", "(3,)"]),
        (lambda: keep_window(np.zeros((2, 3), dtype=int), 1, "first", maxlen=0), ValueError, ["maxlen", "0"]),
        (lambda: window_accuracy(text, np.zeros((2, 3), dtype=int), [0, 1, 1], [1]), ValueError, ["y", "(2,)", "(3,)"]),
        (lambda: window_accuracy(text, np.zeros((2, 3), dtype=int), [0, 2], [1]), ValueError, ["y", "0 or 1", "2"]),
        (lambda: window_accuracy(text, np.zeros((2, 3), dtype=int), [0, 1], []), ValueError, ["ks", "non-empty"]),
        (lambda: window_accuracy(text, np.zeros((2, 3), dtype=int), [0, 1], ["a"]), TypeError, ["k in ks", "'a'"]),
        (lambda: state_trajectory(rnn, x, index=True), ValueError, ["index", "True"]),
        (lambda: RunConfig(seed=2**64), ValueError, ["seed", "2**63 - 1", str(2**64)]),
        (lambda: Store(3), TypeError, ["root", "int"]),
    ]


@pytest.mark.parametrize("case", range(len(_audit_cases())))
def test_every_public_function_refuses_a_bad_argument_naming_it_its_value_and_what_is_allowed(case):
    call, error, words = _audit_cases()[case]
    with pytest.raises(error) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


# ------------------------------------------------------------------------------------------- numerical blow-ups

def test_an_overflowing_gradient_with_a_finite_loss_stops_training_before_the_step():
    """A linear SimpleRNN with ρ(A_h) = 1.09 over T = 1020 steps and one sigmoid output: the BCE loss grows like
    |logit| ~ ρ^T, but backpropagation through time sums T such terms, so the gradient leaves float32's range
    while the loss is still inside it. Oracle: the same batch in float64, where the loss is more than 10 times
    below float32's max and the largest gradient entry more than 10 times above it; float32's rounding over T
    steps moves either by about T·eps ≈ 1e-4 relative, so no CPU's arithmetic can bridge that factor. fit must
    stop at epoch 1, step 1 with the weights untouched."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 1020, 1, generator=g), torch.randint(0, 2, (8,), generator=g)
    torch.manual_seed(0)
    model = SequenceClassifier(input_size=1, hidden_size=2, nonlinearity="linear", spectral_radius=1.09)
    oracle = SequenceClassifier(input_size=1, hidden_size=2, nonlinearity="linear").double()
    oracle.load_state_dict(model.state_dict())
    loss64 = oracle.loss(oracle(x.double()), y)
    largest = max(float(g.abs().max()) for g in torch.autograd.grad(loss64, list(oracle.parameters())))
    assert 10 * loss64.item() < FLOAT32_MAX < largest / 10
    before = _weights(model)
    with pytest.raises(TrainingDiverged) as e:
        fit(model, (x, y), epochs=2, batch_size=8, progress=False)
    assert (e.value.epoch, e.value.step) == (1, 1) and not math.isfinite(e.value.gradient_norm)
    assert e.value.loss == pytest.approx(loss64.item(), rel=1e-4)
    assert "gradient norm became" in str(e.value) and "epoch 1, step 1" in str(e.value)
    assert all(torch.equal(before[k], v) for k, v in _weights(model).items())


def test_a_gradient_too_large_for_a_float32_norm_is_still_clipped_not_zeroed():
    """The gradient's entries may be finite while Σ g² overflows float32 (entries past ~1e19): the norm is taken
    in float64, so clipping scales g to ‖g‖₂ = clip instead of multiplying it by clip/inf = 0. Oracle: the
    update of plain SGD is −lr·g·clip/‖g‖₂, recomputed here in float64 from the same gradient."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 600, 1, generator=g), torch.randint(0, 2, (8,), generator=g)
    torch.manual_seed(0)
    model = SequenceClassifier(input_size=1, hidden_size=2, nonlinearity="linear", spectral_radius=1.09)
    grads = torch.autograd.grad(model.loss(model(x), y), list(model.parameters()))
    norm = math.sqrt(sum(float(t.double().square().sum()) for t in grads))
    assert all(torch.isfinite(t).all() for t in grads) and norm > 1e19
    assert not math.isfinite(float(torch.nn.utils.get_total_norm(grads)))  # what a float32 norm would give
    before = _weights(model)
    fit(model, (x, y), epochs=1, batch_size=8, optimizer="sgd", lr=0.5, clip=2.0, progress=False)
    for (name, p), grad in zip(model.named_parameters(), grads):
        expected = before[name].double() - 0.5 * grad.double() * 2.0 / norm
        torch.testing.assert_close(p.detach().double(), expected, rtol=1e-5, atol=1e-7)


def test_a_planted_overflow_stops_training_at_its_step_and_clipping_holds_the_same_model():
    """A linear SimpleRNN with A_h = 2·I, A_x = 0.5, b = 0 (8 units) on the adding problem, T = 20, SGD at lr 0.01
    with the gradient clipped to 1, so that every step moves θ by ‖Δθ‖₂ ≤ lr·clip = 0.01 (SGD's update is −lr·g
    with ‖g‖ clipped to 1). By construction, on any IEEE machine: within 24 steps ‖A_h‖₂ ≤ 2.24, |A_x|, |b| ≤ 0.74,
    so an input x ∈ [0, 1]² gives ‖h_t‖ < 3·2.24^20 < 1e8, a loss < 1e18 and gradient entries < 1e28, ten orders
    of magnitude below float32's max (3.4e38), which no rounding can bridge. One sequence, planted at position
    100 of the seeded shuffle (epoch 1, step 4), has v_0 = 1e37: its h_19 ≥ 2^19·0.49·1e37 = 2.5e42 overflows by a
    factor of 7,500, and clipping cannot rescue an infinite loss. Oracles: that step's number from the shuffle,
    the weights fit leaves, which are exactly those after step 3 (recorded by the progress callback after each
    step), and, without the planted input, 24 finite steps each within lr·clip."""
    x, y = adding(256, 20, seed=0)
    order = torch.randperm(256, generator=torch.Generator().manual_seed(0))  # fit's shuffle with seed 0
    planted = next(int(i) for i in order[100:128] if x[i, 0, 1] == 0)  # not a marked step: y stays as it was
    bombed = x.copy()
    bombed[planted, 0, 0] = 1e37
    step = int((order == planted).nonzero()) // 32 + 1
    assert step == 4

    def model():
        torch.manual_seed(0)
        m = SequenceClassifier(input_size=2, hidden_size=8, regression=True, nonlinearity="linear")
        with torch.no_grad():
            m.rnn.A.copy_(torch.cat([2 * torch.eye(8), torch.full((8, 2), 0.5)], dim=1))
            m.rnn.b.zero_()
        return m

    m, snapshots = model(), []
    initial = _weights(m)
    with pytest.raises(TrainingDiverged) as e:
        fit(m, (bombed, y), epochs=3, batch_size=32, optimizer="sgd", lr=0.01, clip=1.0, seed=0,
            progress=lambda f, msg: snapshots.append(_weights(m)))
    assert (e.value.epoch, e.value.step) == (1, step) and len(snapshots) == step - 1
    assert all(torch.equal(snapshots[-1][k], v) for k, v in _weights(m).items())
    assert not all(torch.equal(initial[k], v) for k, v in _weights(m).items())  # steps 1-3 did move θ
    idx = order[(step - 1) * 32 : step * 32]
    with torch.no_grad():
        loss = m.loss(m(torch.from_numpy(bombed[idx]).float()), torch.from_numpy(y[idx]).float())
    assert not math.isfinite(loss.item()) and not math.isfinite(e.value.loss)

    m, snapshots = model(), []
    snapshots.append(_weights(m))
    history = fit(m, (x, y), epochs=3, batch_size=32, optimizer="sgd", lr=0.01, clip=1.0, seed=0,
                  progress=lambda f, msg: snapshots.append(_weights(m)))
    assert all(math.isfinite(v) for v in history.loss) and len(snapshots) == 3 * 8 + 1
    for a, b in zip(snapshots, snapshots[1:]):
        moved = math.sqrt(sum(float((b[k] - a[k]).double().square().sum()) for k in a))
        assert 0 < moved <= 0.01 * 1.0 * (1 + 1e-5)  # float32 rounding of θ - lr·g: a few ulps of θ, far below 1e-5


def test_gradient_curve_overflow_warns_suggesting_float64_and_keeps_the_inf_nan_entries():
    """A linear RNN with A_h = 2·I over 200 steps: ‖∂L/∂h_t‖ ~ 2^(2·199−t) passes float32's range. Oracle: the
    same model in float64 stays finite and agrees with the float32 curve where that one is finite."""
    torch.manual_seed(1)
    rnn = SimpleRNN(3, 5, nonlinearity="linear", bias=False)
    with torch.no_grad():
        rnn.A[:, :5] = 2.0 * torch.eye(5)
    x = torch.randn(2, 200, 3, generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning, match=r"gradient_curve: \d+ of 200 values are inf/NaN.*float64") as record:
        curve32 = gradient_curve(rnn, x)
    assert record[0].filename == __file__  # the warning points at the caller, not inside rnnlab
    assert not np.isfinite(curve32).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve64 = gradient_curve(rnn.double(), x.double())
    assert np.isfinite(curve64).all() and curve64.max() > FLOAT32_MAX
    ok = np.isfinite(curve32)
    np.testing.assert_allclose(curve32[ok], curve64[ok], rtol=1e-3)


def test_fit_decay_of_an_overflowed_curve_fits_up_to_the_first_inf_and_says_so():
    """The curve 2^t in float32 is inf from t = 128 on, then NaN as an overflowed measurement leaves it. Oracle:
    log2 of the finite part is t exactly, so the fitted rate is −ln 2 over the window [.., 128)."""
    with np.errstate(over="ignore", invalid="ignore"):
        curve = (2.0 ** np.arange(200)).astype(np.float32)
        curve[150:] = np.nan
    with pytest.warns(RuntimeWarning, match="overflows to inf at t = 128; the fit covers t < 128 only"):
        fit = fit_decay(curve)
    assert fit.stop == 128 and fit.regime == "exploding" and fit.rate == pytest.approx(-math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="without NaN before any inf; got NaN at t = 3"):
        fit_decay([1.0, 0.5, 0.25, np.nan, np.inf])


def test_measurements_along_overflowing_states_warn_where_the_states_overflow():
    """relu with ρ(A_h) = 50: h_t grows like 50^t and leaves float32's range near t = 30, after which relu reads
    φ'(NaN) as 0 and the tangent would look like it vanished (a Lyapunov exponent of −inf, 'dead units').
    Oracle for t: the first step where the forward pass itself (rnn(x)) is not finite."""
    torch.manual_seed(0)
    rnn = SimpleRNN(2, 4, nonlinearity="relu", spectral_radius=50.0)
    x = torch.randn(1, 60, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        t = int((~torch.isfinite(rnn(x))).any(2)[0].nonzero()[0, 0])
    assert 0 < t < 60
    for measure in (lyapunov_exponent, influence_curve):
        with pytest.warns(RuntimeWarning, match=f"states h_t overflow to inf/NaN from t = {t} .*float64") as record:
            measure(rnn, x)
        assert record[0].filename == __file__
    with pytest.raises(ValueError, match=f"overflow to inf/NaN from t = {t}.*no principal components"):
        state_trajectory(rnn, x)


@pytest.fixture
def stored(tmp_path):
    """A store holding one tiny run, and that run."""
    return tmp_path, run(RunConfig(**TINY), store=tmp_path, progress=False)


def _refused(store, key, *words, listed=False):
    """load refuses the run naming `words`; the listing skips it with a warning, unless `listed`: the listing
    reads no tensors (it stays cheap), so weights that are whole but do not fit the config are caught on load."""
    with pytest.raises(CorruptRun) as e:
        Store(store).load(key)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    if listed:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert [r.hash for r in list_runs(store)] == [key]
        return
    with pytest.warns(UserWarning, match="skipping malformed run folder"):
        assert list_runs(store) == []


def test_an_edited_config_is_refused_naming_both_hashes(stored):
    store, result = stored
    path = result.path / "config.json"
    edited = json.loads(path.read_text()) | {"lag": 2}
    path.write_text(json.dumps(edited))
    _refused(store, result.hash, "config.json", f"describes run {RunConfig(**TINY, lag=2).hash}",
             f"not {result.hash}", "edited")


def test_a_config_from_another_version_is_refused_naming_the_unknown_field(stored):
    store, result = stored
    path = result.path / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"dropout": 0.5}))
    _refused(store, result.hash, "config.json", "unknown RunConfig fields ['dropout']")


def test_metrics_written_by_a_later_format_are_refused_naming_both_formats(stored):
    store, result = stored
    path = result.path / "metrics.json"
    assert json.loads(path.read_text())["format"] == FORMAT
    path.write_text(json.dumps(json.loads(path.read_text()) | {"format": FORMAT + 1}))
    _refused(store, result.hash, f"format {FORMAT + 1}", f"reads format {FORMAT} and older")


def _resign(result):
    """Record in metrics.json the sha256 of weights.pt as it is now, as if the run had been saved with it: then the
    checks behind the checksum (zip, unpickling, tensors against the config) are what answers."""
    path = result.path / "metrics.json"
    stored = json.loads(path.read_text())
    stored["sha256"]["weights.pt"] = hashlib.sha256((result.path / "weights.pt").read_bytes()).hexdigest()
    path.write_text(json.dumps(stored))


def test_a_weights_file_changed_by_one_byte_is_refused_by_its_sha256(stored):
    """Oracle: hashlib's sha256 of the bytes as saved, recorded in metrics.json, against the file's now."""
    store, result = stored
    path = result.path / "weights.pt"
    data = bytearray(path.read_bytes())
    recorded = json.loads((result.path / "metrics.json").read_text())["sha256"]["weights.pt"]
    assert recorded == hashlib.sha256(data).hexdigest()
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _refused(store, result.hash, f"has sha256 {hashlib.sha256(data).hexdigest()[:16]}", f"not the {recorded[:16]}",
             "changed or damaged", listed=True)


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
@pytest.mark.parametrize("checksum", [True, False])
def test_truncated_weights_are_refused_and_left_out_of_the_listing(stored, keep, checksum):
    """keep: bytes of weights.pt left (fraction of it if < 1, all but the last byte if −1). With a recorded
    sha256 that is what differs; with the cut file's sha256 recorded instead, the file is not a readable zip."""
    store, result = stored
    path = result.path / "weights.pt"
    data = path.read_bytes()
    n = {0.5: len(data) // 2, -1: len(data) - 1}.get(keep, keep)
    path.write_bytes(data[:n])
    if not checksum:
        _resign(result)
    words = ["changed or damaged"] if checksum else ["weights.pt cannot be read", "truncated or not a weights file"]
    _refused(store, result.hash, *words)


def test_weights_of_other_shapes_are_refused_naming_each_tensor_and_both_shapes(stored):
    """Oracle: the shapes of a model built with hidden_size 16 instead of 8, (16, 16 + 8) and (8, 8 + 8) for A."""
    store, result = stored
    other = RunConfig(**TINY | {"hidden_size": 16}).build_model().state_dict()
    torch.save(other, result.path / "weights.pt")
    _resign(result)
    _refused(store, result.hash, "does not match config.json", "rnn.A is (16, 24) in the file, (8, 16) for the config",
             "dense.weight is (8, 16) in the file, (8, 8) for the config", listed=True)


def test_weights_with_a_missing_or_extra_tensor_or_a_nan_are_refused_by_name(stored):
    store, result = stored
    state = result.model.state_dict()
    for changed, words in [({k: v for k, v in state.items() if k != "rnn.b"}, ["missing rnn.b"]),
                           (state | {"rnn.extra": torch.zeros(2)}, ["unexpected rnn.extra"]),
                           (state | {"rnn.A": torch.full_like(state["rnn.A"], float("nan"))}, ["NaN or inf", "rnn.A"]),
                           ([1, 2, 3], ["a dict of tensors", "list"])]:
        torch.save(changed, result.path / "weights.pt")
        _resign(result)
        _refused(store, result.hash, *words, listed=True)


def test_a_pickled_object_in_weights_is_not_executed(stored, tmp_path_factory):
    """weights_only=True: a weights.pt that would run code when unpickled is refused, and the code never runs
    (checked with its sha256 recorded, as otherwise the checksum refuses the file before it is unpickled)."""
    store, result = stored
    marker = tmp_path_factory.mktemp("marker") / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"rnn.A": Payload()}, result.path / "weights.pt")
    _resign(result)
    _refused(store, result.hash, "weights.pt cannot be read", listed=True)
    assert not marker.exists()


def test_run_sets_a_broken_run_aside_with_a_warning_and_trains_it_again(stored):
    """Oracle for the retrained run: a fresh run of the same config in another store (training is deterministic)."""
    store, result = stored
    (result.path / "weights.pt").write_bytes(b"PK\x03\x04 not the weights any more")
    with pytest.warns(UserWarning, match=f"run {result.hash} .* is broken .*moved it aside to .broken-{result.hash}-"):
        again = run(RunConfig(**TINY), store=store, progress=False)
    assert not again.cached and again.path == result.path
    aside = [p for p in store.iterdir() if p.name.startswith(f".broken-{result.hash}-")]
    assert len(aside) == 1 and (aside[0] / "weights.pt").read_bytes().startswith(b"PK\x03\x04 not")
    assert torch.equal(load_run(result.hash, store=store).model.rnn.A, result.model.rnn.A)
    assert [r.hash for r in list_runs(store)] == [result.hash]


def test_a_folder_without_weights_or_a_file_under_the_hash_is_set_aside_too(tmp_path):
    config = RunConfig(**TINY)
    (tmp_path / config.hash).mkdir()
    (tmp_path / config.hash / "config.json").write_text(json.dumps(config.to_dict()))
    with pytest.warns(UserWarning, match="has no metrics.json"):
        assert not run(config, store=tmp_path, progress=False).cached
    other = config.replace(lag=1)
    (tmp_path / other.hash).write_text("a stray file named like a run")
    with pytest.warns(UserWarning, match="is a file, not a run folder"):
        assert not run(other, store=tmp_path, progress=False).cached
    assert sorted(r.hash for r in list_runs(tmp_path)) == sorted([config.hash, other.hash])


def test_metrics_of_the_wrong_types_are_refused_and_listing_never_crashes(stored):
    store, result = stored
    path = result.path / "metrics.json"
    good = json.loads(path.read_text())
    for changed, words in [(good | {"metrics": "fast"}, ["metrics must be a JSON object"]),
                           (good | {"metrics": good["metrics"] | {"created": "yesterday"}}, ["metrics['created']"]),
                           (good | {"history": good["history"] | {"loss": "low"}}, ["history['loss']"]),
                           (good | {"history": good["history"] | {"momentum": []}}, ["unknown keys 'momentum'"]),
                           ([1, 2], ["must hold a JSON object, got list"])]:
        path.write_text(json.dumps(changed))
        _refused(store, result.hash, "metrics.json", *words)
    path.write_bytes(b"\xff\xfe not utf-8")
    _refused(store, result.hash, "metrics.json is not readable JSON")


def test_a_stale_half_written_run_is_removed_with_a_warning_and_a_fresh_one_is_kept(stored):
    """What a SIGKILL mid-save leaves (tests/test_runs.py kills a real process there): a hidden .tmp- folder. An
    hour-old one cannot be a save in progress and the next save removes it; a fresh one may be, and stays."""
    store, _ = stored
    old, fresh = store / ".tmp-0123456789ab-old", store / ".tmp-0123456789ab-new"
    for p in (old, fresh):
        p.mkdir()
        (p / "config.json").write_text("{")
    os.utime(old, (time.time() - STALE_SECONDS - 60,) * 2)
    with pytest.warns(UserWarning, match=r"removed .*\.tmp-0123456789ab-old, a half-written run"):
        run(RunConfig(**TINY, lag=1), store=store, progress=False)
    assert not old.exists() and fresh.exists()


def test_a_store_root_that_is_a_file_is_refused_by_the_library_and_the_cli(tmp_path, capsys):
    f = tmp_path / "runs"
    f.write_text("not a folder")
    with pytest.raises(ValueError, match="root must be a folder, got the file"):
        Store(f)
    with pytest.raises(TypeError, match="root must be a folder path"):
        Store(3)
    for command in (["train", "--length", "3"], ["runs"]):
        with pytest.raises(SystemExit) as e:
            main([*command, "--store", str(f)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and "--store" in err and str(f) in err


def test_cli_prints_store_warnings_as_one_line_each(stored, capsys):
    store, result = stored
    (store / "0123456789ab").mkdir()
    assert main(["runs", "--store", str(store)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: warning: skipping malformed run folder") and err.count("\n") == 1
    assert "0123456789ab has no config.json" in err


def test_cli_reports_a_failing_disk_in_one_line_with_exit_1(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "save", full)
    with pytest.raises(SystemExit) as e:
        main(["train", "--length", "3", "--n-train", "16", "--n-test", "8", "--hidden-size", "2", "--epochs", "1",
              "--no-progress", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_cli_reports_a_model_too_large_for_memory_in_one_line_with_exit_1(tmp_path, capsys):
    """hidden_size 10⁶: A alone is 10⁶ × (10⁶ + 8) floats, 4 TB. Oracle: the size in bytes torch names."""
    with pytest.raises(SystemExit) as e:
        main(["train", "--hidden-size", "1000000", "--no-progress", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1 and "failed (RuntimeError" in err and "allocate" in err
    assert str(4 * 1_000_000 * (1_000_000 + 8)) in err


# --------------------------------------------------------------------------------- signals and two processes

def _store_entries(store):
    return sorted(p.name for p in Path(store).iterdir()) if Path(store).exists() else []


@pytest.mark.slow
def test_ctrl_c_during_rnnlab_train_exits_130_with_one_line_and_stores_nothing(tmp_path):
    """A real `python -m rnnlab train` that would train for minutes, sent SIGINT once it has printed the run it
    trains. SIGINT is reset to its default in the child, as an interactive shell leaves it. Half a second in, the
    signal often lands while torch._dynamo is being imported by the first optimizer step, the case in which
    `python -m` used to die by SIGINT (status −2) after printing its message (see cli._forget_caught_interrupt)."""
    store = tmp_path / "store"
    argv = [sys.executable, "-m", "rnnlab", "train", "--epochs", "1000", "--n-train", "500", "--length", "10",
            "--hidden-size", "8", "--no-progress", "--store", str(store)]
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert first.startswith("run "), first + proc.stderr.read()
        time.sleep(0.5)  # into the training loop
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines() == [f"rnnlab: interrupted; run {first.split()[1].rstrip(':')} was not stored"]
    assert "Traceback" not in err and out == ""
    assert _store_entries(store) == []  # not even a hidden temporary folder


def test_ctrl_c_while_the_run_is_being_written_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    """KeyboardInterrupt raised after half of weights.pt is on disk: the CLI exits 130 with one line and the store
    holds nothing, not even the temporary folder."""
    real_write = runs_module._write

    def interrupted_write(path, data):
        if path.name == "weights.pt":
            real_write(path, data[: len(data) // 2])
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(runs_module, "_write", interrupted_write)
    with pytest.raises(SystemExit) as e:
        main(["train", "--length", "3", "--n-train", "16", "--n-test", "8", "--hidden-size", "2", "--epochs", "1",
              "--no-progress", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 130 and err.splitlines() == [err.strip()] and "was not stored" in err
    assert _store_entries(tmp_path) == []


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from rnnlab import runs
    real_write = runs._write
    def dying_write(path, data):
        if path.name == "weights.pt":  # half of the file on disk, then the process is killed
            real_write(path, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(path, data)
    runs._write = dying_write
    runs.run(runs.RunConfig(**{tiny!r}, lag=3), store=sys.argv[1], progress=False)
""")


def test_sigkill_with_half_of_the_weights_on_disk_keeps_earlier_runs_and_the_next_save_cleans_up(tmp_path):
    """A real process killed by SIGKILL while weights.pt is half written. Oracle: the earlier run's weights as
    trained in this process; the half run is never listed or loadable, and once stale the next save removes it."""
    earlier = run(RunConfig(**TINY), store=tmp_path, progress=False)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT.format(tiny=TINY), str(tmp_path)], env=ENV,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    half = [p for p in tmp_path.iterdir() if p.name != earlier.hash]
    assert len(half) == 1 and half[0].name.startswith(".tmp-")
    assert 0 < (half[0] / "weights.pt").stat().st_size < (earlier.path / "weights.pt").stat().st_size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.hash for r in list_runs(tmp_path)] == [earlier.hash]
    assert RunConfig(**TINY, lag=3) not in Store(tmp_path)
    assert torch.equal(load_run(earlier.hash, store=tmp_path).model.rnn.A, earlier.model.rnn.A)
    os.utime(half[0], (time.time() - STALE_SECONDS - 1,) * 2)
    with pytest.warns(UserWarning, match="half-written run left by a process that was killed"):
        again = run(RunConfig(**TINY, lag=3), store=tmp_path, progress=False)
    assert _store_entries(tmp_path) == sorted([earlier.hash, again.hash])


BARRIER_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from rnnlab import runs
    me, other, store = sys.argv[1], sys.argv[2], sys.argv[3]
    original = runs.Store.save
    def save_when_both_trained(self, *args, **kwargs):
        # both processes have trained (neither found the run stored): now both write at once
        Path(store).parent.joinpath(me).touch()
        deadline = time.time() + 60
        while not Path(store).parent.joinpath(other).exists() and time.time() < deadline:
            time.sleep(0.01)
        return original(self, *args, **kwargs)
    runs.Store.save = save_when_both_trained
    result = runs.run(runs.RunConfig(**{tiny!r}), store=store, progress=False)
    print(result.path, result.cached, float(result.model.rnn.A.double().sum()))
""")


@pytest.mark.slow
def test_two_processes_training_the_same_config_at_once_leave_one_complete_run(tmp_path):
    """Two real processes, held at a barrier until both have trained, then saving the same run together. Oracle:
    one run folder, nothing else (no temporary folder), and its weights are those of a training in this process
    (training is deterministic, so both processes' weights are the same too)."""
    store = tmp_path / "store"
    script = BARRIER_SCRIPT.format(tiny=TINY)
    procs = [subprocess.Popen([sys.executable, "-c", script, me, other, str(store)], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for me, other in (("a", "b"), ("b", "a"))]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    config = RunConfig(**TINY)
    lines = [out.split() for out, _ in outs]
    assert [line[:2] for line in lines] == [[str(store / config.hash), "False"]] * 2  # both trained
    assert _store_entries(store) == [config.hash]
    expected = run(config, store=False, progress=False).model.rnn.A.double().sum().item()
    assert float(lines[0][2]) == float(lines[1][2]) == pytest.approx(expected, rel=1e-12)
    assert torch.equal(load_run(config, store=store).model.rnn.A.double().sum(), torch.tensor(expected,
                                                                                               dtype=torch.float64))


@pytest.mark.slow
def test_two_rnnlab_train_commands_started_together_end_with_one_stored_run(tmp_path):
    """The same without a barrier, as a user would do it: two `rnnlab train` with the same options at once."""
    store = tmp_path / "store"
    argv = [sys.executable, "-m", "rnnlab", "train", "--length", "5", "--n-train", "256", "--n-test", "40",
            "--hidden-size", "8", "--epochs", "3", "--no-progress", "--store", str(store)]
    procs = [subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    config = RunConfig(length=5, n_train=256, n_test=40, hidden_size=8, epochs=3)
    assert _store_entries(store) == [config.hash]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r.hash for r in list_runs(store)] == [config.hash]
    assert all(f"{store / config.hash}" in out for out, _ in outs)
