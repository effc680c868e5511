"""One experiment = one RunConfig; its result is stored under the config's hash and never computed twice.

    RunConfig ──build_model(), make_data()──▶ fit ──▶ evaluate on the test set ──▶ <store>/<hash>/
                                                                                    config.json
                                                                                    metrics.json (metrics + history)
                                                                                    weights.pt

A run is written into a temporary folder inside the store and renamed to its hash with os.replace, so a store
only ever holds complete runs: a crash mid-write leaves a hidden ".tmp-…" folder that listing ignores. The store
is `$RNNLAB_HOME/runs` if RNNLAB_HOME is set, else `$XDG_CACHE_HOME/rnnlab/runs` (default `~/.cache/rnnlab/runs`).
"""
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from . import imdb, tasks
from .models import CELLS, HEADS, INITS, NONLINEARITIES, SequenceClassifier
from .train import OPTIMIZERS, History, evaluate, fit


TASKS = tasks.TASKS + ("imdb",)
IMDB_SIZE = 25000  # reviews in each of IMDB's train and test splits


def _opt(default, text, choices=None, minimum=1):
    """A dataclass field whose help text and allowed values the CLI and the validation share."""
    return field(default=default, metadata={"help": text, "choices": choices, "minimum": minimum})


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run. Validated on construction; `hash` names the run in the store.

    The defaults train in a few seconds on a CPU and reach 100% test accuracy at lag 0.
    """

    task: str = _opt("lag_recall", "the task: recall the symbol `lag` steps before the end, add two marked "
                     "values, or the IMDB reviews' sentiment", TASKS)
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
    head: str = _opt("last", "Dense on h_{T-1} ('last') or on all h_t flattened", HEADS)
    epochs: int = _opt(10, "training epochs")
    batch_size: int = _opt(32, "minibatch size")
    optimizer: str = _opt("rmsprop", "optimizer (rmsprop = Keras' RMSprop)", OPTIMIZERS)
    lr: float = _opt(1e-3, "learning rate")
    clip: float | None = _opt(None, "max global gradient norm (none = no clipping)")
    seed: int = _opt(0, "seeds the initial weights, the data and the shuffling", minimum=0)

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
        if self.task == "imdb":
            for name in ("n_train", "n_test"):
                if getattr(self, name) > IMDB_SIZE:
                    raise ValueError(f"{name} must be <= {IMDB_SIZE} for task='imdb' (the reviews in a split), "
                                     f"got {getattr(self, name)}")
            if self.num_symbols < imdb.INDEX_FROM + 1:
                raise ValueError(f"num_symbols must be >= {imdb.INDEX_FROM + 1} for task='imdb' (ids 0..3 are "
                                 f"reserved), got {self.num_symbols}")
        if self.task == "adding" and self.length < 2:
            raise ValueError(f"length must be >= 2 for task='adding' (one marker in each half), got {self.length}")
        if self.cell != "simple_rnn" and self.nonlinearity != "tanh":
            raise ValueError(f"nonlinearity applies to cell='simple_rnn' only: got nonlinearity="
                             f"{self.nonlinearity!r} with cell={self.cell!r} (allowed: 'tanh')")

    @property
    def hash(self):
        """First 12 hex digits of sha256 over the canonical JSON of the fields (sorted keys, no spaces)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

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
        if self.task == "adding":
            options.update(input_size=2, regression=True)
        elif self.task == "imdb":
            options.update(vocab_size=self.num_symbols, embedding_dim=self.embedding_dim)
        else:
            options.update(vocab_size=self.num_symbols, num_classes=self.num_symbols,
                           embedding_dim=self.embedding_dim)
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
            torch.manual_seed(self.seed)
            return SequenceClassifier(**options)

    def make_data(self, data_dir=None):
        """(train, test), each an (x, y) pair of NumPy arrays, from two seeds derived from `seed`.

        imdb: the first n_train / n_test reviews of rnnlab.imdb.load (shuffled as Keras does), found in data_dir,
        $RNNLAB_IMDB_DIR or the cache, else downloaded."""
        if self.task == "imdb":
            return self.imdb_splits(self.load_imdb(data_dir))
        seeds = [int(s) for s in np.random.SeedSequence(self.seed).generate_state(2)]
        if self.task == "adding":
            return tuple(tasks.adding(n, self.length, seed=s) for n, s in zip((self.n_train, self.n_test), seeds))
        return tuple(tasks.lag_recall(n, self.length, self.lag, self.num_symbols, seed=s)
                     for n, s in zip((self.n_train, self.n_test), seeds))

    def load_imdb(self, data_dir=None, progress=True):
        """The IMDB reviews as this config reads them (num_words = num_symbols, maxlen = length)."""
        return imdb.load(num_words=self.num_symbols, maxlen=self.length, data_dir=data_dir, progress=progress)

    def imdb_splits(self, data):
        """(train, test) of the first n_train / n_test reviews of a loaded rnnlab.imdb.IMDB."""
        return ((data.x_train[: self.n_train], data.y_train[: self.n_train]),
                (data.x_test[: self.n_test], data.y_test[: self.n_test]))

    def chance(self):
        """(metric, value) that guessing scores on this task; see tasks.chance_level. imdb: accuracy 0.5 (the
        test set is balanced, 12,500 reviews of each label)."""
        if self.task == "imdb":
            return "accuracy", 0.5
        return tasks.chance_level(self.task, num_symbols=self.num_symbols)


@dataclass(repr=False)
class RunResult:
    """A finished run. `model` is None in listings (weights are loaded only by load_run / run)."""

    config: RunConfig
    history: History
    metrics: dict
    model: SequenceClassifier | None = None
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
    """$RNNLAB_HOME/runs, else $XDG_CACHE_HOME/rnnlab/runs, else ~/.cache/rnnlab/runs."""
    if os.environ.get("RNNLAB_HOME"):
        return Path(os.environ["RNNLAB_HOME"]).expanduser() / "runs"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "rnnlab" / "runs"


def _write(path, data):
    with open(path, "wb") as f:
        if isinstance(data, bytes):
            f.write(data)
        else:
            torch.save(data, f)
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
        self.root = Path(root).expanduser() if root is not None else default_store()

    def __repr__(self):
        return f"Store({str(self.root)!r})"

    def path(self, key):
        return self.root / _key(key)

    def __contains__(self, key):
        return (self.path(key) / "weights.pt").is_file()

    def save(self, config, history, metrics, model, vocabulary=None):
        """Write a run atomically; returns its folder. If the run is already there (another process finished it
        first), the stored one is kept and this copy is discarded. A text model's vocabulary (its ranked words)
        goes along, so that a typed review can be encoded without the data set."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(config)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{config.hash}-", dir=self.root))
        try:
            _write(tmp / "config.json", _json(config.to_dict()))
            _write(tmp / "metrics.json", _json({"metrics": metrics, "history": history.to_dict()}))
            _write(tmp / "weights.pt", model.state_dict())
            if vocabulary is not None:
                kept = vocabulary.id_to_word[imdb.INDEX_FROM + 1 :]
                _write(tmp / "vocabulary.json", _json({"num_words": vocabulary.num_words, "words": kept}))
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
        """The stored RunResult for a hash or config (KeyError if absent); weights=False skips the model."""
        folder = self.path(key)
        if not folder.is_dir():
            raise KeyError(f"no run {_key(key)!r} in {self.root}")
        config = RunConfig.from_dict(json.loads((folder / "config.json").read_text("utf-8")))
        if config.hash != folder.name:
            raise ValueError(f"{folder} holds a config whose hash is {config.hash}, not its folder name")
        stored = json.loads((folder / "metrics.json").read_text("utf-8"))
        history = History.from_dict(stored["history"])
        model, vocabulary = None, None
        if (folder / "vocabulary.json").is_file():
            stored_words = json.loads((folder / "vocabulary.json").read_text("utf-8"))
            vocabulary = imdb.Vocabulary(stored_words["words"], stored_words["num_words"])
        if weights:
            model = config.build_model()
            model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
            model.eval()
        elif not (folder / "weights.pt").is_file():
            raise FileNotFoundError(f"{folder} has no weights.pt")
        return RunResult(config, history, stored["metrics"], model, folder, cached=True, vocabulary=vocabulary)

    def list(self):
        """Summaries (no weights) of every complete run, oldest first; malformed folders are skipped with a
        warning, temporary ones silently."""
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
        return sorted(results, key=lambda r: (r.metrics.get("created", 0), r.hash))

    def delete(self, key):
        """Remove a run; returns whether it was there. Renamed away first, so no half-deleted run is listed."""
        folder = self.path(key)
        if not folder.is_dir():
            return False
        trash = self.root / f".trash-{folder.name}-{os.getpid()}-{time.time_ns()}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


def _key(key):
    if isinstance(key, RunConfig):
        return key.hash
    if isinstance(key, str) and len(key) == 12 and all(c in "0123456789abcdef" for c in key):
        return key
    raise ValueError(f"a run is named by a RunConfig or its 12-hex-digit hash, got {key!r}")


def _store(store):
    return store if isinstance(store, Store) else Store(store)


def run(config, store=None, progress=True, data_dir=None):
    """Train and test `config`'s model, or return the stored result if this config already ran.

    store: a Store, a folder, None for the default store, or False to keep nothing. data_dir: where the IMDB
    reviews are (task="imdb" only; default $RNNLAB_IMDB_DIR, the cache, or a download). The history's val_* are
    measured on the test set after each epoch (a run selects nothing on them: there is no early stopping).
    metrics: test_loss, test_accuracy (None for adding), chance_metric and chance (tasks.chance_level),
    seconds (training), epochs, created (Unix time).
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    if store is not False:
        store = _store(store)
        if config in store:
            return store.load(config)
    model = config.build_model()
    if config.task == "imdb":
        data = config.load_imdb(data_dir, progress=bool(progress))
        (train, test), vocabulary = config.imdb_splits(data), data.vocabulary
    else:
        (train, test), vocabulary = config.make_data(), None
    start = time.perf_counter()
    history = fit(model, train, val=test, epochs=config.epochs, batch_size=config.batch_size,
                  optimizer=config.optimizer, lr=config.lr, clip=config.clip, seed=config.seed, progress=progress)
    seconds = time.perf_counter() - start
    result = evaluate(model, test)
    metric, chance = config.chance()
    metrics = {"test_loss": result["loss"], "test_accuracy": result["accuracy"], "chance_metric": metric,
               "chance": chance, "seconds": seconds, "epochs": history.epochs, "created": time.time()}
    model.eval()
    path = None if store is False else store.save(config, history, metrics, model, vocabulary)
    return RunResult(config, history, metrics, model, path, cached=False, vocabulary=vocabulary)


def list_runs(store=None):
    """Summaries (config, history, metrics; no model) of the runs in `store` (a Store, a folder or None)."""
    return _store(store).list()


def load_run(key, store=None):
    """The stored run for a RunConfig or its hash, with its trained model; KeyError if it never ran."""
    return _store(store).load(key)


def delete_run(key, store=None):
    """Delete the stored run for a RunConfig or its hash; returns whether there was one."""
    return _store(store).delete(key)
