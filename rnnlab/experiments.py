"""Experiments built from the pieces: the lecture's IMDB run, and one model's memory measured every way at once.

decay_report(config, length, seed): on one random sequence of the config's task, the influence of x_0 on h_t,
the distance between states when only x_0 changes, the gradient reaching each step, the fitted decay, the spectrum
of A_h with its σ_max^t bound, and the Lyapunov exponent: what Memory decay, Compare and `rnnlab analyse` show.

model_report(model, length, seed): the same for a model with no RunConfig (a file rnnlab.load_model read), on
seeded random token ids (or vectors).

dependency_profile(config, lags): test accuracy of one model trained per lag (each a stored run).

reach(config, seeds): the longest dependency a configuration learns, found by a grow-then-bisect search over the
lag, every training a stored run.

The lecture's IMDB experiment, as one RunConfig:

    Embedding(10000, 32) → SimpleRNN(32) → Dense(1, sigmoid), reviews cut or padded to 500 words,
    RMSprop lr 1e-3, binary cross-entropy, batch 32, 3 epochs; head="last" reads h_{T-1},
    head="flatten" reads all 500 states (Embedding 320,000 + SimpleRNN 2,080 + Dense 33 = 322,113 parameters,
    or 320,000 + 2,080 + 16,001 = 338,081 with Flatten).

The lecture reports about 84% test accuracy, Chollet's book about 85% validation accuracy. A run is stored like any
other (history, test loss and accuracy, weights, vocabulary), so the dashboard and `rnnlab runs` find it.
"""
import copy
from dataclasses import dataclass, field

import numpy as np
import torch

from . import checks, memory, presets, tasks
from .models import SequenceClassifier
from .runs import RunConfig, run
from .sweeps import interval

LECTURE_IMDB = dict(task="imdb", length=500, num_symbols=10000, n_train=25000, n_test=25000, cell="simple_rnn",
                    hidden_size=32, embedding_dim=32, init="keras", head="last", epochs=3, batch_size=32,
                    optimizer="rmsprop", lr=1e-3)


def imdb_config(**changes):
    """The lecture's configuration with some fields changed (e.g. head="flatten", cell="lstm", n_train=2000)."""
    return RunConfig(**{**LECTURE_IMDB, **changes})


def imdb(head="last", cell="simple_rnn", epochs=3, store=None, data_dir=None, progress=True, **changes):
    """Train (or load from the store) the lecture's model on IMDB and test it on the whole test set.

    data_dir: the reviews (default $RNNLAB_IMDB_DIR, the cache, else the official archive is downloaded).
    Returns the RunResult: .metrics["test_accuracy"], .history, .model, .vocabulary."""
    config = imdb_config(head=head, cell=cell, epochs=epochs, **changes)
    return run(config, store=store, progress=progress, data_dir=data_dir)


@dataclass
class DecayReport:
    """One model's memory on one random sequence of length T (decay_report). Curves are NumPy arrays of T values."""

    influence: np.ndarray  # ‖∂h_t/∂x_0‖_F (memory.influence_curve)
    perturbation: np.ndarray  # ‖h_t(x) − h_t(x')‖, x' = x with another x_0 (memory.perturbation_curve)
    gradient: np.ndarray  # ‖∂L/∂h_t‖ of the loss on the sequence's target (memory.gradient_curve)
    fit: memory.DecayFit | None  # the influence's fitted decay; None where it cannot be fitted (starts at 0)
    spectrum: memory.Spectrum  # eigenvalues and singular values of A_h (memory.recurrent_spectrum)
    lyapunov: float  # mean log growth of a perturbation per step along the sequence (memory.lyapunov_exponent)
    bound: np.ndarray | None  # σ_max^t·‖∂h_0/∂x_0‖ ≥ ‖∂h_t/∂x_0‖ of a SimpleRNN with σ_max(A_h) ≤ 1, else None
    length: int

    @property
    def horizon(self):
        """The first t where the influence is below 10⁻³ of its start, as words: "412" or "> 999" (never, in T)."""
        if self.fit is not None and self.fit.horizon is not None:
            return f"{self.fit.horizon:,}"
        return f"> {self.length - 1:,}"


def fitted(curve, threshold=1e-3):
    """memory.fit_decay(curve, threshold), or None for a curve that has no decay to fit (it starts at 0, e.g. a dead
    relu, or is not finite there)."""
    try:
        return memory.fit_decay(curve, threshold=threshold)
    except ValueError:
        return None


def decay_report(config, length=None, seed=0, model=None):
    """Measure the memory of `model` (default: config.build_model(), the configuration at initialisation) on one
    random sequence of config's task (presets.sample_input(config, length, seed)).

    The model is measured in float64, on a copy: a curve that decays over thousands of steps stays far above
    underflow. Returns a DecayReport."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    x, y = presets.sample_input(config, length, seed)
    return _report(config.build_model() if model is None else model, x, y,
                   presets.alternative_first_input(config, x))


MAX_REPORT_LENGTH = 100_000  # model_report's T: bounds the work one request can ask for


def model_report(model, length=None, seed=0):
    """decay_report for a SequenceClassifier that has no RunConfig (one rnnlab.load_model read), on one seeded
    sequence of length T (default: its seq_len with a flatten head, else 500, the lecture's review length): token
    ids uniform over its vocabulary, or N(0, 1) vectors, and the label 0 (any label shows how far the gradient
    reaches back). The perturbed x_0 is the next token id, or x_0 + 1."""
    if not isinstance(model, SequenceClassifier):
        raise TypeError(f"model must be a SequenceClassifier, got {type(model).__name__}")
    if length is None:
        length = model.seq_len if model.head == "flatten" else 500
    checks.integer("length", length, maximum=MAX_REPORT_LENGTH)
    checks.integer("seed", seed, 0)
    if model.head == "flatten" and length != model.seq_len:
        raise ValueError(f"length must be {model.seq_len} for this model, whose head reads all its states "
                         f"flattened (head='flatten'), got {length}")
    g = torch.Generator().manual_seed(seed)
    if model.embedding is None:
        x = torch.randn(1, length, model.input_size, generator=g)
        x0_alt = x[:, 0] + 1
    else:
        x = torch.randint(0, model.vocab_size, (1, length), generator=g)
        x0_alt = (x[:, 0] + 1) % model.vocab_size
    y = torch.zeros(1) if model.num_classes == 1 else torch.zeros(1, dtype=torch.int64)
    return _report(model, x, y, x0_alt)


def _report(model, x, y, x0_alt):
    """The DecayReport of `model` on (x, y), measured in float64 on a copy; x0_alt: another x_0."""
    model = copy.deepcopy(model).double().eval()
    influence = memory.influence_curve(model, x)
    spectrum = memory.recurrent_spectrum(model)
    fit = fitted(influence)
    # ‖∂h_t/∂h_0‖ ≤ σ_max^t holds for a SimpleRNN (|φ'| ≤ 1); above σ_max = 1 the bound grows and says nothing
    # about forgetting. An orthogonal A_h has σ_max = 1 up to rounding.
    bound = (spectrum.bound(len(influence), start=influence[0])
             if model.cell == "simple_rnn" and spectrum.sigma_max <= 1 + 1e-6 else None)
    return DecayReport(influence=influence, perturbation=memory.perturbation_curve(model, x, x0_alt),
                       gradient=memory.gradient_curve(model, x, y), fit=fit, spectrum=spectrum,
                       lyapunov=memory.lyapunov_exponent(model, x), bound=bound, length=len(influence))


@dataclass
class Reach:
    """The result of reach(): per seed, the longest lag learnt and every lag tried with its test accuracy."""

    threshold: float
    per_seed: dict  # seed → reach (0: not even lag 1; a value equal to max_lag: the search stopped there)
    tried: dict = field(default_factory=dict)  # seed → {lag: test accuracy}
    max_lag: int = 0

    @property
    def mean(self):
        return interval(list(self.per_seed.values()))[0]

    @property
    def interval(self):
        """(lower, upper) of the 95% t-interval of the mean reach across seeds (nan with one seed)."""
        return interval(list(self.per_seed.values()))[2:]


def reach(config, seeds=(0, 1, 2), threshold=None, max_lag=1024, tolerance=0.0, store=None, progress=None,
          accuracy=None):
    """The longest lag at which `config` (a classification task with a lag: lag_recall, marked_recall) still learns.

    For each seed: train at lags 1, 2, 4, … (doubling) until the test accuracy falls below `threshold` (default:
    halfway between chance and 1) or the lag reaches max_lag, then bisect between the last lag that passed and the
    first that failed, until they are at most max(1, tolerance·last) apart (tolerance 0: adjacent lags; 0.125: the
    reach to within an eighth, for fewer trainings). The reach is the largest lag that passed (0 if lag 1 fails),
    and `tried` holds the first that failed. The distractors before the
    answer are kept as in config: length = lag + 1 + (config.length − config.lag − 1). Every training is a stored
    run (resumable, reused); set config.stop_at (e.g. the threshold) to stop each once its training accuracy passes.

    The bisection assumes accuracy falls with the lag; where it does not (noise near the threshold), the reach is
    the edge the search found, and `tried` shows every lag it trained.

    accuracy: a function RunConfig → test accuracy (default: run(config, store).metrics["test_accuracy"]), e.g. to
    test the search itself. progress: called with a message after each training.
    """
    _check_lagged(config)
    _, chance = config.chance()
    threshold = (chance + 1) / 2 if threshold is None else threshold
    checks.number("threshold", threshold, chance, 1, low_open=True, high_open=False)
    checks.integer("max_lag", max_lag, 1)
    checks.number("tolerance", tolerance, 0, 1)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    for s in seeds:
        checks.integer("seed", s, 0)
    accuracy = accuracy or (lambda c: run(c, store=store, progress=False).metrics["test_accuracy"])
    prefix = config.length - config.lag - 1
    result = Reach(threshold=threshold, per_seed={}, max_lag=max_lag)
    for seed in seeds:
        tried = result.tried.setdefault(seed, {})

        def passes(lag):
            tried[lag] = accuracy(config.replace(lag=lag, length=lag + 1 + prefix, seed=seed))
            if progress:
                progress(f"seed {seed}: lag {lag}: test accuracy {tried[lag]:.3f}")
            return tried[lag] >= threshold

        good, bad, lag = 0, None, 1
        while bad is None:
            if passes(lag):
                good = lag
                if lag == max_lag:
                    break
                lag = min(2 * lag, max_lag)
            else:
                bad = lag
        while bad is not None and bad - good > max(1, tolerance * good):
            middle = (good + bad) // 2
            good, bad = (middle, bad) if passes(middle) else (good, middle)
        result.per_seed[seed] = good
    return result


@dataclass(frozen=True, eq=False)
class DependencyProfile:
    """Test accuracy of one model trained per lag on a task with a lag; see dependency_profile."""

    lags: np.ndarray
    accuracy: np.ndarray
    chance: float
    hashes: tuple  # the run store's names of the runs, one per lag


def _check_lagged(config):
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a rnnlab.runs.RunConfig, got {type(config).__name__}")
    if not tasks.TASKS[config.task].lagged:
        lagged = [name for name, task in tasks.TASKS.items() if task.lagged]
        raise ValueError(f"config.task must be a task with a lag ({', '.join(map(repr, lagged))}), got "
                         f"{config.task!r}")


def dependency_profile(config, lags, store=None, progress=None):
    r"""Train (or load from the run store) one model per lag and read its test accuracy: how far back the
    architecture of `config` learns to look, not only how far it could (lag_recall: y = x_{T-1-lag};
    marked_recall: the marked symbol lag steps before the end).

    config: a rnnlab.runs.RunConfig of a task with a lag, copied with lag = each of `lags` (each < config.length).
    store: as for rnnlab.runs.run. progress: None, or a callable (fraction done, message) called after each run.
    """
    _check_lagged(config)
    lags = checks.lags(lags)
    if lags.max() >= config.length:
        raise ValueError(f"lags must be < config.length = {config.length}, got max(lags) = {lags.max()}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable (fraction, message), got {progress!r}")
    accuracy, chances, hashes = [], [], []
    for j, lag in enumerate(lags):
        result = run(config.replace(lag=int(lag)), store=store, progress=False)
        accuracy.append(result.metrics["test_accuracy"])
        chances.append(result.metrics["chance"])
        hashes.append(result.hash)
        if progress is not None:
            progress((j + 1) / len(lags), f"lag {lag}: test accuracy {accuracy[-1]:.3f}"
                     f"{' (from the store)' if result.cached else ''}")
    return DependencyProfile(lags, np.asarray(accuracy, dtype=np.float64), float(chances[0]), tuple(hashes))
