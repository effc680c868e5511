"""One experiment = one RunConfig; its result is stored under the config's hash and never computed twice.

    RunConfig ──build_model(), make_data()──▶ fit ──▶ evaluate on the test set ──▶ <store>/<hash>/
                                                                                    config.json
                                                                                    metrics.json (+ sha256)
                                                                                    weights.pt

A run is written into a temporary folder inside the store and renamed to its hash with os.replace, so a store
only ever holds complete runs: a crash mid-write leaves a hidden ".tmp-…" folder that listing ignores and the next
save removes, with a warning, once it is an hour old. Two processes saving the same run race to one rename: the
first wins and the second discards its copy. metrics.json records the sha256 of weights.pt (and vocabulary.json),
and reading back checks every file against it and against the config. A run's files are read only if they are
regular files (never through a link, never a FIFO or a device), the JSON ones only up to MAX_BYTES, and
metrics.json must hold exactly what save writes, checksums included. A run that does not match is refused
(CorruptRun), and `run` sets such a folder aside as ".broken-<hash>-<time>-<pid>" and trains again.

The store is `$RNNLAB_HOME/runs` if RNNLAB_HOME is set, else `$XDG_CACHE_HOME/rnnlab/runs` (default
`~/.cache/rnnlab/runs`).
"""
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from . import checks, files, imdb, tasks
from .choices import CELLS, HEADS, INITS, NONLINEARITIES, OPTIMIZERS
from .history import History

# name → (module, attribute): torch and the modules that train take seconds to import, and listing the store (`rnnlab
# runs`) reads JSON files alone, so these load on first use: as runs.torch, runs.fit, … (PEP 562, which a test may
# patch), or all at once by _heavy(), which build_model, save and run call first (load builds the model before it
# reads weights).
_HEAVY = {"torch": ("torch", None), "memory": (".memory", None),
          "SequenceClassifier": (".models", "SequenceClassifier"), "evaluate": (".train", "evaluate"),
          "fit": (".train", "fit")}


def __getattr__(name):
    if name not in _HEAVY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _HEAVY[name]
    value = importlib.import_module(module, __package__)
    globals()[name] = value = value if attribute is None else getattr(value, attribute)
    return value


def _heavy():
    for name in _HEAVY.keys() - globals().keys():  # a name already loaded (or a test's stand-in) is kept
        __getattr__(name)


TASKS = tasks.TASKS  # name → Task, read live: a task registered there is a valid RunConfig.task at once
IMDB_SIZE = tasks.IMDB_SIZE
INT_MAX = 2**63 - 1
FORMAT = 1  # the layout of a stored run; one written by a later rnnlab is refused rather than misread
INFLUENCE_PROBES = 16  # test sequences whose mean ‖∂h_t/∂x_0‖ run() records after each epoch
STALE_SECONDS = 3600  # a hidden .tmp-/.trash- folder this old was left by a killed process: no save takes an hour


class CorruptRun(ValueError):
    """A run folder that cannot be read back as the run its name promises; the message says what differs."""


def _opt(default, text, choices=None, minimum=1):
    """A dataclass field whose help text and allowed values the CLI and the validation share."""
    return field(default=default, metadata={"help": text, "choices": choices, "minimum": minimum})


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run. Validated on construction; `hash` names the run in the store.

    The defaults train in a few seconds on a CPU and reach 100% test accuracy at lag 0.
    """

    task: str = _opt("lag_recall", "the task (rnnlab.tasks.TASKS): recall the symbol `lag` steps before the end, "
                     "add two marked values, the IMDB reviews' sentiment, or copy k symbols after a wait", TASKS)
    length: int = _opt(20, "sequence length T (imdb: reviews cut or padded to this many words)")
    lag: int = _opt(0, "lag_recall: y = x_{T-1-lag}; 0 = the last symbol, length-1 = x_0", minimum=0)
    num_symbols: int = _opt(8, "vocabulary size (lag_recall: chance accuracy = 1/num_symbols; imdb: the most "
                            "frequent words kept)", minimum=2)
    n_train: int = _opt(2000, "training sequences (imdb: the first n of the 25,000 shuffled reviews)")
    n_test: int = _opt(500, "test sequences (imdb: likewise)")
    cell: str = _opt("simple_rnn", "recurrent layer", CELLS)
    hidden_size: int = _opt(32, "size of h_t")
    embedding_dim: int = _opt(8, "lag_recall and imdb: size of the token embedding x_t")
    nonlinearity: str = _opt("tanh", "φ of simple_rnn (other cells must keep 'tanh')", NONLINEARITIES)
    init: str = _opt("keras", "initialization of A and b", INITS)
    spectral_radius: float | None = _opt(None, "rescale A_h to this max|λ| (none = keep the init's)")
    head: str = _opt("last", "Dense on h_{T-1} ('last'), on all h_t flattened, or on each h_t ('each': an answer "
                     "per step, as copy_memory asks)", HEADS)
    epochs: int = _opt(10, "training epochs")
    batch_size: int = _opt(32, "minibatch size")
    optimizer: str = _opt("rmsprop", "optimizer (rmsprop = Keras' RMSprop)", OPTIMIZERS)
    lr: float = _opt(1e-3, "learning rate")
    clip: float | None = _opt(None, "max global gradient norm (none = no clipping)")
    seed: int = _opt(0, "seeds the initial weights, the data and the shuffling", minimum=0)
    jitter: int = _opt(0, "marked_recall: the marked step lies lag … lag+jitter steps before the end, drawn per "
                       "sequence (0 = exactly lag)", minimum=0)
    stop_at: float | None = _opt(None, "stop after the first epoch whose training accuracy reaches this (none = "
                                 "train every epoch)")
    copy_symbols: int = _opt(10, "copy_memory: k, the symbols to reproduce; length = T + 2k, T = the steps of "
                             "waiting (the last one the delimiter), num_symbols = K")

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is str:
                if not isinstance(value, str):
                    raise TypeError(f"{f.name} must be a str, one of {', '.join(map(repr, f.metadata['choices']))}, "
                                    f"got {value!r} ({type(value).__name__})")
                if value not in f.metadata["choices"]:
                    raise ValueError(f"{f.name} must be one of {', '.join(map(repr, f.metadata['choices']))}, "
                                     f"got {value!r}")
            elif f.type is int:
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise TypeError(f"{f.name} must be an int, got {value!r} ({type(value).__name__})")
                minimum = f.metadata["minimum"]
                if value < minimum:
                    raise ValueError(f"{f.name} must be >= {minimum}, got {value}")
                if value > INT_MAX:  # torch takes sizes and seeds as int64
                    raise ValueError(f"{f.name} must be <= 2**63 - 1 = {INT_MAX}, got {value}")
                object.__setattr__(self, f.name, int(value))
            else:  # float, or float | None
                if value is None and f.default is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                    allowed = "a number or None" if f.default is None else "a number"
                    raise TypeError(f"{f.name} must be {allowed}, got {value!r} ({type(value).__name__})")
                if not (math.isfinite(value) and value > 0):
                    raise ValueError(f"{f.name} must be a finite number > 0, got {value}")
                # 2 and 2.0 are the same setting: store floats so that they hash the same.
                object.__setattr__(self, f.name, float(value))
        if self.lag >= self.length:
            raise ValueError(f"lag must be < length, got lag={self.lag} with length={self.length} "
                             f"(allowed 0 … {self.length - 1})")
        if self.stop_at is not None and self.stop_at > 1:
            raise ValueError(f"stop_at must be an accuracy in (0, 1] or None, got {self.stop_at}")
        tasks.TASKS[self.task].check(self)
        heads = tasks.TASKS[self.task].heads
        if self.head not in heads:
            raise ValueError(f"head must be {' or '.join(map(repr, heads))} for task={self.task!r} (the heads that "
                             f"answer it), got {self.head!r}")
        if self.cell != "simple_rnn" and self.nonlinearity != "tanh":
            raise ValueError(f"nonlinearity applies to cell='simple_rnn' only: got nonlinearity="
                             f"{self.nonlinearity!r} with cell={self.cell!r} (allowed: 'tanh')")
        if self.cell == "simple_rnn" and self.init == "chrono":  # it sets gate biases (rnnlab.models.LSTM)
            raise ValueError("init='chrono' applies to cell='lstm' or 'gru' only, which have gates: got init='chrono' "
                             "with cell='simple_rnn' (allowed: 'keras', 'torch', 'orthogonal', 'identity')")

    @property
    def hash(self):
        """First 12 hex digits of sha256 over the canonical JSON (sorted keys, no spaces) of the fields whose values
        differ from their defaults.

        A field added later with a default therefore leaves every existing hash, and every stored run, as it was.
        The price: a default may never change meaning, or old runs would be served for new configurations. Every
        default is pinned by a test; a new budget or behaviour comes as a new field (or a new choice), never as a
        changed default."""
        defaults = _defaults(type(self))
        return _digest({k: v for k, v in self.to_dict().items() if v != defaults[k]})

    @property
    def legacy_hash(self):
        """The name this run had in stores written before the hash left out defaults (rnnlab ≤ 0.1.0): the hash of
        all the fields that existed then. None for a config that sets a newer field, which no such store holds."""
        d, defaults = self.to_dict(), _defaults(type(self))
        if any(d[k] != defaults[k] for k in d if k not in LEGACY_FIELDS):
            return None
        return _digest({k: d[k] for k in LEGACY_FIELDS})

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown}; allowed: {', '.join(known)}")
        return cls(**d)

    def replace(self, **changes):
        """A copy with some fields changed (validated like any other)."""
        return dataclasses.replace(self, **changes)

    def build_model(self):
        """The SequenceClassifier this run trains, its weights drawn from torch's RNG seeded by `seed`."""
        options = dict(hidden_size=self.hidden_size, cell=self.cell, head=self.head, init=self.init,
                       spectral_radius=self.spectral_radius,
                       seq_len=self.length)
        if self.cell == "simple_rnn":
            options["nonlinearity"] = self.nonlinearity
        options.update(tasks.TASKS[self.task].model(self))
        _heavy()
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
            torch.manual_seed(self.seed)
            return SequenceClassifier(**options)

    def make_data(self, data_dir=None):
        """(train, test), each an (x, y) pair of NumPy arrays, from two seeds derived from `seed`.

        imdb: the first n_train / n_test reviews of rnnlab.imdb.load (shuffled as Keras does), found in data_dir,
        $RNNLAB_IMDB_DIR or the cache, else downloaded."""
        return tasks.TASKS[self.task].data(self, data_dir)

    def load_imdb(self, data_dir=None, progress=True):
        """The IMDB reviews as this config reads them (num_words = num_symbols, maxlen = length)."""
        return imdb.load(num_words=self.num_symbols, maxlen=self.length, data_dir=data_dir, progress=progress)

    def imdb_splits(self, data):
        """(train, test) of the first n_train / n_test reviews of a loaded rnnlab.imdb.IMDB."""
        return ((data.x_train[: self.n_train], data.y_train[: self.n_train]),
                (data.x_test[: self.n_test], data.y_test[: self.n_test]))

    def chance(self):
        """(metric, value) that guessing scores on this task; see tasks.chance_level."""
        return tasks.TASKS[self.task].chance(self.num_symbols)


@functools.cache
def _defaults(cls):
    return {f.name: f.default for f in fields(cls)}


# The fields of RunConfig when rnnlab ≤ 0.1.0 hashed every field: Store migrates folders named that way.
LEGACY_FIELDS = ("task", "length", "lag", "num_symbols", "n_train", "n_test", "cell", "hidden_size", "embedding_dim",
                 "nonlinearity", "init", "spectral_radius", "head", "epochs", "batch_size", "optimizer", "lr", "clip",
                 "seed")


def _digest(d):
    canonical = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(repr=False)
class RunResult:
    """A finished run. `model` is None in listings (weights are loaded only by load_run / run)."""

    config: RunConfig
    history: History
    metrics: dict
    model: "SequenceClassifier | None" = None
    path: Path | None = None
    cached: bool = False
    vocabulary: imdb.Vocabulary | None = None

    @property
    def hash(self):
        return self.config.hash

    def __repr__(self):
        c, m = self.config, self.metrics
        score = (f"test_accuracy={m.get('test_accuracy')}" if m.get("test_accuracy") is not None
                 else f"test_loss={m.get('test_loss')}")
        return (f"RunResult({self.hash}: {c.task}, {c.cell}, length={c.length}, lag={c.lag}, {score}, "
                f"cached={self.cached}, path={str(self.path) if self.path else None!r})")


def default_store():
    """$RNNLAB_HOME/runs, else $XDG_CACHE_HOME/rnnlab/runs (an absolute one), else ~/.cache/rnnlab/runs."""
    return files.home("runs")


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json(obj):
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n").encode("utf-8")


class Store:
    """A folder of runs, one sub-folder per config hash. Folders starting with "." are never runs."""

    def __init__(self, root=None):
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got {type(root).__name__}")
        if root is not None and not os.fspath(root).strip():  # Path("") is the current folder: never meant
            raise ValueError(f"root must be a folder path, got {os.fspath(root)!r}")
        self.root = Path(root).expanduser() if root is not None else default_store()
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"root must be a folder, got the file {str(self.root)!r}")

    def __repr__(self):
        return f"Store({str(self.root)!r})"

    def path(self, key):
        """The folder of a run, by hash or config. A config's folder named as rnnlab ≤ 0.1.0 named it (the hash of
        every field, RunConfig.legacy_hash) is renamed to today's hash on the way: nothing is retrained."""
        folder = self.root / _key(key)
        if isinstance(key, RunConfig) and key.legacy_hash not in (None, key.hash) and not os.path.lexists(folder):
            legacy = self.root / key.legacy_hash
            if legacy.is_dir():
                return self._rename_legacy(legacy, key)
        return folder

    def _rename_legacy(self, legacy, config):
        """Rename a folder named by config.legacy_hash to config.hash; where that fails (the name is taken, another
        process renamed it first, the store is read-only), the folder that holds the run is returned as it is."""
        try:
            os.rename(legacy, self.root / config.hash)
        except OSError:
            return legacy if legacy.is_dir() else self.root / config.hash
        return self.root / config.hash

    def __contains__(self, key):
        return (self.path(key) / "weights.pt").is_file()

    def save(self, config, history, metrics, model, vocabulary=None):
        """Write a run atomically; returns its folder. If the run is already there (another process finished it
        first), the stored one is kept and this copy is discarded. A text model's vocabulary (its ranked words)
        goes along, so that a typed review can be encoded without the data set. Raises ValueError, naming the key,
        for metrics or a history that load would refuse (see _check_record): what is stored can be read back."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        final = self.path(config)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{config.hash}-", dir=self.root))
        try:
            _write(tmp / "config.json", _json(config.to_dict()))
            buffer = io.BytesIO()
            _heavy()
            torch.save(model.state_dict(), buffer)
            files = {"weights.pt": buffer.getvalue()}
            if vocabulary is not None:
                words = {"num_words": vocabulary.num_words, "words": vocabulary.id_to_word[imdb.INDEX_FROM + 1 :]}
                _check_vocabulary(words, config)
                files["vocabulary.json"] = _json(words)
            digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
            record = {"format": FORMAT, "sha256": digests, "metrics": metrics, "history": history.to_dict()}
            _check_record(record)
            files["metrics.json"] = _json(record)
            for name, data in files.items():
                if len(data) > MAX_BYTES.get(name, math.inf):
                    raise ValueError(f"{name} would hold {len(data):,} bytes, more than the {MAX_BYTES[name]:,} "
                                     "that load reads back")
                _write(tmp / name, data)
            _fsync_dir(tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                # The target exists and is not empty (Linux refuses to replace a non-empty folder): keep it.
                if not (final / "weights.pt").is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
            _fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def load(self, key, weights=True):
        """The stored RunResult for a hash or config (KeyError if absent); weights=False skips the model.

        Raises CorruptRun, naming the file and what differs, when the folder or one of its files is a link, a FIFO,
        a device or missing, when a JSON file is larger than MAX_BYTES, not JSON or not what save writes (see
        _check_record), when config.json does not hash to the folder's name (edited), when metrics.json comes from
        a later rnnlab, when weights.pt or vocabulary.json is not the file whose sha256 metrics.json recorded at
        save time, or when weights.pt does not hold the finite tensors, of the shapes, that the config builds.
        weights=False reads no tensors and hashes no weights: it checks only that weights.pt is a whole zip, which
        keeps listing a large store fast (`changed` compares the checksums)."""
        folder = self.path(key)
        if folder.is_symlink():
            raise CorruptRun(f"{folder} is a symbolic link, not a run folder")
        if not folder.exists():
            raise KeyError(f"no run {_key(key)!r} in {self.root}")
        if not folder.is_dir():
            raise CorruptRun(f"{folder} is a file, not a run folder")
        stored = _read_json(folder / "config.json")
        try:
            config = RunConfig.from_dict(stored)
        except (TypeError, ValueError, OverflowError, RecursionError) as e:  # RunConfig's own checks, or a repr
            raise CorruptRun(f"{folder / 'config.json'} is not a valid RunConfig: {_reason(e)}") from None
        if folder.name == config.legacy_hash != config.hash:  # listed under its rnnlab 0.1.0 name
            folder = self._rename_legacy(folder, config)
        elif config.hash != folder.name:
            raise CorruptRun(f"{folder / 'config.json'} describes run {config.hash}, not {folder.name}: it was "
                             "edited, or copied from another run")
        record = _read_record(folder)
        digests, vocabulary, model = record["sha256"], None, None
        if "vocabulary.json" not in digests and os.path.lexists(folder / "vocabulary.json"):
            raise CorruptRun(f"{folder / 'metrics.json'} records no sha256 of {folder / 'vocabulary.json'}")
        if "vocabulary.json" in digests:
            path = folder / "vocabulary.json"
            stored = _read_json(path, digests["vocabulary.json"])
            try:
                _check_vocabulary(stored, config)
            except ValueError as e:
                raise CorruptRun(f"{path} is malformed: {e}") from None
            vocabulary = imdb.Vocabulary(stored["words"], stored["num_words"])
        path = folder / "weights.pt"
        with _open_regular(path) as f:
            if weights:
                _check_sha256(_sha256(f, path), path, digests["weights.pt"])  # before unpickling anything
                model = config.build_model()
                try:
                    state = torch.load(f, weights_only=True, map_location="cpu")
                except Exception as e:  # truncated zip, foreign pickle, …: whatever torch says, the file is unusable
                    raise CorruptRun(f"{path} cannot be read ({type(e).__name__}: {_reason(e)}): it is truncated or "
                                     "not a weights file") from None
                _check_state(state, model.state_dict(), path)
                model.load_state_dict(state)
                model.eval()
            else:
                _check_zip(f, path)
        history = History.from_dict(record["history"])
        return RunResult(config, history, record["metrics"], model, folder, cached=True, vocabulary=vocabulary)

    def changed(self, key):
        """The names of the run's files (weights.pt, vocabulary.json) whose sha256 is no longer the one metrics.json
        recorded at save time; [] for an intact run. Reads each file once and unpickles nothing; CorruptRun when
        metrics.json or a file cannot be read at all, KeyError if there is no such run."""
        folder = self.path(key)
        if not os.path.lexists(folder):
            raise KeyError(f"no run {_key(key)!r} in {self.root}")
        changed = []
        for name, expected in sorted(_read_record(folder)["sha256"].items()):
            with _open_regular(folder / name) as f:
                if _sha256(f, folder / name) != expected:
                    changed.append(name)
        return changed

    def set_aside(self, key, reason):
        """Rename a broken run folder to ".broken-<hash>-<time>-<pid>" (kept for inspection, never listed), with a
        warning; returns the new path, or None if another process moved or removed it first."""
        folder = self.path(key)
        aside = self.root / f".broken-{folder.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        try:
            os.replace(folder, aside)
        except FileNotFoundError:
            return None
        warnings.warn(f"run {folder.name} in {self.root} is broken ({reason}); moved it aside to {aside.name}",
                      stacklevel=2)
        return aside

    def _remove_stale(self):
        """Remove the hidden temporary folders that a process killed mid-save (or mid-delete) left behind."""
        now = time.time()
        for p in self.root.iterdir():
            if not p.name.startswith((".tmp-", ".trash-")):
                continue
            try:
                stale = p.is_dir() and now - p.stat().st_mtime > STALE_SECONDS
            except OSError:  # another process removed it meanwhile
                continue
            if stale:
                shutil.rmtree(p, ignore_errors=True)
                warnings.warn(f"removed {p}, a half-written run left by a process that was killed while saving",
                              stacklevel=3)

    def list(self):
        """Summaries (no weights) of every complete run, oldest first; malformed folders (see load) are skipped
        with a warning, hidden ones (temporary, set aside) and stray files silently."""
        if not self.root.is_dir():
            return []
        results = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                results.append(self.load(folder.name, weights=False))
            except Exception as e:  # any broken folder must not hide the others
                warnings.warn(f"skipping malformed run folder {folder}: {e}", stacklevel=2)
        return sorted(results, key=lambda r: (r.metrics.get("created") or 0, r.hash))

    def delete(self, key):
        """Remove a run; returns whether it was there. Renamed away first, so no half-deleted run is listed."""
        folder = self.path(key)
        if not folder.is_dir():
            return False
        trash = self.root / f".trash-{folder.name}-{os.getpid()}-{time.time_ns()}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


# The most bytes each JSON file of a run may hold: far above what save writes (a config is < 1 KiB, metrics.json
# grows by ~150 bytes an epoch, vocabulary.json by ~20 bytes a word), yet small enough that no hostile file can
# exhaust memory. weights.pt has no limit: it is read in chunks, and unpickled only once its sha256 matches.
MAX_BYTES = {"config.json": 1 << 16, "metrics.json": 1 << 24, "vocabulary.json": 1 << 26}


def _open_regular(path):
    """The run's file at `path`, opened for reading only if it is a regular file: opened without following a
    symbolic link and without blocking, then checked with fstat, so that a FIFO (which would block), a device (which
    may never end) or a link in a file's place is refused (CorruptRun) instead of read."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise CorruptRun(f"{path.parent} has no {path.name}") from None
    except OSError as e:  # ELOOP: a symbolic link; ENXIO: a socket; EACCES
        raise CorruptRun(f"{path} cannot be opened as a regular file ({e.strerror})") from None
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise CorruptRun(f"{path} is not a regular file (a FIFO, a device or a folder)")
    return f


def _sha256(f, path):
    """The sha256 of the open file `f`, read in 1 MiB chunks from its start."""
    digest = hashlib.sha256()
    try:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    except OSError as e:
        raise CorruptRun(f"{path} cannot be read ({e.strerror})") from None
    f.seek(0)
    return digest.hexdigest()


def _check_sha256(actual, path, expected):
    if actual != expected:
        raise CorruptRun(f"{path} has sha256 {actual[:16]}…, not the {expected[:16]}… recorded when the run was "
                         "saved: it was changed or damaged since")


def _read_json(path, sha256=None):
    """A JSON object from a run folder, or CorruptRun naming the file: anything but a regular file of at most
    MAX_BYTES, bytes whose sha256 is not `sha256` (when given), and JSON nested too deep for the parser
    (RecursionError) included."""
    limit = MAX_BYTES[path.name]
    with _open_regular(path) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise CorruptRun(f"{path} cannot be read ({e.strerror})") from None
    if len(data) > limit:
        raise CorruptRun(f"{path} holds more than {limit:,} bytes, the most a run's {path.name} may")
    if sha256 is not None:
        _check_sha256(hashlib.sha256(data).hexdigest(), path, sha256)
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CorruptRun(f"{path} is not readable JSON ({type(e).__name__}: {_reason(e)})") from None
    if not isinstance(value, dict):
        raise CorruptRun(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def _read_record(folder):
    """metrics.json of a run folder, checked to be what save writes (CorruptRun naming what is not)."""
    path = folder / "metrics.json"
    record = _read_json(path)
    fmt = record.get("format")
    if type(fmt) is not int or not 1 <= fmt <= FORMAT:
        raise CorruptRun(f"{path} has format {checks.short(fmt)}; this rnnlab reads format {FORMAT} and older: it was "
                         "written by a later version, or edited")
    try:
        _check_record(record)
    except ValueError as e:
        raise CorruptRun(f"{path} is malformed: {e}") from None
    return record


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v):
    """Whether the number v is finite as a float (an int too large for a float is not: reading it as one fails)."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


# What each stored value may be: (the words an error says, the test).
_FINITE = ("a finite number", lambda v: _number(v) and _finite(v))
_DURATION = ("a finite number >= 0", lambda v: _number(v) and _finite(v) and v >= 0)
_FRACTION = ("a number in [0, 1] or null", lambda v: v is None or (_number(v) and 0 <= v <= 1))
_COUNT = ("an int >= 0", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)
# evaluate's loss may overflow on data the training never saw: inf or NaN is what it measured then
_LOSS = ("a number (inf or NaN if it overflowed)", lambda v: _number(v) and (isinstance(v, float) or _finite(v)))
_LOSS_OR_NULL = ("a number or null", lambda v: v is None or _LOSS[1](v))
# metrics.json's "metrics" as run() writes them, and "history" as History.to_dict: one list entry per epoch
_METRICS = {"test_loss": _LOSS, "test_accuracy": _FRACTION, "chance": _FINITE, "seconds": _DURATION,
            "epochs": _COUNT, "created": _FINITE,
            "chance_metric": ("'accuracy' or 'mse'", lambda v: v in ("accuracy", "mse"))}
_CURVES = {"loss": _FINITE, "accuracy": _FRACTION, "val_loss": _LOSS_OR_NULL, "val_accuracy": _FRACTION,
           "seconds": _DURATION}


def _check_record(record):
    """ValueError, naming the key and the value, unless `record` (metrics.json) is what save writes: the sha256 of
    weights.pt (and of vocabulary.json, if the run has one), every metric of run(), and history curves of one entry
    per epoch with best_epoch null or one of the epochs. Checked on save too, so a run stored is a run loadable."""
    _check_keys("metrics.json", record, {"format", "sha256", "metrics", "history"})
    digests, metrics, history = record["sha256"], record["metrics"], record["history"]
    _check_keys("sha256", digests, {"weights.pt"}, optional={"vocabulary.json"})
    for name, digest in digests.items():
        if not (isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest)):
            raise ValueError(f"sha256[{name!r}] must be 64 lower-case hex digits, got {checks.short(digest)}")
    _check_keys("metrics", metrics, set(_METRICS))
    for key, (allowed, ok) in _METRICS.items():
        if not ok(metrics[key]):
            raise ValueError(f"metrics[{key!r}] must be {allowed}, got {checks.short(metrics[key])}")
    _check_keys("history", history, set(_CURVES) | {"best_epoch"}, optional={"influence"})
    epochs = metrics["epochs"]
    for key, (allowed, ok) in _CURVES.items():
        curve = history[key]
        if not isinstance(curve, list) or len(curve) != epochs:
            raise ValueError(f"history[{key!r}] must be a list of {epochs} entries (metrics['epochs']), got "
                             f"{checks.short(curve)}")
        bad = next((i for i, v in enumerate(curve) if not ok(v)), None)
        if bad is not None:
            raise ValueError(f"history[{key!r}][{bad}] must be {allowed}, got {checks.short(curve[bad])}")
    influence = history.get("influence", [])
    if not (isinstance(influence, list) and len(influence) in (0, epochs + 1)):
        raise ValueError(f"history['influence'] must be [] or a list of {epochs + 1} curves (at initialisation and "
                         f"after each epoch), got {checks.short(influence)}")
    for i, curve in enumerate(influence):
        if not (isinstance(curve, list) and curve and all(v is None or (_number(v) and _finite(v) and v >= 0)
                                                          for v in curve)):
            raise ValueError(f"history['influence'][{i}] must be a non-empty list of numbers >= 0 or null, got "
                             f"{checks.short(curve)}")
    best = history["best_epoch"]
    if not (best is None or (_COUNT[1](best) and 1 <= best <= epochs)):
        raise ValueError(f"history['best_epoch'] must be null or an epoch 1 … {epochs}, got {checks.short(best)}")


def _check_vocabulary(stored, config):
    """ValueError unless `stored` (vocabulary.json) holds the kept words, strings, of a vocabulary whose num_words
    is the config's num_symbols (the rows of the model's embedding)."""
    _check_keys("vocabulary.json", stored, {"num_words", "words"})
    num_words, words = stored["num_words"], stored["words"]
    if not (_COUNT[1](num_words) and num_words == config.num_symbols):
        raise ValueError(f"num_words must be the config's num_symbols, {config.num_symbols}, got {checks.short(num_words)}")
    if not isinstance(words, list) or len(words) > num_words - imdb.INDEX_FROM - 1:
        raise ValueError(f"'words' must be a list of at most {num_words - imdb.INDEX_FROM - 1} words "
                         f"(num_words - {imdb.INDEX_FROM + 1}), got {checks.short(words)}")
    bad = next((i for i, w in enumerate(words) if not isinstance(w, str)), None)
    if bad is not None:
        raise ValueError(f"words[{bad}] must be a string, got {checks.short(words[bad])}")


def _check_keys(where, d, required, optional=()):
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a JSON object, got {checks.short(d)}")
    missing, unknown = sorted(required - set(d)), sorted(set(d) - required - set(optional))
    if missing:
        raise ValueError(f"{where} lacks {', '.join(map(repr, missing))}")
    if unknown:
        raise ValueError(f"{where} has unknown keys {', '.join(map(checks.short, unknown[:5]))}"
                         f"{f' (and {len(unknown) - 5} more)' if len(unknown) > 5 else ''}; allowed: "
                         f"{', '.join(sorted(required | set(optional)))}")


def _reason(e):
    """An exception's message on one line, cut to 200 characters."""
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else f"{text[:200]}…"


def _check_zip(f, path):
    """Without loading the tensors: a weights.pt that torch.save wrote is a zip whose directory sits at its end,
    so a truncated or foreign file fails here. The listing checks this much; load checks the tensors too."""
    try:
        zipfile.ZipFile(f).close()
    except (zipfile.BadZipFile, OSError) as e:
        raise CorruptRun(f"{path} cannot be read ({type(e).__name__}: {_reason(e)}): it is truncated or not a "
                         "weights file") from None


def _check_state(state, expected, path):
    """CorruptRun unless `state` holds exactly the finite tensors, of the shapes, that the config's model has."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CorruptRun(f"{path} must hold a dict of tensors (a state_dict), got {type(state).__name__}")
    differences = [f"missing {k}" for k in expected if k not in state]
    differences += [f"unexpected {k}" for k in state if k not in expected]
    differences += [f"{k} is {tuple(v.shape)} in the file, {tuple(expected[k].shape)} for the config"
                    for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if differences:
        raise CorruptRun(f"{path} does not match config.json: {'; '.join(differences[:6])}"
                         f"{f' (and {len(differences) - 6} more)' if len(differences) > 6 else ''}")
    wrong_kind = [k for k, v in state.items() if v.is_floating_point() != expected[k].is_floating_point()]
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if wrong_kind or not_finite:
        raise CorruptRun(f"{path} holds {'non-float' if wrong_kind else 'NaN or inf in'} "
                         f"{', '.join(wrong_kind or not_finite)}")


def _key(key):
    if isinstance(key, RunConfig):
        return key.hash
    if isinstance(key, str) and len(key) == 12 and all(c in "0123456789abcdef" for c in key):
        return key
    raise ValueError(f"a run is named by a RunConfig or its 12-hex-digit hash, got {key!r}")


def _store(store):
    return store if isinstance(store, Store) else Store(store)


def run(config, store=None, progress=True, data_dir=None, on_epoch=None):
    """Train and test `config`'s model, or return the stored result if this config already ran.

    store: a Store, a folder, None for the default store, or False to keep nothing. data_dir: where the IMDB
    reviews are (task="imdb" only; default $RNNLAB_IMDB_DIR, the cache, or a download). The history's val_* are
    measured on the test set after each epoch (a run selects nothing on them: there is no early stopping).
    metrics: test_loss, test_accuracy (None for adding), chance_metric and chance (tasks.chance_level),
    seconds (training), epochs, created (Unix time). The history also holds ‖∂h_t/∂x_0‖ of INFLUENCE_PROBES test
    sequences at initialisation and after each epoch (History.influence), so that memory is seen as it grows.
    on_epoch(epoch, model, history), if given, is called after each epoch (e.g. to draw the curves so far).
    A stored run that cannot be read back (CorruptRun: edited,
    truncated, from a later version) is moved aside as ".broken-<hash>-<time>-<pid>", with a warning, and trained
    again. Raises TrainingDiverged if the loss or the gradient becomes non-finite; nothing is stored then.
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    if store is not False:
        store = _store(store)
        if os.path.lexists(store.path(config)):
            try:
                return store.load(config)
            except KeyError:  # deleted meanwhile
                pass
            except CorruptRun as e:
                store.set_aside(config, e)
    _heavy()
    model = config.build_model()
    if config.task == "imdb":
        data = config.load_imdb(data_dir, progress=bool(progress))
        (train, test), vocabulary = config.imdb_splits(data), data.vocabulary
    else:
        (train, test), vocabulary = config.make_data(), None
    probe = torch.as_tensor(test[0][:INFLUENCE_PROBES])
    curves = [_influence(model, probe)]

    def _after_epoch(epoch, m, h):
        curves.append(_influence(m, probe))
        if on_epoch is not None:
            h.influence = [c.values for c in curves]
            on_epoch(epoch, m, h)
    start = time.perf_counter()
    history = fit(model, train, val=test, epochs=config.epochs, batch_size=config.batch_size,
                  optimizer=config.optimizer, lr=config.lr, clip=config.clip, seed=config.seed, progress=progress,
                  stop_at=config.stop_at, on_epoch=lambda epoch, m, h: _after_epoch(epoch, m, h))
    seconds = time.perf_counter() - start - sum(c.seconds for c in curves[1:])  # training time alone
    history.influence = [c.values for c in curves[: history.epochs + 1]]
    result = evaluate(model, test)
    metric, chance = config.chance()
    metrics = {"test_loss": result["loss"], "test_accuracy": result["accuracy"], "chance_metric": metric,
               "chance": chance, "seconds": seconds, "epochs": history.epochs, "created": time.time()}
    model.eval()
    path = None if store is False else store.save(config, history, metrics, model, vocabulary)
    return RunResult(config, history, metrics, model, path, cached=False, vocabulary=vocabulary)


@dataclass
class _Curve:
    values: list
    seconds: float


def _influence(model, x):
    """‖∂h_t/∂x_0‖ of the model as it is, averaged over the probe sequences x, as a list (None where not finite,
    as JSON has no inf), and the seconds it took (not counted as training time)."""
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a curve that leaves float32's range is stored as it is, not reported
        curve = memory.influence_curve(model, x)
    model.train(was_training)
    return _Curve([float(v) if math.isfinite(v) else None for v in curve], time.perf_counter() - start)


def list_runs(store=None):
    """Summaries (config, history, metrics; no model) of the runs in `store` (a Store, a folder or None)."""
    return _store(store).list()


def load_run(key, store=None):
    """The stored run for a RunConfig or its hash, with its trained model; KeyError if it never ran."""
    return _store(store).load(key)


def delete_run(key, store=None):
    """Delete the stored run for a RunConfig or its hash; returns whether there was one."""
    return _store(store).delete(key)
