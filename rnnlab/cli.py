"""The `rnnlab` command: `rnnlab summary`, `rnnlab train`, `rnnlab imdb`, `rnnlab runs`.

    rnnlab summary                          the lecture's model, Keras-like table (322,113 parameters)
    rnnlab train --length 100 --lag 99     train one RunConfig (or fetch it from the store) and print its history
    rnnlab imdb --head flatten              the lecture's IMDB experiment (its defaults; same options as train)
    rnnlab runs                             list the stored runs

`train` has one option per RunConfig field (hidden_size → --hidden-size), generated from the dataclass, so the
command line cannot drift from the configuration. A bad value exits with status 2 and one line on stderr.
"""
import argparse
import sys
import types
from dataclasses import fields

from .experiments import LECTURE_IMDB
from .imdb import DataError, DataNotFound
from .models import CELLS, HEADS, SequenceClassifier
from .params import summary
from .runs import RunConfig, Store, run
from .train import TrainingDiverged


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`rnnlab: error: …`) instead of the usage block."""

    def error(self, message):
        self.exit(2, f"rnnlab: error: {message}\n")


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None


def _size(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {value}")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None


def _float_or_none(text):
    return None if text.lower() == "none" else _float(text)


def _add_config_options(parser, defaults=None, fixed=()):
    """One option per RunConfig field, except those in `fixed`; `defaults` overrides the dataclass defaults."""
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


def build_parser():
    parser = _Parser(prog="rnnlab", description="See why a recurrent network forgets.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{summary,train,imdb,runs}")

    p = commands.add_parser("summary", help="the Keras-like parameter table of a SequenceClassifier",
                            description="Print layer, output shape and parameter count, as Keras' model.summary(). "
                                        "The defaults are the lecture's IMDB model: 322,113 parameters.")
    p.add_argument("--vocab-size", type=_size, default=10000, metavar="INT", help="default: 10000")
    p.add_argument("--embedding-dim", type=_size, default=32, metavar="INT", help="default: 32")
    p.add_argument("--hidden-size", type=_size, default=32, metavar="INT", help="default: 32")
    p.add_argument("--seq-len", type=_size, default=500, metavar="INT", help="default: 500")
    p.add_argument("--head", choices=HEADS, default="last", help="default: last")
    p.add_argument("--cell", choices=CELLS, default="simple_rnn", help="default: simple_rnn")

    p = commands.add_parser("train", help="train one run (or fetch it from the store)",
                            description="Train a SequenceClassifier on a synthetic task and store the run under "
                                        "its config hash; the same options a second time load it from the store.")
    _add_config_options(p)
    p.add_argument("--store", metavar="PATH", default=None, help="run store (default: $RNNLAB_HOME/runs or "
                                                                 "~/.cache/rnnlab/runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = commands.add_parser("imdb", help="the lecture's IMDB experiment",
                            description="Train the lecture's model on the IMDB reviews (defaults: the lecture's "
                                        "settings) and test it on the whole test set; the run is stored like any "
                                        "other. The reviews come from --data-dir, $RNNLAB_IMDB_DIR or the cache, "
                                        "else the official archive is downloaded.")
    _add_config_options(p, defaults=LECTURE_IMDB, fixed=("task",))
    p.add_argument("--data-dir", metavar="PATH", default=None, help="folder with the IMDB reviews")
    p.add_argument("--store", metavar="PATH", default=None, help="run store (default: as for train)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = commands.add_parser("runs", help="list the stored runs", description="List the runs in the store.")
    p.add_argument("--store", metavar="PATH", default=None, help="run store (default: as for train)")
    return parser


def _fmt(value, spec=".4f"):
    return "-" if value is None else format(value, spec)


def _summary(args, parser):
    try:
        model = SequenceClassifier(vocab_size=args.vocab_size, embedding_dim=args.embedding_dim,
                                   hidden_size=args.hidden_size, cell=args.cell, head=args.head,
                                   seq_len=args.seq_len)
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    print(summary(model))


def _train(args, parser, task=None):
    try:
        config = RunConfig(**{f.name: getattr(args, f.name, task) for f in fields(RunConfig)})
    except (ValueError, TypeError) as e:
        _usage_error(parser, e)
    try:
        result = run(config, store=Store(args.store), progress=not args.no_progress,
                     data_dir=getattr(args, "data_dir", None))
    except TrainingDiverged as e:
        parser.exit(1, f"rnnlab: {e}\n")
    except (DataNotFound, DataError) as e:
        parser.exit(1, f"rnnlab: {e}\n")
    if config.task == "imdb":
        print(summary(result.model))
    h = result.history
    print(f"run {config.hash}: {config.task}, {config.cell}, length {config.length}, lag {config.lag}")
    print(f"{'epoch':>5}  {'loss':>8}  {'accuracy':>8}  {'test_loss':>9}  {'test_acc':>8}  {'seconds':>7}")
    for e in range(h.epochs):
        print(f"{e + 1:>5}  {_fmt(h.loss[e]):>8}  {_fmt(h.accuracy[e]):>8}  {_fmt(h.val_loss[e]):>9}  "
              f"{_fmt(h.val_accuracy[e]):>8}  {_fmt(h.seconds[e], '.2f'):>7}")
    m = result.metrics
    score = f"accuracy {_fmt(m['test_accuracy'])}" if m["test_accuracy"] is not None else f"MSE {_fmt(m['test_loss'])}"
    print(f"test {score} (chance {m['chance_metric']} {m['chance']:.4f})")
    print(f"{'loaded from' if result.cached else 'stored in'} {result.path}")


def _runs(args, parser):
    store = Store(args.store)
    results = store.list()
    if not results:
        print(f"no runs in {store.root}")
        return
    print(f"{'hash':<12}  {'task':<10}  {'cell':<10}  {'length':>6}  {'lag':>4}  {'test_acc':>8}")
    for r in results:
        c = r.config
        print(f"{r.hash:<12}  {c.task:<10}  {c.cell:<10}  {c.length:>6}  {c.lag:>4}  "
              f"{_fmt(r.metrics.get('test_accuracy')):>8}")
    print(f"{len(results)} run{'s' if len(results) != 1 else ''} in {store.root}")


def _usage_error(parser, e):
    """A value argparse let through but the library rejects (hidden_size 0, lag >= length, …): one line, exit 2."""
    parser.error(" ".join(str(e).split()) or type(e).__name__)


def main(argv=None):
    """Entry point of the `rnnlab` console script; returns the exit status (argparse exits 2 on bad values)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "imdb":
        _train(args, parser, task="imdb")
    else:
        {"summary": _summary, "train": _train, "runs": _runs}[args.command](args, parser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
