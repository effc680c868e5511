"""rnnlab: see why a recurrent network forgets.

    h_t = tanh(A·[h_{t-1}; x_t] + b)

One module per idea: models (SimpleRNN, LSTM, GRU, SequenceClassifier), params (counts and summaries), tasks
(synthetic dependencies of known length), train (fit, evaluate) and history (what fit records), runs (configurations
and the run store) and choices (the names a configuration picks from), memory (influence and gradient decay),
experiments (decay reports, accuracy against the lag, reach; the lecture's IMDB run), plots (Plotly figures), imdb
(the lecture's data set), modelfile (load_model: a Keras or PyTorch model file).
"""
import importlib

# name → the module that defines it, imported on first use (PEP 562): `import rnnlab` alone loads no torch, so that
# `rnnlab --help` answers at once; `from rnnlab import fit` imports what fit needs.
_EXPORTS = {
    "experiments": ("DecayReport", "DependencyProfile", "Reach", "decay_report", "dependency_profile", "imdb_config",
                    "model_report", "reach"),
    "history": ("History",),
    "memory": ("DecayFit", "MemoryProfile", "Spectrum", "fit_decay", "gradient_curve", "influence_curve",
               "lyapunov_exponent", "memory_profile", "perturbation_curve", "recurrent_spectrum", "saliency_curve"),
    "modelfile": ("ModelFileError", "load_model"),
    "models": ("GRU", "LSTM", "SequenceClassifier", "SimpleRNN", "gate_time_constants"),
    "params": ("count_parameters", "gru_params", "lstm_params", "simple_rnn_params", "summary"),
    "runs": ("CorruptRun", "RunConfig", "RunResult", "Store", "delete_run", "list_runs", "load_run", "run"),
    "tasks": ("TASKS", "adding", "chance_level", "copy_memory", "lag_recall", "marked_recall"),
    "train": ("TrainingDiverged", "evaluate", "fit"),
    "trajectories": ("Trajectory", "state_trajectory"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["imdb", "plots", *_MODULE_OF]
__version__ = "0.1.0"


def __getattr__(name):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value  # the next access is a plain lookup
        return value
    try:  # a submodule: rnnlab.plots, rnnlab.sweeps, …
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":  # the submodule exists but needs something missing
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
