"""Widgets the pages share: a configuration and its sequence length, messages, and on-demand training with Cancel.

Anyone who reaches the server may be hostile, so every request's work is bounded: curves and typed inputs by BUDGET
(sequence length × size), typed text by MAX_TEXT characters.
"""
import json
from contextlib import contextmanager

import streamlit as st

from rnnlab import notebook, presets
from rnnlab.models import CELLS, INITS, LAYERS, NONLINEARITIES
from rnnlab.runs import RunConfig
from rnnlab.train import TrainingDiverged

MAX_HIDDEN = 256
LENGTHS = (100, 200, 300, 500, 1000, 2000, 5000, 10_000)
# One interaction stays within seconds on 2 cores: the curves cost about T·gates·h² (an LSTM with h = 32 may run
# 10,000 steps, h = 256 only 500). Longer runs belong to the CLI or a notebook.
BUDGET = 10_000 * 4 * 32 * 32
MAX_TEXT = 5_000  # characters of any typed text (symbols, a review, a path): a long review has about 2,500


# ------------------------------------------------------------------------------------------------ messages

@contextmanager
def errors_shown():
    """Show an error raised in the block as a message and go on with the rest of the page."""
    try:
        yield
    except (ValueError, TypeError, KeyError, RuntimeError, FileNotFoundError) as error:
        st.error(f"{error}")


def typed(text, what):
    """Text a person typed, if it has at most MAX_TEXT characters; else ValueError saying the limit."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what}: at most {MAX_TEXT:,} characters here, got {len(text):,}")
    return text


# ------------------------------------------------------------------------------------------------ configurations

def to_json(config):
    """A configuration as text that st.cache_data can key on: the same text for the same RunConfig."""
    return json.dumps(config.to_dict(), sort_keys=True)


def from_json(text):
    return RunConfig.from_dict(json.loads(text))


def describe(config):
    """A short human name: cell, size, φ, init, ρ."""
    cell = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[config.cell]
    parts = [f"{cell} h={config.hidden_size}"]
    if config.cell == "simple_rnn" and config.nonlinearity != "tanh":
        parts.append(config.nonlinearity)
    if config.init != "keras":
        parts.append(f"init {config.init}")
    if config.spectral_radius is not None:
        parts.append(f"ρ={config.spectral_radius:g}")
    return ", ".join(parts)


def preset_select(key, label="Preset configuration", default=presets.LECTURE):
    """A selectbox over rnnlab.presets.PRESETS; returns the preset's name."""
    names = list(presets.PRESETS)
    return st.selectbox(label, names, index=names.index(default), key=key)


def config_editor(key, base):
    """Widgets for the fields of a RunConfig that shape its memory (cell, h, φ, init, ρ), starting from `base`;
    returns the RunConfig. Widget keys start with `key` and include base's hash, so that choosing another preset
    sets every widget to that preset's values."""
    k = f"{key}.{base.hash}"
    cell = st.selectbox("Cell", CELLS, index=CELLS.index(base.cell), key=f"{k}.cell")
    hidden = st.slider("State size h", 1, MAX_HIDDEN, base.hidden_size, key=f"{k}.hidden")
    simple = cell == "simple_rnn"
    nonlinearity = st.selectbox("Nonlinearity φ", NONLINEARITIES if simple else ("tanh",),
                                index=NONLINEARITIES.index(base.nonlinearity) if simple else 0,
                                key=f"{k}.phi", disabled=not simple,
                                help="LSTM and GRU keep their own tanh and sigmoid gates")
    init = st.selectbox("Initialisation of A", INITS, index=INITS.index(base.init), key=f"{k}.init")
    set_radius = st.checkbox("Rescale A_h to a spectral radius ρ", base.spectral_radius is not None,
                             key=f"{k}.set_radius")
    radius = st.slider("Spectral radius ρ(A_h)", 0.1, 2.0, base.spectral_radius or 1.0, 0.05, key=f"{k}.radius",
                       disabled=not set_radius)
    return base.replace(cell=cell, hidden_size=hidden, nonlinearity=nonlinearity, init=init,
                        spectral_radius=radius if set_radius else None)


def lengths_for(config, lengths=LENGTHS):
    """The sequence lengths one interaction can afford for this configuration's cell and state size; only its own
    length for a head="flatten" model, whose Dense layer reads exactly that many states."""
    if config.head == "flatten":
        return [config.length]
    gates = LAYERS[config.cell].gates
    allowed = [T for T in lengths if T * gates * config.hidden_size ** 2 <= BUDGET]
    return allowed or [lengths[0]]


def check_length(config, steps, lengths=LENGTHS):
    """ValueError unless an input of `steps` steps (typed symbols or words) is within what lengths_for allows."""
    longest = max(lengths_for(config, lengths))
    if steps > longest:
        raise ValueError(f"the input has {steps:,} steps; up to {longest:,} at this size ({describe(config)}) here, "
                         "longer inputs through the CLI or a notebook")


def length_select(label, configs, key, default=1000, lengths=LENGTHS):
    """A select_slider over the lengths every configuration in `configs` (one, or a list) can afford, set to the
    length last chosen there (at first `default`), or the longest affordable below it while a larger size cuts it.
    ValueError if they share none (Flatten heads of other lengths)."""
    configs = configs if isinstance(configs, list) else [configs]
    allowed = sorted(set.intersection(*(set(lengths_for(c, lengths)) for c in configs)))
    if not allowed:
        raise ValueError("these configurations share no sequence length: a Flatten head reads exactly the "
                         f"{', '.join(str(c.length) for c in configs if c.head == 'flatten')} states it was built for")
    if len(allowed) == 1:
        st.caption(f"{label}: {allowed[0]:,}" + (" (a Flatten head reads exactly this many states)"
                                                 if any(c.head == "flatten" for c in configs) else ""))
        return allowed[0]
    # The person's choice lives apart from the widget's value, which a smaller budget cuts: once the budget allows
    # the choice again, it comes back.
    wanted = f"{key}.wanted"
    choice = st.session_state.setdefault(wanted, default)
    if choice in allowed or st.session_state.get(key) not in allowed:
        st.session_state[key] = max([T for T in allowed if T <= choice] or allowed[:1])
    T = st.select_slider(label, allowed, key=key, format_func=lambda v: f"{v:,}",
                         on_change=lambda: st.session_state.update({wanted: st.session_state[key]}))
    if allowed[-1] < lengths[-1]:
        st.caption(f"Up to {allowed[-1]:,} steps at this size here; longer sequences through the CLI or a notebook.")
    return T


def show_command(config, figure=None, length=None, seed=0, source=None, key="command"):
    """The configuration as the CLI command that trains it and, for a `figure` of rnnlab.notebook.FIGURES, the
    Python that draws it (rnnlab.notebook.code's arguments) with a download of it as a Jupyter notebook."""
    with st.expander("CLI command" + (" and Python" if figure else "")):
        st.caption("Reproduce from a terminal (the run then appears here):")
        st.code(presets.cli_command(config), language="bash")
        if figure:
            show_python(notebook.code(config, figure, length, seed, source), figure, key)


def show_python(python, figure, key):
    """The Python (rnnlab.notebook's) that draws `figure`, a key of rnnlab.notebook.FIGURES, and a download of it as
    a Jupyter notebook."""
    st.caption("Reproduce the figure in Python, with the run store of this dashboard ($RNNLAB_HOME):")
    st.code(python, language="python")
    cells = [("markdown", f"{notebook.FIGURES[figure]}, as the rnnlab dashboard draws it."), ("code", python)]
    st.download_button("Notebook (.ipynb)", lambda: notebook.notebook(cells), file_name=f"{figure}.ipynb",
                       mime="application/x-ipynb+json", key=f"{key}.notebook", on_click="ignore",
                       icon=":material/download:")


# ------------------------------------------------------------------------------------------------ training

def train_with_cancel(key, label, work, pending, cancelled, start="starting…", icon=":material/model_training:",
                      errors=(TrainingDiverged,)):
    """A primary button `label` (while `pending`, i.e. something is left to train) that runs work(progress) on the
    page's next run, with a progress bar and a Cancel button; progress(fraction, text) moves the bar.

    Streamlit stops a script where it next calls st once a widget changes, so any click while `work` runs (Cancel
    included) reruns the page and stops `work` at its next progress update; Cancel then shows `cancelled`, which
    says what was kept. An error of a type in `errors` is shown; once `work` returns, the page runs again.
    Keys: {key}.train, {key}.cancel, and {key}.training, the session flag that survives the reruns it causes."""
    flag = f"{key}.training"
    cancel = st.empty()
    if st.session_state.get(flag) and pending:
        if cancel.button("Cancel", key=f"{key}.cancel", icon=":material/cancel:"):
            cancel.empty()
            st.warning(cancelled)
        else:
            bar = st.progress(0.0, text=start)
            try:
                work(lambda fraction, text: bar.progress(min(1.0, max(0.0, fraction)), text=text))
            except errors as error:
                cancel.empty()  # nothing left to cancel
                st.error(f"{error}")
            else:
                st.session_state[flag] = False
                st.rerun()
    st.session_state[flag] = False  # done, cancelled or failed (a rerun that interrupts `work` skips this)
    if pending:
        st.button(label, key=f"{key}.train", type="primary", icon=icon,
                  on_click=lambda: st.session_state.update({flag: True}))
