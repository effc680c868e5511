"""Cached measurements: every number comes from rnnlab, computed once per input.

Cached functions take a configuration as its JSON text (widgets.to_json) and a Source (sources.py), never a model,
so that st.cache_data can key on them.
"""
import copy

import streamlit as st
import torch

from rnnlab import lesson, memory, presets
from rnnlab.experiments import decay_report, dependency_profile, fitted
from rnnlab.memory import memory_profile
from rnnlab.trajectories import state_trajectory
from rnnlab.runs import load_run
from sources import model_at_init, store, stored_runs
from widgets import from_json

WASHOUT = 50  # memory profiles: steps before the first recalled input, so that h_{-1} = 0 does not single out x_0


@st.cache_data(max_entries=128, show_spinner=False)
def report(config_json, source, length, seed=0):
    """rnnlab.experiments.decay_report of the source's model on a random sequence of the configuration's task: the
    influence, perturbation and gradient curves, the fit, the spectrum, the bound and the Lyapunov exponent."""
    config = from_json(config_json)
    return decay_report(config, length, seed, model=source.model(config))


@st.cache_data(max_entries=128, show_spinner=False)
def decay(config_json, source, length, seed=0):
    """Only the influence curve ‖∂h_t/∂x_0‖ and its fitted decay (None where there is none), as in decay_report:
    {"influence", "fit"}, for the overview, which shows nothing else."""
    config = from_json(config_json)
    # float64: a curve that decays over thousands of steps stays far above underflow
    model = copy.deepcopy(source.model(config)).double()
    curve = memory.influence_curve(model, presets.sample_input(config, length, seed)[0])
    return {"influence": curve, "fit": fitted(curve)}


@st.cache_data(max_entries=64, show_spinner=False)
def trajectory(config_json, source, x, components, tokens=None):
    """rnnlab.trajectories.state_trajectory of the input x (a NumPy array, so that the cache can key on it), its
    steps labelled with `tokens` (words) if given, else with the token ids."""
    return state_trajectory(source.model(from_json(config_json)), torch.from_numpy(x), n_components=components,
                            tokens=tokens)


@st.cache_data(max_entries=64, show_spinner=False)
def linear_memory(config_json, lags):
    """rnnlab.memory.memory_profile of the model at initialisation, on sequences WASHOUT steps longer than the
    largest lag."""
    return memory_profile(model_at_init(config_json), list(lags), length=max(lags) + 1 + WASHOUT)


@st.cache_data(max_entries=64, show_spinner=False)
def dependency(config_json, lags):
    """rnnlab.experiments.dependency_profile from the store; call it once every lag is stored (it trains what is
    not)."""
    return dependency_profile(from_json(config_json), list(lags), store())


def stored_accuracy(config):
    """The stored run's test accuracy, or None when the configuration has not run."""
    s = store()
    return s.load(config, weights=False).metrics.get("test_accuracy") if config in s else None


def trained_lags(config):
    """{lag: test accuracy} of the stored lag_recall runs of this configuration, at any lag."""
    if config.task != "lag_recall":
        return {}
    return {r.config.lag: r.metrics.get("test_accuracy") for r in stored_runs()
            if r.config.replace(lag=config.lag) == config}


@st.cache_data(max_entries=1, show_spinner=False)
def shipped_lesson():
    """rnnlab.lesson.load(): the reach sweep's summary that ships with rnnlab (None if none), read once."""
    return lesson.load()


@st.cache_data(max_entries=16, show_spinner=False)
def run_history(run_hash):
    """The stored run's History (with its influence curve after each epoch, where it was recorded)."""
    return load_run(run_hash, store()).history
