"""rnnlab: see why a recurrent network forgets.

    h_t = tanh(A·[h_{t-1}; x_t] + b)

One module per idea: models (SimpleRNN, LSTM, GRU, SequenceClassifier), params (counts and summaries), tasks
(synthetic dependencies of known length), train (fit, evaluate), runs (configurations and the run store), memory
(influence and gradient decay), experiments (decay reports, accuracy against the lag, reach; the lecture's IMDB
run), plots (Plotly figures), imdb (the lecture's data set).
"""
from . import imdb, plots
from .experiments import DecayReport, DependencyProfile, Reach, decay_report, dependency_profile, imdb_config, reach
from .memory import (DecayFit, MemoryProfile, Spectrum, fit_decay, gradient_curve, influence_curve,
                     lyapunov_exponent, memory_profile, perturbation_curve, recurrent_spectrum, saliency_curve)
from .models import GRU, LSTM, SequenceClassifier, SimpleRNN, gate_time_constants
from .params import count_parameters, gru_params, lstm_params, simple_rnn_params, summary
from .runs import CorruptRun, RunConfig, RunResult, Store, delete_run, list_runs, load_run, run
from .tasks import TASKS, adding, chance_level, copy_memory, lag_recall, marked_recall
from .train import History, TrainingDiverged, evaluate, fit
from .trajectories import Trajectory, state_trajectory

__version__ = "0.1.0"
