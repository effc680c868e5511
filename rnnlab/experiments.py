"""Experiments built from the pieces: the lecture's IMDB run, and one model's memory measured every way at once.

decay_report(config, length, seed): on one random sequence of the config's task, the influence of x_0 on h_t,
the distance between states when only x_0 changes, the gradient reaching each step, the fitted decay, the spectrum
of A_h with its σ_max^t bound, and the Lyapunov exponent: what Memory decay, Compare and `rnnlab analyse` show.

The lecture's IMDB experiment, as one RunConfig:

    Embedding(10000, 32) → SimpleRNN(32) → Dense(1, sigmoid), reviews cut or padded to 500 words,
    RMSprop lr 1e-3, binary cross-entropy, batch 32, 3 epochs; head="last" reads h_{T-1},
    head="flatten" reads all 500 states (Embedding 320,000 + SimpleRNN 2,080 + Dense 33 = 322,113 parameters,
    or 320,000 + 2,080 + 16,001 = 338,081 with Flatten).

The lecture reports about 84% test accuracy, Chollet's book about 85% validation accuracy. A run is stored like any
other (history, test loss and accuracy, weights, vocabulary), so the dashboard and `rnnlab runs` find it.
"""
import copy
from dataclasses import dataclass

import numpy as np

from . import memory, presets
from .runs import RunConfig, run

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


def decay_report(config, length=None, seed=0, model=None):
    """Measure the memory of `model` (default: config.build_model(), the configuration at initialisation) on one
    random sequence of config's task (presets.sample_input(config, length, seed)).

    The model is measured in float64, on a copy: a curve that decays over thousands of steps stays far above
    underflow. Returns a DecayReport."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    model = copy.deepcopy(config.build_model() if model is None else model).double().eval()
    x, y = presets.sample_input(config, length, seed)
    influence = memory.influence_curve(model, x)
    spectrum = memory.recurrent_spectrum(model)
    try:
        fit = memory.fit_decay(influence)
    except ValueError:  # a curve that starts at 0 (e.g. a dead relu) has no decay to fit
        fit = None
    # ‖∂h_t/∂h_0‖ ≤ σ_max^t holds for a SimpleRNN (|φ'| ≤ 1); above σ_max = 1 the bound grows and says nothing
    # about forgetting. An orthogonal A_h has σ_max = 1 up to rounding.
    bound = (spectrum.bound(len(influence), start=influence[0])
             if config.cell == "simple_rnn" and spectrum.sigma_max <= 1 + 1e-6 else None)
    return DecayReport(influence=influence,
                       perturbation=memory.perturbation_curve(model, x, presets.alternative_first_input(config, x)),
                       gradient=memory.gradient_curve(model, x, y), fit=fit, spectrum=spectrum,
                       lyapunov=memory.lyapunov_exponent(model, x), bound=bound, length=len(influence))
