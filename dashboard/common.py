"""What the pages share: widgets for a configuration, cached models and curves, figures with their downloads, the
compare list. Presentation only: every number comes from rnnlab.

Cached functions take a configuration as its JSON text (hashable, and the same text for the same RunConfig), never
a model, so that st.cache_data can key on them. The run store is rnnlab's default ($RNNLAB_HOME or the user
cache), read when a function is called, so tests can point it at a temporary folder.

Anyone who reaches the server may be hostile, so every request's work is bounded: curves and typed inputs by BUDGET
(sequence length × size), typed text by MAX_TEXT characters, sweep files by rnnlab.sweeps' limits (1 MiB, 10,000
runs); and a typed sweep path is read only inside sweep_folders().
"""
import copy
import hashlib
import json
import math
import os
import stat
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from rnnlab import imdb, memory, plots, presets
from rnnlab.explain import explain, window_accuracy
from rnnlab.experiments import dependency_profile
from rnnlab.memory import memory_profile
from rnnlab.models import CELLS, INITS, NONLINEARITIES
from rnnlab.params import count_parameters
from rnnlab.runs import RunConfig, Store, list_runs, load_run
from rnnlab.sweeps import default_workers, failures, load_sweep, run_sweep, stored_results, summarize
from rnnlab.trajectories import state_trajectory

AT_INIT = "at initialisation"
MAX_HIDDEN, MAX_COMPARE = 256, 4
LENGTHS = (100, 200, 300, 500, 1000, 2000, 5000, 10_000)
# One interaction stays within seconds on 2 cores: the curves cost about T·gates·h² (an LSTM with h = 32 may run
# 10,000 steps, h = 256 only 500). Longer runs belong to the CLI or a notebook.
BUDGET = 10_000 * 4 * 32 * 32
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
WASHOUT = 50  # memory profiles: steps before the first recalled input, so that h_{-1} = 0 does not single out x_0
MAX_TEXT = 5_000  # characters of any typed text (symbols, a review, a path): a long review has about 2,500
COMPARE = "compare"  # st.session_state[COMPARE]: list of {"name", "config" (JSON text), "source"}
ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "sweeps"  # the repository's sweep files
DEFAULT_SWEEP = "lecture.toml"
SWEEP_DIRS = "RNNLAB_SWEEP_DIRS"  # more folders to read sweep files from, set by whoever starts the server
TRUSTED_OWNERS = {0, os.getuid()} if hasattr(os, "getuid") else {0}  # root and this user (Windows says 0)
TYPED = "A file I name…"
BANDS = {"95% interval": "interval", "± 1 std": "std", "none": None}  # label → rnnlab.sweeps band
STATISTIC_NAMES = {"test_accuracy": "test accuracy", "test_loss": "test loss", "time_constant": "time constant τ",
                   "horizon": "horizon"}  # rnnlab.sweeps.summarize's statistics, as the tables name them


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
    allowed = [T for T in lengths if T * GATES[config.cell] * config.hidden_size ** 2 <= BUDGET]
    return allowed or [lengths[0]]


def check_length(config, steps, lengths=LENGTHS):
    """ValueError unless an input of `steps` steps (typed symbols or words) is within what lengths_for allows."""
    longest = max(lengths_for(config, lengths))
    if steps > longest:
        raise ValueError(f"the input has {steps:,} steps; up to {longest:,} at this size ({describe(config)}) here, "
                         "longer inputs through the CLI or a notebook")


def length_select(label, configs, key, default=1000, lengths=LENGTHS):
    """A select_slider over the lengths every configuration in `configs` (one, or a list) can afford; the default
    (or the longest affordable) is preselected. ValueError if they share none (Flatten heads of other lengths)."""
    configs = configs if isinstance(configs, list) else [configs]
    allowed = sorted(set.intersection(*(set(lengths_for(c, lengths)) for c in configs)))
    if not allowed:
        raise ValueError("these configurations share no sequence length: a Flatten head reads exactly the "
                         f"{', '.join(str(c.length) for c in configs if c.head == 'flatten')} states it was built for")
    if len(allowed) == 1:
        st.caption(f"{label}: {allowed[0]:,}" + (" (a Flatten head reads exactly this many states)"
                                                 if any(c.head == "flatten" for c in configs) else ""))
        return allowed[0]
    value = default if default in allowed else allowed[-1]
    if st.session_state.get(key) not in allowed:
        st.session_state[key] = value
    T = st.select_slider(label, allowed, key=key, format_func=lambda v: f"{v:,}")
    if allowed[-1] < lengths[-1]:
        st.caption(f"Up to {allowed[-1]:,} steps at this size here; longer sequences through the CLI or a notebook.")
    return T


def show_command(config):
    """The configuration as the CLI command that trains it."""
    st.caption("Reproduce from a terminal (the run then appears here):")
    st.code(presets.cli_command(config), language="bash")


# ------------------------------------------------------------------------------------------------ models and runs

def store():
    return Store()


def stored_runs():
    """Every complete run in the store (no weights), newest first."""
    return list(reversed(list_runs(store())))


def run_label(result):
    acc = result.metrics.get("test_accuracy")
    acc = "" if acc is None else f", test accuracy {acc:.0%}"
    c = result.config
    return f"{describe(c)} · {c.task} T={c.length} lag={c.lag}{acc} · {c.hash}"


@st.cache_resource(max_entries=32, show_spinner=False)
def model_at_init(config_json):
    """The model of a configuration at initialisation (seeded by its seed), in eval mode."""
    return from_json(config_json).build_model().eval()


@st.cache_resource(max_entries=16, show_spinner=False)
def trained_model(run_hash):
    """The trained model of a stored run (KeyError if it is not in the store)."""
    return load_run(run_hash, store()).model


@st.cache_resource(max_entries=16, show_spinner=False)
def vocabulary(run_hash):
    """The word list a stored text (imdb) run was trained with, or None."""
    return load_run(run_hash, store()).vocabulary


def model_for(config_json, source):
    """source: AT_INIT, or the hash of a stored run."""
    if source == AT_INIT:
        return model_at_init(config_json)
    return trained_model(source)


@st.cache_resource(max_entries=32, show_spinner=False)
def model64(config_json, source):
    """The model in float64: a curve that decays over thousands of steps stays above underflow (float32 stops
    near 1e-38, float64 near 1e-308)."""
    return copy.deepcopy(model_for(config_json, source)).double()


# ------------------------------------------------------------------------------------------------ measurements

def _model_and_input(config_json, source, length, seed):
    config = from_json(config_json)
    x, y = presets.sample_input(config, length, seed)
    return config, model64(config_json, source), x, y


@st.cache_data(max_entries=128, show_spinner=False)
def influence(config_json, source, length, seed=0):
    """‖∂h_t/∂x_0‖ (rnnlab.memory.influence_curve) on a random sequence of the configuration's task."""
    _, model, x, _ = _model_and_input(config_json, source, length, seed)
    return memory.influence_curve(model, x)


@st.cache_data(max_entries=128, show_spinner=False)
def perturbation(config_json, source, length, seed=0):
    """‖h_t(x) − h_t(x')‖ with x_0 replaced by another input (rnnlab.presets.alternative_first_input)."""
    config, model, x, _ = _model_and_input(config_json, source, length, seed)
    return memory.perturbation_curve(model, x, presets.alternative_first_input(config, x))


@st.cache_data(max_entries=128, show_spinner=False)
def gradient(config_json, source, length, seed=0):
    """‖∂L/∂h_t‖ of the training loss on that sequence and its target."""
    _, model, x, y = _model_and_input(config_json, source, length, seed)
    return memory.gradient_curve(model, x, y)


@st.cache_data(max_entries=128, show_spinner=False)
def lyapunov(config_json, source, length, seed=0):
    _, model, x, _ = _model_and_input(config_json, source, length, seed)
    return memory.lyapunov_exponent(model, x)


@st.cache_data(max_entries=128, show_spinner=False)
def spectrum(config_json, source):
    return memory.recurrent_spectrum(model_for(config_json, source))


@st.cache_data(max_entries=64, show_spinner=False)
def trajectory(config_json, source, x, components, tokens=None):
    """rnnlab.trajectories.state_trajectory of the input x (a NumPy array, so that the cache can key on it), its
    steps labelled with `tokens` (words) if given, else with the token ids."""
    return state_trajectory(model_for(config_json, source), torch.from_numpy(x), n_components=components,
                            tokens=tokens)


@st.cache_data(max_entries=64, show_spinner=False)
def linear_memory(config_json, lags):
    """rnnlab.memory.memory_profile of the model at initialisation, on sequences WASHOUT steps longer than the
    largest lag."""
    return memory_profile(model_at_init(config_json), list(lags), length=max(lags) + 1 + WASHOUT)


@st.cache_data(max_entries=64, show_spinner=False)
def dependency(config_json, lags):
    """rnnlab.experiments.dependency_profile from the store; call it once every lag is stored (it trains what is not)."""
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


def parameters(config_json, source):
    return count_parameters(model_for(config_json, source))


def fit(curve):
    """rnnlab.memory.fit_decay, or None where a curve cannot be fitted (it starts at 0, e.g. a dead relu)."""
    try:
        return memory.fit_decay(curve)
    except ValueError:
        return None


def influence_bounds(config, spectra, influences, length):
    """The dotted bounds of influence_figure, {name: curve} (None if there is none to draw).

    For a SimpleRNN, Spectrum.bound(T) = σ_max^t bounds ‖∂h_t/∂h_0‖, so ‖∂h_t/∂x_0‖ ≤ σ_max^t·‖∂h_0/∂x_0‖ (the
    curve's own start). Drawn only where σ_max ≤ 1: a growing bound says nothing about forgetting, and on a log
    axis it would flatten every curve. LSTM and GRU have no such bound."""
    if config.cell != "simple_rnn":
        return None
    bounds = {name: spectra[name].bound(length, start=influences[name][0]) for name in influences
              if spectra[name].sigma_max <= 1 + 1e-6}  # an orthogonal A_h has σ_max = 1 up to rounding
    return bounds or None


def decay(config_json, source, length, seed=0):
    """The influence curve and its fitted decay, for the overview."""
    curve = influence(config_json, source, length, seed)
    return {"influence": curve, "fit": fit(curve)}


# ------------------------------------------------------------------------------------------------ figures

def show_figure(fig, name, key):
    """The figure, with its data (CSV, rnnlab.plots.figure_data) and itself (HTML, figure_html) to download; both
    files are made only when asked for."""
    st.plotly_chart(fig, key=f"{key}.chart")
    row = st.container(horizontal=True)
    row.download_button("Data (CSV)", lambda: plots.figure_data(fig), file_name=f"{name}.csv", mime="text/csv",
                        key=f"{key}.csv", on_click="ignore", icon=":material/download:")
    row.download_button("Figure (HTML)", lambda: plots.figure_html(fig), file_name=f"{name}.html",
                        mime="text/html", key=f"{key}.html", on_click="ignore", icon=":material/download:")


def fmt(value, digits=3, unit=""):
    """A number for st.metric: ∞ and nan spelled out, thousands separated."""
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return f"{text}{unit}"


# ------------------------------------------------------------------------------------------------ compare list

def compare_list():
    """The configurations on the Compare page; it starts with the lecture's SimpleRNN and an LSTM of its size."""
    if COMPARE not in st.session_state:
        st.session_state[COMPARE] = [{"name": name, "config": to_json(presets.preset(name)), "source": AT_INIT}
                                     for name in (presets.LECTURE, "LSTM, same state size")]
    return st.session_state[COMPARE]


def add_to_compare(config, source, key, default_name=None):
    """A name field and an "Add to compare" button for (config, source); at most MAX_COMPARE entries."""
    entries = compare_list()
    default_name = default_name or describe(config) + ("" if source == AT_INIT else " (trained)")
    name = st.text_input("Name in Compare", default_name, key=f"{key}.name.{source}", max_chars=40)
    full = len(entries) >= MAX_COMPARE
    if st.button("Add to compare", key=f"{key}.add", disabled=full, icon=":material/add:",
                 help=f"Compare holds up to {MAX_COMPARE} configurations" if full else None):
        name = name.strip() or default_name
        if any(e["name"] == name for e in entries):
            st.warning(f"Compare already holds a configuration named {name!r}: choose another name.")
        else:
            entries.append({"name": name, "config": to_json(config), "source": source})
            st.success(f"Added {name!r} to Compare ({len(entries)}/{MAX_COMPARE}).")
    if full:
        st.caption(f"Compare is full ({MAX_COMPARE}); remove one there first.")


# ------------------------------------------------------------------------------------------------ IMDB

def imdb_runs():
    """The stored IMDB runs (no weights), newest first."""
    return [r for r in stored_runs() if r.config.task == "imdb"]


def imdb_location():
    """Where rnnlab.imdb looks for the reviews ($RNNLAB_IMDB_DIR, else the cache): keys the cached data, so that a
    process that changes either (a test) never reads another's."""
    return f"{imdb.find_data_dir()}|{imdb.default_cache_dir()}"


@st.cache_data(max_entries=4, show_spinner=False)
def imdb_test_reviews(num_words, maxlen, n, location):
    """(x, y, words): the first n test reviews as a run with num_words and maxlen reads them, and the
    vocabulary's id → word list. Never downloads: rnnlab.imdb.DataNotFound when the reviews are neither in
    $RNNLAB_IMDB_DIR nor in the cache (an error is not cached, so the data is looked for again next time)."""
    data = imdb.load(num_words=num_words, maxlen=maxlen, download=False, progress=False)
    return data.x_test[:n], data.y_test[:n], data.vocabulary.id_to_word


@st.cache_data(max_entries=16, show_spinner=False)
def imdb_windows(run_hash, n, ks, location):
    """rnnlab.explain.window_accuracy of a stored run on the first n test reviews, for each k in ks."""
    config = store().load(run_hash, weights=False).config
    x, y, _ = imdb_test_reviews(config.num_symbols, config.length, n, location)
    return window_accuracy(trained_model(run_hash), x, y, list(ks))


def words_in_order(config, text):
    """A vocabulary for a model without one (at initialisation): the text's words numbered in order of first
    appearance. Its ids mean nothing to an untrained model, as any other numbering would."""
    return imdb.Vocabulary(list(dict.fromkeys(imdb.tokenize(text))), config.num_symbols)


@st.cache_data(max_entries=64, show_spinner=False)
def explanation(config_json, source, x, text=""):
    """rnnlab.explain.explain of one row of token ids x (a NumPy array), with the words of the run's vocabulary
    (source a run hash), or at initialisation those of words_in_order(text)."""
    words = vocabulary(source) if source != AT_INIT else words_in_order(from_json(config_json), text)
    return explain(model_for(config_json, source), x, words)


# ------------------------------------------------------------------------------------------------ sweeps

def sweep_files():
    """The repository's sweep files, sweeps/*.toml, by name."""
    return sorted(SWEEPS.glob("*.toml"))


def sweep_folders():
    """The folders the dashboard reads sweep files from, symlinks resolved: the repository's sweeps/, the run store,
    and those the person who started the server named in $RNNLAB_SWEEP_DIRS (os.pathsep between them)."""
    named = [Path(p).expanduser() for p in os.environ.get(SWEEP_DIRS, "").split(os.pathsep) if p]
    return [folder.resolve() for folder in (SWEEPS, store().root, *named)]


@st.cache_resource(max_entries=8, show_spinner=False)
def parsed_sweep(path, version):
    """load_sweep(path) and a digest of its runs, kept while the file is unchanged (version: its mtime, size and
    inode), so that a rerun does not expand the grid again. Shared by every session: a Sweep is frozen."""
    sweep = load_sweep(path)
    return sweep, hashlib.sha256(" ".join(c.hash for c in sweep.configs).encode()).hexdigest()[:12]


def read_sweep(text):
    """(Sweep, digest, path) of the sweep file a person named; relative paths start at the repository root.

    Read only if it is a regular .toml file inside sweep_folders() once symlinks are resolved, owned by root or this
    user and not writable by others: a file someone else could have written is never read. Any other path is the
    same ValueError, "not a sweep file I may read: <text>", so that a visitor learns nothing about files outside
    those folders, not even whether they exist. A readable file that is no valid sweep is load_sweep's error."""
    refused = ValueError(f"not a sweep file I may read: {text}")
    if "\0" in text:  # no path holds one (os.stat would say "embedded null byte")
        raise refused
    try:
        path = Path(text).expanduser()
        path = (path if path.is_absolute() else ROOT / path).resolve()
        if path.suffix != ".toml" or not any(path.is_relative_to(folder) for folder in sweep_folders()):
            raise refused
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_uid not in TRUSTED_OWNERS or info.st_mode & stat.S_IWOTH:
            raise refused
        return *parsed_sweep(str(path), (info.st_mtime_ns, info.st_size, info.st_ino)), path
    except (OSError, RuntimeError):  # no such file, no such user (~bob), a symlink loop, replaced meanwhile
        raise refused from None


def sweep_select(key):
    """A choice among the repository's sweep files, or a path the person types (see read_sweep); returns
    (Sweep, digest, path), or (None, None, None) with the reason shown."""
    files = {p.name: p for p in sweep_files()}
    options = list(files) + [TYPED]
    choice = st.selectbox("Sweep file", options, key=f"{key}.file",
                          index=options.index(DEFAULT_SWEEP) if DEFAULT_SWEEP in files else 0,
                          help="A grid of configurations × seeds (TOML); `rnnlab sweep FILE` trains it from a terminal")
    text = str(files[choice]) if choice != TYPED else st.text_input(
        "Path of a sweep file (TOML)", key=f"{key}.path", placeholder="sweeps/mine.toml",
        help=f"A .toml file in the repository's sweeps/ folder, the run store or a folder named in ${SWEEP_DIRS} "
             f"when the dashboard was started; at most {MAX_TEXT:,} characters").strip()
    if not text:
        st.info("Type the path of a sweep file: `seeds = [...]`, a `[base]` and a `[grid]` table (see "
                "sweeps/lecture.toml).")
        return None, None, None
    try:
        return read_sweep(typed(text, "The path"))
    except (ValueError, TypeError) as error:
        st.error(f"{error}")
    return None, None, None


def sweep_command(path):
    try:
        path = Path(path).resolve().relative_to(ROOT)
    except ValueError:
        pass
    return f"rnnlab sweep {path}"


@contextmanager
def main_script_hidden():
    """Streamlit runs the page as the module __main__ of file dashboard/app.py, and a process that multiprocessing
    starts (forkserver or spawn) imports __main__'s file first: every sweep worker would run the whole dashboard.
    The workers need only rnnlab, so while they start __main__ is an empty module."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def sweep_section(key):
    """The sweep chosen on a page, its widget key and what the store holds of it (status and run button shown):
    (sweep, key, results), or (None, None, None) when no sweep could be read."""
    sweep, digest, path = sweep_select(key)
    if sweep is None:
        return None, None, None
    key = f"{key}.{digest}"  # another sweep gets fresh widgets, with its own options
    return sweep, key, sweep_runs(key, sweep, path)


def sweep_runs(key, sweep, path):
    """How much of the sweep the store holds ("k of N"), its failed runs, and a button that trains the missing ones
    here (rnnlab.sweeps.run_sweep on this machine's cores) with a progress bar; returns the stored results.

    As on-demand training: any click while the sweep runs (Cancel included) reruns the page, which stops the sweep
    at its next progress update, once the runs under way finish; the finished runs stay in the store."""
    s = store()
    running = f"{key}.running"
    missing = [c for c in sweep.configs if c not in s]
    failed = [f for f in failures(s) if f.get("hash") in {c.hash for c in missing}]
    c = st.columns(3)
    c[0].metric("Runs in the store", f"{len(sweep.configs) - len(missing)} of {len(sweep.configs)}")
    c[1].metric("Configurations × seeds", f"{len(sweep.configs) // len(sweep.seeds)} × {len(sweep.seeds)}")
    c[2].metric("Failed runs", len(failed))
    if sweep.invalid:
        st.caption(f"{len(sweep.invalid)} combinations skipped: " + "; ".join(
            f"{', '.join(f'{k}={v}' for k, v in combination.items())} ({reason})"
            for combination, reason in sweep.invalid[:3]) + ("; …" if len(sweep.invalid) > 3 else ""))
    if failed:
        st.warning(f"{len(failed)} run{'s' if len(failed) > 1 else ''} failed, the last after "
                   f"{failed[-1].get('attempts', '?')} attempts with {failed[-1].get('error')}. Tracebacks in "
                   f"{s.root / '.failures'}; running the sweep again retries {'them' if len(failed) > 1 else 'it'}.")

    cancel = st.empty()
    if st.session_state.get(running) and missing:
        if cancel.button("Cancel", key=f"{key}.cancel", icon=":material/cancel:"):
            cancel.empty()
            st.session_state[running] = False
            st.warning("Sweep cancelled; the runs that finished are kept in the store.")
        else:
            workers = min(default_workers(), len(missing))
            bar = st.progress(0.0, text=f"starting {len(missing)} runs on {workers} worker processes…")
            with main_script_hidden():
                run_sweep(sweep, s, workers=workers, progress=lambda fraction, message: bar.progress(fraction, message))
            st.session_state[running] = False
            st.rerun()
    st.session_state[running] = False  # done or cancelled (a rerun that interrupts the sweep skips this)
    if missing:
        st.button(f"Run the {len(missing)} missing run{'s' if len(missing) > 1 else ''} of {sweep.name}",
                  key=f"{key}.run", type="primary", icon=":material/play_arrow:",
                  on_click=lambda: st.session_state.update({running: True}))
        st.caption(f"Here: one process per core ({default_workers()}), each run stored as it finishes. Or from a "
                   "terminal, on more cores or a Ray cluster; this page shows the runs as they arrive:")
        st.code(sweep_command(path), language="bash")
    return stored_results(sweep, s)


def varying(sweep):
    """The grid's fields that take more than one value, in the file's order."""
    return [f for f, values in sweep.axes.items() if len(values) > 1]


def numeric(sweep, field):
    """Whether every value of the field in the grid is a number (it can be an x axis)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sweep.axes[field])


def values_of(sweep, field):
    """The values of a field in the sweep, as the names rnnlab.sweeps.profiles gives its curves."""
    return [str(v) for v in sweep.axes.get(field, [getattr(sweep.configs[0], field)])]


def hold_fixed(key, sweep, results, free):
    """A selectbox for each varying field not in `free`, holding it at one of its values; returns the results at
    those values and {field: value}."""
    held = [f for f in varying(sweep) if f not in free]
    fixed = {}
    for column, field in zip(st.columns(len(held)) if held else [], held):
        fixed[field] = column.selectbox(f"Hold {field} at", sweep.axes[field], key=f"{key}.hold.{field}",
                                        format_func=str)
    return [r for r in results if all(getattr(r.config, f) == v for f, v in fixed.items())], fixed


@st.cache_data(max_entries=32, show_spinner="Summarizing across seeds…")
def sweep_summary(root, hashes, by, influence=False):
    """rnnlab.sweeps.summarize of the stored runs `hashes` (a tuple) in the store at `root`, grouped by `by`; with
    influence=True it loads every model to fit the decay of ‖∂h_t/∂x_0‖."""
    s = Store(root)
    return summarize([s.load(h, weights=False) for h in hashes], by=list(by), influence=influence)


def summary_table(summary, by, statistics, key, name):
    """A summary as a table: the `by` fields, the seeds, and mean, std and interval of each statistic; with its CSV."""
    level = summary[0]["level"]
    rows = []
    for r in summary:
        row = {f: str(r[f]) for f in by}
        row.update({"seeds (n)": r["n"], "seeds": " ".join(map(str, r["seeds"]))})
        for s in statistics:
            label = STATISTIC_NAMES[s]
            row.update({f"{label} mean": r[f"{s}_mean"], f"{label} std": r[f"{s}_std"],
                        f"{label} {level:.0%} low": r[f"{s}_lower"], f"{label} {level:.0%} high": r[f"{s}_upper"]})
        rows.append(row)
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, key=f"{key}.table")
    st.download_button("Summary (CSV)", lambda: table.to_csv(index=False), file_name=f"{name}.csv", mime="text/csv",
                       key=f"{key}.summary_csv", on_click="ignore", icon=":material/download:")

