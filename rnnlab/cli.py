"""The `rnnlab` command: `rnnlab summary`, `rnnlab train`, `rnnlab imdb`, `rnnlab runs`.

    rnnlab summary                          the lecture's model, Keras-like table (322,113 parameters)
    rnnlab train --length 100 --lag 99     train one RunConfig (or fetch it from the store) and print its history
    rnnlab imdb --head flatten              the lecture's IMDB experiment (its defaults; same options as train)
    rnnlab runs                             list the stored runs
    rnnlab sweep sweeps/lecture.toml        train a grid of configurations × seeds; mean ± std across seeds
    rnnlab analyse model.keras --out figs   the memory of a Keras or PyTorch model file: half-life, horizon, ρ, λ

`train` has one option per RunConfig field (hidden_size → --hidden-size), generated from the dataclass, so the
command line cannot drift from the configuration. A bad value exits with status 2 and one line on stderr; a run
that diverges, data that cannot be read or a store that cannot be written exit with status 1, Ctrl-C with 130,
each with one line and no traceback (warnings too are one line, "rnnlab: warning: …").
"""
import argparse
import contextlib
import functools
import json
import math
import os
import re
import sys
import types
import warnings
from dataclasses import fields

from . import choices  # the names, without torch: summary's argument errors answer without it

# torch takes 1-4 s to import: each function imports what it uses, so that `rnnlab --help`, a mistyped command, the
# argument errors of summary and runs (whose options need no torch) and the listing of runs answer at once.
DESCRIPTION = "See why a recurrent network forgets."
COMMANDS = {
    "summary": "the Keras-like parameter table of a SequenceClassifier",
    "train": "train one run (or fetch it from the store)",
    "imdb": "the lecture's IMDB experiment",
    "runs": "list the stored runs",
    "sweep": "train a grid of configurations × seeds and summarize it across seeds",
    "reach": "the longest lag a configuration learns, per seed",
    "lesson": "train the reach sweeps and write the summary the dashboard ships",
    "analyse": "the memory of a Keras (.keras, .h5) or PyTorch (state_dict) model file",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`rnnlab: error: …`) instead of the usage block."""

    def error(self, message):
        self.exit(2, f"rnnlab: error: {message}\n")


FLOAT32_MAX = 3.4028234663852886e38  # the models compute in float32: a larger lr or clip overflows there
INT64_MAX = 2**63 - 1  # torch takes sizes and seeds as int64


def _short(text):
    """An option's value as an error quotes it: whole up to 20 characters, else its start and its length."""
    text = text.strip()
    if len(text) <= 20:
        return text
    digits = text.lstrip("+-")
    return f"{text[:5]}...({len(digits)} digits)" if digits.isdigit() else f"{text[:5]}...({len(text)} characters)"


def _int(text):
    """An int that fits int64, as torch takes sizes and seeds."""
    try:
        value = int(text)
    except ValueError:
        if re.fullmatch(r"\s*[+-]?\d+\s*", text) is None:
            raise argparse.ArgumentTypeError(f"invalid int value: {_short(text)!r}") from None
        value = -math.inf if "-" in text else math.inf  # more digits than int() reads (4,300): past int64 anyway
    if value > INT64_MAX:
        raise argparse.ArgumentTypeError(f"must be <= 2**63 - 1, got {_short(text)}")
    if value < -INT64_MAX - 1:
        raise argparse.ArgumentTypeError(f"must be >= -2**63, got {_short(text)}")
    return value


def _size(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value}")
    return value


def _float(text):
    """A finite number that float32 can hold."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {_short(text)!r}") from None
    if not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
        raise argparse.ArgumentTypeError(f"must be a finite number within ±{FLOAT32_MAX:.4g} (float32), got "
                                         f"{_short(text)}")
    return value


def _thread_count(text):
    from .train import MAX_THREADS
    value = _size(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_THREADS}, got {value}")
    return value


def _add_threads_option(parser):
    from .train import THREADS_ENV
    parser.add_argument("--threads", type=_thread_count, default=None, metavar="INT",
                        help=f"torch's intra-op threads, per worker for a sweep (default: ${THREADS_ENV}, else 1: "
                             "rnnlab's models are too small to gain from more)")


def _float_or_none(text):
    return None if text.lower() == "none" else _float(text)


def _folder(text):
    """A folder path; "" would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a folder path, got {text!r}")
    return text


def _add_config_options(parser, defaults=None, fixed=()):
    """One option per RunConfig field, except those in `fixed`; `defaults` overrides the dataclass defaults."""
    from .runs import RunConfig
    for f in fields(RunConfig):
        if f.name in fixed:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = (defaults or {}).get(f.name, f.default)
        kwargs = dict(default=default, help=f"{f.metadata['help']} (default: {default})")
        if f.metadata["choices"] is not None:
            kwargs.update(choices=f.metadata["choices"])
        elif f.type is int:
            kwargs.update(type=_int, metavar="INT")
        elif f.type is float:
            kwargs.update(type=_float, metavar="X")
        elif isinstance(f.type, types.UnionType):  # float | None
            kwargs.update(type=_float_or_none, metavar="X|none")
        else:
            raise TypeError(f"RunConfig.{f.name} has a type the CLI cannot parse: {f.type}")
        parser.add_argument(flag, dest=f.name, **kwargs)


def _top_level():
    """The top-level parser and the action that takes its commands."""
    parser = _Parser(prog="rnnlab", description=DESCRIPTION)
    return parser, parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")


def _command_list():
    """The top-level parser with its commands but not their options: all that --help, a missing or an unknown
    command need, and it imports nothing of torch."""
    parser, commands = _top_level()
    for name, text in COMMANDS.items():
        commands.add_parser(name, help=text)
    return parser


def _add_run_options(parser, store="run store (default: as for train)", progress="no progress bar"):
    """--store, --no-progress and --threads, as every command that trains takes them."""
    parser.add_argument("--store", type=_folder, metavar="PATH", default=None, help=store)
    parser.add_argument("--no-progress", action="store_true", help=progress)
    _add_threads_option(parser)


def _add_summary(commands):
    p = commands.add_parser("summary", help=COMMANDS["summary"],
                            description="Print layer, output shape and parameter count, as Keras' model.summary(). "
                                        "The defaults are the lecture's IMDB model: 322,113 parameters.")
    p.add_argument("--vocab-size", type=_size, default=10000, metavar="INT", help="default: 10000")
    p.add_argument("--embedding-dim", type=_size, default=32, metavar="INT", help="default: 32")
    p.add_argument("--hidden-size", type=_size, default=32, metavar="INT", help="default: 32")
    p.add_argument("--seq-len", type=_size, default=500, metavar="INT", help="default: 500")
    p.add_argument("--head", choices=choices.HEADS, default="last", help="default: last")
    p.add_argument("--cell", choices=choices.CELLS, default="simple_rnn", help="default: simple_rnn")


def _add_runs(commands):
    p = commands.add_parser("runs", help=COMMANDS["runs"],
                            description="List the runs in the store: hash, task, cell, the configuration fields "
                                        "whose values differ between the listed runs, test accuracy, and 'files', "
                                        "which says whether weights.pt (and vocabulary.json) still have the sha256 "
                                        "recorded when the run was saved.")
    p.add_argument("--store", type=_folder, metavar="PATH", default=None, help="run store (default: as for train)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list instead: per run its hash, every configuration field, test_accuracy, "
                        "test_loss and files")


LIGHT = {"summary": _add_summary, "runs": _add_runs}  # the commands whose options import nothing of torch


def build_parser(command=None):
    """The parser of every command or, for a `command` in LIGHT, of that one alone: all that its command line needs,
    without importing torch for the others' options."""
    parser, commands = _top_level()
    if command in LIGHT:
        LIGHT[command](commands)
        return parser
    from .experiments import LECTURE_IMDB
    from .sweeps import EXECUTORS, MAX_RUNS

    _add_summary(commands)

    p = commands.add_parser("train", help=COMMANDS["train"],
                            description="Train a SequenceClassifier on a synthetic task and store the run under "
                                        "its config hash; the same options a second time load it from the store.")
    _add_config_options(p)
    _add_run_options(p, store="run store (default: $RNNLAB_HOME/runs or ~/.cache/rnnlab/runs)")

    p = commands.add_parser("imdb", help=COMMANDS["imdb"],
                            description="Train the lecture's model on the IMDB reviews (defaults: the lecture's "
                                        "settings) and test it on the whole test set; the run is stored like any "
                                        "other. The reviews come from --data-dir, $RNNLAB_IMDB_DIR or the cache, "
                                        "else the official archive is downloaded.")
    _add_config_options(p, defaults=LECTURE_IMDB, fixed=("task",))
    p.add_argument("--data-dir", type=_folder, metavar="PATH", default=None, help="folder with the IMDB reviews")
    _add_run_options(p)

    _add_runs(commands)

    p = commands.add_parser("sweep", help=COMMANDS["sweep"],
                            description="Expand the sweep file's grid (TOML: seeds, [base], [grid]; see "
                                        "sweeps/lecture.toml), train the runs the store does not hold yet, and "
                                        "print mean ± std [95 percent t-interval] across seeds per configuration. "
                                        "A combination RunConfig rejects (lag >= length) is skipped with a note; a "
                                        "value no combination can use is an error. A failed run is retried once, "
                                        "then recorded in <store>/.failures. Run it again to resume.")
    p.add_argument("file", metavar="FILE", help="the sweep file (TOML)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: worker processes on this machine; ray: Ray tasks (pip install 'rnnlab[ray]') "
                        "(default: local)")
    p.add_argument("--address", metavar="ADDR", default=None,
                   help="ray: the cluster to join, 'auto' or 'ray://host:port' (default: a new local Ray instance)")
    p.add_argument("--workers", type=_size, default=None, metavar="INT", help="runs at once (default: one per core)")
    p.add_argument("--max-runs", type=_size, default=MAX_RUNS, metavar="INT",
                   help=f"refuse a grid of more runs (configurations × seeds) than this (default: {MAX_RUNS:,})")
    p.add_argument("--store", metavar="PATH", default=None, help="run store (default: as for train)")
    p.add_argument("--influence", action="store_true",
                   help="also summarize the time constant and horizon of ‖∂h_t/∂x_0‖ of the trained models")
    p.add_argument("--dry-run", action="store_true", help="show the grid and what the store holds; train nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_threads_option(p)

    p = commands.add_parser("reach", help=COMMANDS["reach"],
                            description="Train at lags 1, 2, 4, … until the test accuracy falls below the "
                                        "threshold, then bisect (rnnlab.experiments.reach); every training is a "
                                        "stored run, so a second call reuses them. The distractor steps before the "
                                        "answer stay as --length and --lag give them.")
    _add_config_options(p, defaults={"task": "marked_recall", "length": 11, "stop_at": None})
    p.add_argument("--seeds", type=_int, nargs="+", default=[0, 1, 2], metavar="INT", help="default: 0 1 2")
    p.add_argument("--threshold", type=_float, default=None, metavar="X",
                   help="test accuracy that counts as learnt (default: halfway between chance and 1)")
    p.add_argument("--max-lag", type=_size, default=1024, metavar="INT", help="stop growing there (default: 1024)")
    p.add_argument("--tolerance", type=_float, default=0.0, metavar="X",
                   help="bisect until the lags that passed and failed are max(1, X·reach) apart (default: 0, "
                        "adjacent lags)")
    _add_run_options(p, progress="no progress lines")

    p = commands.add_parser("lesson", help=COMMANDS["lesson"],
                            description="Train sweeps/reach.toml and sweeps/reach_gru.toml (what the store lacks), "
                                        "search each configuration's reach, measure its decay, and write "
                                        "lesson.json and the shown checkpoints into --out (rnnlab.lesson).")
    p.add_argument("--out", type=_folder, metavar="PATH", default=None,
                   help="where to write (default: the rnnlab/shipped folder the dashboard reads)")
    p.add_argument("--workers", type=_size, default=None, metavar="INT", help="runs at once (default: one per core)")
    _add_run_options(p)

    p = commands.add_parser("analyse", help=COMMANDS["analyse"],
                            description="Read a model file (rnnlab.load_model: Keras 3 .keras, legacy Keras .h5 or "
                                        "a PyTorch state_dict of Embedding → RNN/LSTM/GRU → Linear) and measure its "
                                        "memory on one random sequence (rnnlab.experiments.model_report): the "
                                        "influence half-life, time constant and horizon, ρ(A_h) and the Lyapunov "
                                        "exponent.")
    p.add_argument("file", metavar="MODEL_FILE", help="the model file")
    p.add_argument("--length", type=_size, default=None, metavar="T",
                   help="sequence length (default: the model's own with a Flatten head, else 500)")
    p.add_argument("--seed", type=_int, default=0, metavar="INT", help="seeds the random sequence (default: 0)")
    p.add_argument("--out", type=_folder, metavar="PATH", default=None,
                   help="also write influence.html and gradient.html (Plotly figures) into this folder")
    _add_threads_option(p)
    return parser


def _fmt(value, spec=".4f"):
    return "-" if value is None else format(value, spec)


def _summary(args, parser):
    from .models import SequenceClassifier
    from .params import summary
    try:
        model = SequenceClassifier(vocab_size=args.vocab_size, embedding_dim=args.embedding_dim,
                                   hidden_size=args.hidden_size, cell=args.cell, head=args.head,
                                   seq_len=args.seq_len)
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    except (RuntimeError, MemoryError) as e:  # sizes valid but too large to allocate
        _fail(parser, e, "the model does not fit in memory: ")
    print(summary(model))


def _train(args, parser, task=None):
    from .imdb import DataError, DataNotFound
    from .params import summary
    from .runs import RunConfig, run
    from .train import TrainingDiverged
    try:
        config = RunConfig(**{f.name: getattr(args, f.name, task) for f in fields(RunConfig)})
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    store = _open_store(args, parser)
    # Before training, so that whoever waits sees which run is being computed.
    lag = "" if config.task == "imdb" else f", lag {config.lag}"  # a review has no lag to recall
    print(f"run {config.hash}: {config.task}, {config.cell}, length {config.length}{lag}", flush=True)
    try:
        result = run(config, store=store, progress=not args.no_progress, data_dir=getattr(args, "data_dir", None))
    except KeyboardInterrupt:  # run() writes a run only whole, so an interrupted one left nothing behind
        parser.exit(130, f"rnnlab: interrupted; run {config.hash} was not stored\n")
    except (TrainingDiverged, DataNotFound, DataError) as e:
        _fail(parser, e)
    except MemoryError as e:
        _fail(parser, e, f"run {config.hash} does not fit in memory: ")
    except (OSError, RuntimeError) as e:  # a full disk, a folder we may not write, a tensor torch cannot allocate
        _fail(parser, e, f"run {config.hash} failed ({type(e).__name__}): ")
    if config.task == "imdb":
        print(summary(result.model))
    h = result.history
    print(f"{'epoch':>5}  {'loss':>8}  {'accuracy':>8}  {'test_loss':>9}  {'test_acc':>8}  {'seconds':>7}")
    for e in range(h.epochs):
        print(f"{e + 1:>5}  {_fmt(h.loss[e]):>8}  {_fmt(h.accuracy[e]):>8}  {_fmt(h.val_loss[e]):>9}  "
              f"{_fmt(h.val_accuracy[e]):>8}  {_fmt(h.seconds[e], '.2f'):>7}")
    m = result.metrics
    score = f"accuracy {_fmt(m['test_accuracy'])}" if m["test_accuracy"] is not None else f"MSE {_fmt(m['test_loss'])}"
    print(f"test {score} (chance {m['chance_metric']} {m['chance']:.4f})")
    print(f"{'loaded from' if result.cached else 'stored in'} {result.path}")


def _runs(args, parser):
    from .runs import CorruptRun
    store = _open_store(args, parser)
    try:
        results = store.list()
    except OSError as e:
        _fail(parser, e, "cannot read the run store: ")
    rows = []
    for r in results:
        try:
            files = "changed" if store.changed(r.hash) else "ok"
        except (CorruptRun, KeyError):  # damaged or removed since it was listed
            files = "broken"
        rows.append((r, files))
    if args.json:
        print(json.dumps([{"hash": r.hash, "config": r.config.to_dict(), "files": files,
                           **{k: r.metrics.get(k) for k in ("test_accuracy", "test_loss")}} for r, files in rows],
                         indent=2))
        return
    if not results:
        print(f"no runs in {store.root}")
        return
    print(_table(rows))
    print(f"{len(results)} run{'s' if len(results) != 1 else ''} in {store.root}")
    marked = sum(files != "ok" for _, files in rows)
    if marked:
        print(f"{marked} marked: the files are not those saved (sha256); loading such a run sets it aside and "
              "trains it again")


def _table(rows):
    """The runs as a table: hash, task and cell, then only the RunConfig fields whose values differ between them
    (a column that is the same on every line tells nothing apart), then test_acc and files. imdb has no lag: "-"."""
    from .runs import RunConfig
    configs = [r.config for r, _ in rows]
    names = ["task", "cell"] + [f.name for f in fields(RunConfig) if f.name not in ("task", "cell")
                                and len({getattr(c, f.name) for c in configs}) > 1]

    def value(c, name):
        return "-" if name == "lag" and c.task == "imdb" else str(getattr(c, name))

    lines = [["hash", *names, "test_acc", "files"]]
    lines += [[r.hash, *(value(r.config, n) for n in names), _fmt(r.metrics.get("test_accuracy")), files]
              for r, files in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def _sweep(args, parser):
    from .sweeps import format_summary, load_sweep, run_sweep, summarize
    if args.address is not None and args.executor != "ray":
        parser.error(f"--address is for --executor ray (a Ray cluster), got --executor {args.executor}")
    try:
        sweep = load_sweep(args.file, max_runs=args.max_runs)
    except OSError as e:
        parser.error(f"cannot read the sweep file {args.file!r}: {e.strerror or e}")
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    except ImportError as e:  # Python 3.10 without tomli
        _fail(parser, e)
    store = _open_store(args, parser)
    print(f"sweep {sweep.name}: {len(sweep.configs)} runs = {len(sweep.configs) // len(sweep.seeds)} configurations"
          f" × {len(sweep.seeds)} seed{'s' if len(sweep.seeds) != 1 else ''}")
    for combination, reason in sweep.invalid:
        print(f"  skipped {', '.join(f'{k}={v}' for k, v in combination.items())}: {reason}")
    if args.dry_run:
        held = sum(c in store for c in sweep.configs)
        print(f"{held} already in {store.root}, {len(sweep.configs) - held} to train")
        return
    try:
        result = run_sweep(sweep, store=store, executor=args.executor, workers=args.workers, address=args.address,
                           progress=not args.no_progress)
    except ImportError as e:
        _fail(parser, e)
    except OSError as e:
        _fail(parser, e, f"cannot write the run store {store.root}: ")
    except KeyboardInterrupt:
        parser.exit(130, f"rnnlab: interrupted; the runs that finished are in {store.root}: the same command "
                         "resumes the sweep\n")
    try:
        summary = summarize(result, by=list(sweep.axes), influence=args.influence)
    except ValueError as e:  # --influence on an imdb sweep
        _fail(parser, e)
    print(format_summary(summary))
    for f in result.failures:
        print(f"failed {f['hash']} after {f['attempts']} attempts: {f['error']}")
    print(f"{result.trained} trained, {result.skipped} from the store, {len(result.failures)} failed; "
          f"runs in {store.root}")
    if result.failures:
        parser.exit(1, f"rnnlab: {len(result.failures)} of {len(sweep.configs)} runs failed (tracebacks in "
                       f"{store.root / '.failures'}); the same command tries them again\n")


def _reach(args, parser):
    from .experiments import reach
    from .runs import RunConfig
    from .train import TrainingDiverged
    try:
        config = RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig) if f.name != "seed"})
        store = _open_store(args, parser)
        found = reach(config, seeds=args.seeds, threshold=args.threshold, max_lag=args.max_lag,
                      tolerance=args.tolerance, store=store,
                      progress=None if args.no_progress else lambda message: print(message, flush=True))
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    except KeyboardInterrupt:  # every finished training is stored: the next call resumes
        parser.exit(130, "rnnlab: interrupted; the runs finished so far are stored\n")
    except (TrainingDiverged, MemoryError, OSError, RuntimeError) as e:
        _fail(parser, e)
    print(f"reach of {config.cell} h={config.hidden_size} on {config.task} (test accuracy >= {found.threshold:.3f}):")
    for seed, lag in found.per_seed.items():
        tried = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(found.tried[seed].items()))
        print(f"  seed {seed}: {lag}{'+' if lag == found.max_lag else ''}   (lag: accuracy  {tried})")
    lower, upper = found.interval
    print(f"mean {found.mean:.1f}" + ("" if lower != lower else f", 95% interval [{lower:.1f}, {upper:.1f}]"))


def _lesson(args, parser):
    from . import lesson
    from .train import TrainingDiverged
    store = _open_store(args, parser)
    try:
        summary = lesson.write(store=store, out=args.out, workers=args.workers,
                               progress=not args.no_progress)
    except KeyboardInterrupt:
        parser.exit(130, "rnnlab: interrupted; the runs finished so far are stored\n")
    except (TrainingDiverged, MemoryError, OSError, RuntimeError) as e:
        _fail(parser, e)
    for label, found in summary["reach"].items():
        print(f"{label:<16} reach {found['mean']:.0f} (per seed {', '.join(map(str, found['per_seed'].values()))})")
    print(f"wrote {args.out or lesson.SHIPPED}")


def _analyse(args, parser):
    from . import plots
    from .experiments import model_report
    from .files import atomic_file
    from .modelfile import load_model
    from .params import summary
    try:
        model = load_model(args.file)
        report = model_report(model, args.length, args.seed)
    except (ValueError, TypeError) as e:  # ModelFileError is a ValueError
        _usage_error(parser, e)
    except (MemoryError, RuntimeError) as e:
        _fail(parser, e)
    print(model.origin)
    print(summary(model))
    fit, spectrum = report.fit, report.spectrum
    print(f"memory on one random sequence of {report.length:,} steps (seed {args.seed}), in float64:")
    if fit is None:
        print("  influence ‖∂h_t/∂x_0‖   starts at 0: no decay to fit")
    elif fit.regime != "vanishing":  # no exponential decay: a half-life would be inf or nan
        print(f"  influence ‖∂h_t/∂x_0‖   {fit.regime} (r² {fit.r2:.3f}): no half-life")
    else:
        print(f"  influence ‖∂h_t/∂x_0‖   vanishing (r² {fit.r2:.3f}): half-life {fit.half_life:.4g} steps, time "
              f"constant τ {fit.time_constant:.4g} steps")
    print(f"  horizon (10⁻³ of start) {report.horizon} steps")
    print(f"  spectral radius ρ(A_h)  {spectrum.spectral_radius:.4f} (σ_max {spectrum.sigma_max:.4f})")
    print(f"  Lyapunov exponent λ     {report.lyapunov:.4f} per step")
    if args.out is None:
        return
    name = os.path.basename(args.file)
    figures = {"influence.html": plots.influence_figure({name: report.influence}, fits={name: fit} if fit else None,
                                                        bounds=None if report.bound is None else {name: report.bound}),
               "gradient.html": plots.gradient_figure({name: report.gradient})}
    try:
        for file, fig in figures.items():
            with atomic_file(os.path.join(args.out, file), "w", encoding="utf-8") as f:
                f.write(plots.figure_html(fig))
    except OSError as e:
        _fail(parser, e, f"cannot write into {args.out}: ")
    print(f"wrote {', '.join(os.path.join(args.out, file) for file in figures)}")


def _open_store(args, parser):
    from .runs import Store
    try:
        return Store(args.store)
    except (TypeError, ValueError) as e:
        parser.error(f"--store: {e}")


def _one_line(e):
    """The message of `e` on one line, without the C++ backtrace that torch appends to its own errors."""
    return " ".join(str(e).split("Exception raised from")[0].split()) or type(e).__name__


def _fail(parser, e, prefix=""):
    """An error the user cannot fix by changing an option: one line, exit 1."""
    parser.exit(1, f"rnnlab: {prefix}{_one_line(e)}\n")


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"rnnlab: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def _forget_caught_interrupt():
    """Let a Ctrl-C that was caught and reported end as exit status 130 under `python -m rnnlab` too.

    CPython (3.11) flags a KeyboardInterrupt that passes through exec() of a string, as dataclasses do while
    torch._dynamo is imported on the first optimizer step, and under `python -m` it kills itself with SIGINT at exit
    even though the interrupt was caught. Each exec() of a string starts by clearing that flag."""
    exec("None")


def _terminal(main):
    """Around the entry point: Ctrl-C ends with one line and exit status 130 (128 + SIGINT), never a traceback,
    and warnings print as one line each."""

    @functools.wraps(main)
    def wrapper(argv=None):
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            try:
                return main(argv)
            except KeyboardInterrupt:
                print("rnnlab: interrupted", file=sys.stderr)
                raise SystemExit(130) from None
            finally:
                _forget_caught_interrupt()

    return wrapper


@contextlib.contextmanager
def _threads(threads, parser):
    """The command's intra-op threads: --threads, else RNNLAB_THREADS, else 1 (rnnlab's models are small). --threads
    is exported as RNNLAB_THREADS meanwhile, so that fit, in this process and in a sweep's workers, takes it too."""
    from .train import THREADS_ENV, env_threads, torch_threads
    saved = os.environ.get(THREADS_ENV)
    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)
    try:
        try:
            count = env_threads() or 1
        except ValueError as e:
            _usage_error(parser, e)
        with torch_threads(count):
            yield
    finally:
        if saved is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = saved


def _usage_error(parser, e):
    """A value argparse let through but the library rejects (hidden_size 0, lag >= length, …): one line, exit 2."""
    parser.error(_one_line(e))


@_terminal
def main(argv=None):
    """Entry point of the `rnnlab` console script; returns the exit status (argparse exits 2 on bad values)."""
    argv = sys.argv[1:] if argv is None else argv
    # --help, no command or an unknown one: the list of commands says all, without importing torch; the top level
    # has no option but --help, so a command line that names a command starts with it
    parser = build_parser(argv[0]) if any(a in COMMANDS for a in argv) else _command_list()
    args = parser.parse_args(argv)
    # runs reads JSON files and computes nothing: it sets no torch threads, and so imports no torch
    threads = contextlib.nullcontext() if args.command == "runs" else _threads(getattr(args, "threads", None), parser)
    with threads:
        if args.command == "imdb":
            _train(args, parser, task="imdb")
        else:
            {"summary": _summary, "train": _train, "runs": _runs, "sweep": _sweep, "reach": _reach,
             "lesson": _lesson, "analyse": _analyse}[args.command](args, parser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
