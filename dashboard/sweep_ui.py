"""Sweeps on a page: choosing a sweep file, what the store holds of it, training the missing runs, and summaries
across seeds.

A typed sweep path is read only inside sweep_folders(), and a sweep file is bounded by rnnlab.sweeps' limits (1 MiB,
10,000 runs), since anyone who reaches the server may be hostile.
"""
import hashlib
import os
import stat
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from rnnlab.runs import Store
from rnnlab.sweeps import default_workers, failures, load_sweep, run_sweep, stored_results, summarize
from sources import store
from widgets import MAX_TEXT, train_with_cancel, typed

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "sweeps"  # the repository's sweep files
DEFAULT_SWEEP = "reach.toml"
SWEEP_DIRS = "RNNLAB_SWEEP_DIRS"  # more folders to read sweep files from, set by whoever starts the server
TRUSTED_OWNERS = {0, os.getuid()} if hasattr(os, "getuid") else {0}  # root and this user (Windows says 0)
TYPED = "A file I name…"
BANDS = {"95% interval": "interval", "± 1 std": "std", "none": None}  # label → rnnlab.sweeps band
STATISTIC_NAMES = {"test_accuracy": "test accuracy", "test_loss": "test loss", "time_constant": "time constant τ",
                   "horizon": "horizon"}  # rnnlab.sweeps.summarize's statistics, as the tables name them


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

    As widgets.train_with_cancel: any click while the sweep runs (Cancel included) reruns the page, which stops the
    sweep at its next progress update, once the runs under way finish; the finished runs stay in the store."""
    s = store()
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

    workers = min(default_workers(), len(missing))

    def train(progress):
        with main_script_hidden():
            run_sweep(sweep, s, workers=workers, progress=progress)

    train_with_cancel(key, f"Run the {len(missing)} missing run{'s' if len(missing) > 1 else ''} of {sweep.name}",
                      train, pending=bool(missing), cancelled="Sweep cancelled; the runs that finished are kept in "
                      "the store.", start=f"starting {len(missing)} runs on {workers} worker processes…",
                      icon=":material/play_arrow:")
    if missing:
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

