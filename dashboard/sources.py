"""Where a page's model comes from (a Source: at initialisation, a stored run, or a model the person uploaded), the
run store, and the compare list, the named (configuration, source) pairs the Compare page shows.

The run store is rnnlab's default ($RNNLAB_HOME or the user cache), read when a function is called, so tests can
point it at a temporary folder.
"""
from dataclasses import dataclass, field, fields

import streamlit as st

from rnnlab import presets
from rnnlab.runs import RunConfig, Store, list_runs, load_run
from widgets import describe, from_json, to_json

AT_INIT = "at initialisation"
COMPARE = "compare"  # st.session_state[COMPARE]: the list of CompareEntry, set up by app.py
UPLOADED = "uploaded"  # st.session_state[UPLOADED]: this session's uploads.Upload, once a person uploads a model
MAX_COMPARE = 4


# ------------------------------------------------------------------------------------------------ the run store

def store():
    return Store()


def stored_runs():
    """Every complete run in the store (no weights), newest first."""
    return list(reversed(list_runs(store())))


def run_details(result):
    """Everything that names a run, for a caption under its short label."""
    acc = result.metrics.get("test_accuracy")
    acc = "" if acc is None else f", test accuracy {acc:.0%}"
    c = result.config
    lag = "" if c.task == "imdb" else f" lag={c.lag}"
    return f"{describe(c)} · {c.task} T={c.length}{lag}, {c.epochs} epochs, seed {c.seed}{acc} · {c.hash}"


SHORT = {"hidden_size": "h={}", "length": "T={}", "lag": "lag {}", "epochs": "{} ep", "seed": "seed {}"}


def run_labels(results):
    """{hash: label} short enough for the sidebar: the cell, then only the fields in which these runs differ
    ("h=64", a task's name, "lag 10", "3 ep", "seed 1", others as name=value), then the test accuracy."""
    configs = [r.config for r in results]
    names = ["hidden_size"] + [f.name for f in fields(RunConfig) if f.name not in ("cell", "hidden_size")]
    differ = [name for name in names if len({getattr(c, name) for c in configs}) > 1]
    labels = {}
    for r in results:
        c, acc = r.config, r.metrics.get("test_accuracy")
        parts = [describe(c).split(" h=")[0]]
        for name in differ:
            if name == "lag" and c.task == "imdb":  # imdb has no lag
                continue
            value = getattr(c, name)
            parts.append(str(value) if name == "task" else SHORT.get(name, name + "={}").format(value))
        labels[r.hash] = " · ".join(parts + ([] if acc is None else [f"{acc:.0%}"]))
    return labels


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


# ------------------------------------------------------------------------------------------------ sources
# st.cache_data keys a dataclass on its fields: every source has one, `key`, which tells it from any other source.

@dataclass(frozen=True)
class AtInit:
    """A configuration's model at initialisation (seeded by the configuration's seed)."""

    key: str = field(default=AT_INIT, init=False)
    label = AT_INIT
    trained = False

    def model(self, config):
        """config's model at initialisation, in eval mode (cached: shared by every session, never changed)."""
        return model_at_init(to_json(config))

    def vocabulary(self):
        return None


@dataclass(frozen=True)
class StoredRun:
    """A run in the store, by its hash: its trained weights, and for a text run its vocabulary."""

    key: str  # the run's hash
    label = "trained"
    trained = True

    def model(self, config):
        """The stored run's model in eval mode; config is not read (the run holds its own)."""
        return trained_model(self.key)

    def vocabulary(self):
        """The word list the run was trained with, or None (a synthetic task, or a run stored without it)."""
        return vocabulary(self.key)


@dataclass(frozen=True)
class Uploaded:
    """The model a person uploaded in this session (uploads.py), by the sha256 of its file: the same file gives the
    same model in any session, so that measurements cached under this key are its own."""

    key: str  # the file's sha256
    label = "your model"
    trained = True

    def upload(self):
        upload = st.session_state.get(UPLOADED)
        if upload is None or upload.key != self.key:
            raise ValueError("this uploaded model is no longer in the session: upload it again on Your model")
        return upload

    def model(self, config):
        """The uploaded model (eval mode); config is not read (it was made from the model)."""
        return self.upload().model

    def vocabulary(self):
        """The IMDB vocabulary of an IMDB-shaped model (when the reviews are here), else None."""
        return self.upload().words


Source = AtInit | StoredRun | Uploaded


# ------------------------------------------------------------------------------------------------ compare list

@dataclass
class CompareEntry:
    """One column of the Compare page: a configuration and where its weights come from, under a unique name."""

    name: str
    config: RunConfig
    source: Source


def initial_compare():
    """What Compare starts with: the lecture's SimpleRNN and an LSTM of its size, at initialisation."""
    return [CompareEntry(name, presets.preset(name), AtInit()) for name in (presets.LECTURE, "LSTM, same state size")]


def compare_list():
    """The entries on the Compare page (app.py puts initial_compare() there on a session's first run)."""
    return st.session_state[COMPARE]


def add_to_compare(config, source, key, default_name=None):
    """A name field and an "Add to compare" button for (config, source); at most MAX_COMPARE entries."""
    entries = compare_list()
    default_name = default_name or describe(config) + (" (trained)" if source.trained else "")
    # keyed by the configuration too: a field that kept its first value would name another configuration
    name = st.text_input("Name in Compare", default_name, key=f"{key}.name.{source.key}.{config.hash}", max_chars=40)
    full = len(entries) >= MAX_COMPARE
    if st.button("Add to compare", key=f"{key}.add", disabled=full, icon=":material/add:",
                 help=f"Compare holds up to {MAX_COMPARE} configurations" if full else None):
        name = name.strip() or default_name
        if any(e.name == name for e in entries):
            st.warning(f"Compare already holds a configuration named {name!r}: choose another name.")
        else:
            entries.append(CompareEntry(name, config, source))
            st.success(f"Added {name!r} to Compare ({len(entries)}/{MAX_COMPARE}).")
    if full:
        st.caption(f"Compare is full ({MAX_COMPARE}); remove one there first.")
