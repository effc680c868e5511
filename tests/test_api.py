"""The public names the issues fix (outside checks call them) are there, at the top level, and callable."""
import rnnlab

PUBLIC = ["SimpleRNN", "LSTM", "GRU", "SequenceClassifier", "simple_rnn_params", "lstm_params", "gru_params",
          "count_parameters", "summary", "lag_recall", "adding", "chance_level", "fit", "evaluate", "History",
          "RunConfig", "run", "list_runs", "load_run", "delete_run", "influence_curve", "perturbation_curve",
          "gradient_curve", "saliency_curve", "fit_decay", "recurrent_spectrum", "lyapunov_exponent",
          "state_trajectory", "memory_profile", "dependency_profile", "marked_recall", "copy_memory", "reach",
          "decay_report", "gate_time_constants"]


def test_public_names_are_exported():
    missing = [name for name in PUBLIC if not callable(getattr(rnnlab, name, None))]
    assert missing == []


def test_imdb_and_experiment_entry_points():
    assert callable(rnnlab.imdb.load) and callable(rnnlab.experiments.imdb)


def test_library_never_imports_streamlit():
    import subprocess
    import sys
    code = ("import sys, rnnlab, rnnlab.plots, rnnlab.cli, rnnlab.explain, rnnlab.lesson; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
