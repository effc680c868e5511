"""A hostile run store and command line: hand-edited metrics.json, missing checksums, JSON nested past the parser,
special files and oversized files in a run's place, and option values past int64 or float32. Each must end in
CorruptRun (the run is set aside and trained again, the listing leaves it out with a warning) or in one line on
stderr with exit status 2, never in a traceback, a hang or wrong data. The oracles: the untouched run's weights
(training is deterministic, so a retrained run has them again), hashlib's sha256, and the values written here."""
import contextlib
import hashlib
import json
import math
import os
import shutil
import signal

import pytest
import torch

from rnnlab import imdb
from rnnlab.cli import build_parser, main
from rnnlab.runs import MAX_BYTES, CorruptRun, RunConfig, Store, list_runs, run
from rnnlab.train import History

TINY = dict(length=5, n_train=64, n_test=40, hidden_size=8, epochs=2, batch_size=16)
posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One stored run of two epochs, never touched: each test damages a copy of it."""
    return run(RunConfig(**TINY), store=tmp_path_factory.mktemp("pristine"), progress=False)


@pytest.fixture
def copy(pristine, tmp_path):
    """(store, folder): a store holding a copy of the pristine run."""
    shutil.copytree(pristine.path, tmp_path / pristine.hash)
    return tmp_path, tmp_path / pristine.hash


@contextlib.contextmanager
def no_hang(seconds=60):
    """Fail, instead of blocking the suite for ever, if the block has not returned after `seconds`: a hang guard
    (SIGALRM interrupts a blocking open or read), not a measurement; the blocks here take milliseconds."""
    def expire(signum, frame):
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_refused_set_aside_and_retrained(store, pristine, *words):
    """The whole contract for a broken run: load raises CorruptRun naming `words`; list() leaves it out with a
    warning; run() moves it aside with a warning and trains it again, to the pristine run's weights."""
    with pytest.raises(CorruptRun) as e:
        Store(store).load(pristine.hash)
    message = str(e.value)
    assert all(w in message for w in words), (words, message)
    assert "\n" not in message and len(message) < 600
    with pytest.warns(UserWarning, match=f"skipping malformed run folder .*{pristine.hash}"):
        assert list_runs(store) == []
    with pytest.warns(UserWarning, match=f"run {pristine.hash} .* is broken .*moved it aside"):
        again = run(pristine.config, store=store, progress=False)
    assert not again.cached
    assert [p.name.startswith(f".broken-{pristine.hash}-") for p in store.iterdir()].count(True) == 1
    reloaded = Store(store).load(pristine.hash)
    for k, v in pristine.model.state_dict().items():
        assert torch.equal(reloaded.model.state_dict()[k], v), k
    assert reloaded.metrics.keys() == pristine.metrics.keys()


def edit(folder, name, change):
    """Rewrite folder/name's JSON as change(d)."""
    path = folder / name
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


# ---------------------------------------------------------------------------------- metrics.json, edited by hand

def _set(section, key, value):
    return lambda d: d | {section: d[section] | {key: value}}


def _drop(section, key):
    return lambda d: d | {section: {k: v for k, v in d[section].items() if k != key}}


HUGE_INT = 10**400  # a JSON int that reads as no float

# (edit of metrics.json, words the refusal names). The first five are the red-team report's.
EDITS = [
    (lambda d: d | {"metrics": {}}, ["metrics lacks 'chance'"]),
    (_set("metrics", "chance", None), ["metrics['chance'] must be a finite number, got None"]),
    (lambda d: _set("history", "loss", d["history"]["loss"][:1])(d), ["history['loss'] must be a list of 2 entries"]),
    (lambda d: {k: v for k, v in d.items() if k != "sha256"}, ["metrics.json lacks 'sha256'"]),
    (_drop("sha256", "weights.pt"), ["sha256 lacks 'weights.pt'"]),
    (_set("sha256", "weights.pt", "f" * 63), ["sha256['weights.pt'] must be 64 lower-case hex digits"]),
    (_set("sha256", "weights.pt", "F" * 64), ["sha256['weights.pt'] must be 64 lower-case hex digits"]),
    (_set("sha256", "vocabulary.json", "0" * 64), ["has no vocabulary.json"]),
    (_set("sha256", "config.json", "0" * 64), ["sha256 has unknown keys 'config.json'"]),
    (_set("metrics", "chance", math.inf), ["metrics['chance'] must be a finite number, got inf"]),
    (_set("metrics", "chance", HUGE_INT), ["metrics['chance'] must be a finite number, got 1000000000"]),
    (_set("metrics", "chance", "0.125"), ["metrics['chance'] must be a finite number"]),
    (_set("metrics", "chance_metric", "f1"), ["metrics['chance_metric'] must be 'accuracy' or 'mse'"]),
    (_set("metrics", "test_accuracy", 1.5), ["metrics['test_accuracy'] must be a number in [0, 1] or null"]),
    (_set("metrics", "test_accuracy", True), ["metrics['test_accuracy'] must be a number in [0, 1] or null"]),
    (_set("metrics", "test_accuracy", math.nan), ["metrics['test_accuracy'] must be a number in [0, 1]"]),
    (_set("metrics", "test_loss", None), ["metrics['test_loss'] must be a number"]),
    (_set("metrics", "test_loss", HUGE_INT), ["metrics['test_loss'] must be a number"]),
    (_set("metrics", "seconds", -1.0), ["metrics['seconds'] must be a finite number >= 0"]),
    (_set("metrics", "created", math.nan), ["metrics['created'] must be a finite number, got nan"]),
    (_set("metrics", "epochs", 2.0), ["metrics['epochs'] must be an int >= 0, got 2.0"]),
    (_set("metrics", "epochs", True), ["metrics['epochs'] must be an int >= 0, got True"]),
    (_set("metrics", "epochs", 3), ["history['loss'] must be a list of 3 entries"]),
    (_set("metrics", "learning_rate", 0.1), ["metrics has unknown keys 'learning_rate'"]),
    (_drop("history", "seconds"), ["history lacks 'seconds'"]),
    (_set("history", "val_accuracy", [0.5, "high"]), ["history['val_accuracy'][1] must be a number in [0, 1]"]),
    (_set("history", "loss", [0.5, math.inf]), ["history['loss'][1] must be a finite number, got inf"]),
    (_set("history", "seconds", "fast"), ["history['seconds'] must be a list of 2 entries", "got 'fast'"]),
    (_set("history", "best_epoch", 0), ["history['best_epoch'] must be null or an epoch 1 … 2, got 0"]),
    (_set("history", "best_epoch", 3), ["history['best_epoch'] must be null or an epoch 1 … 2, got 3"]),
    (lambda d: d | {"format": True}, ["has format True"]),
    (lambda d: d | {"format": 0}, ["has format 0"]),
    (lambda d: [d], ["must hold a JSON object, got list"]),
]


@pytest.mark.parametrize("change, words", EDITS, ids=[words[0] for _, words in EDITS])
def test_a_hand_edited_metrics_json_is_refused_by_key_set_aside_and_retrained(copy, pristine, change, words):
    store, folder = copy
    edit(folder, "metrics.json", change)
    assert_refused_set_aside_and_retrained(store, pristine, *words)


def test_a_rerun_of_a_hand_edited_run_through_the_cli_retrains_with_one_warning_line(copy, pristine, capsys):
    """The report's crash: `"chance": null` made the rerun's `rnnlab train` print a TypeError traceback."""
    store, folder = copy
    edit(folder, "metrics.json", _set("metrics", "chance", None))
    argv = ["train", *sum(([f"--{k.replace('_', '-')}", str(v)] for k, v in TINY.items()), []), "--no-progress"]
    assert main([*argv, "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert f"stored in {folder}" in out and f"(chance accuracy {1 / 8:.4f})" in out
    assert [line for line in err.splitlines() if line] == [err.strip()] and "moved it aside" in err


def test_another_runs_weights_under_this_runs_metrics_are_refused_with_or_without_the_checksum(copy, pristine):
    """The report's swap: another run's weights (same shapes, other values) with the sha256 entry deleted loaded
    silently. Oracle: hashlib's sha256 of both files."""
    store, folder = copy
    other = run(pristine.config.replace(lag=1), store=store, progress=False)
    shutil.copyfile(other.path / "weights.pt", folder / "weights.pt")
    theirs = hashlib.sha256((folder / "weights.pt").read_bytes()).hexdigest()
    ours = json.loads((folder / "metrics.json").read_text())["sha256"]["weights.pt"]
    assert theirs != ours
    with pytest.raises(CorruptRun, match=f"has sha256 {theirs[:16]}…, not the {ours[:16]}…"):
        Store(store).load(pristine.hash)
    edit(folder, "metrics.json", _drop("sha256", "weights.pt"))
    with pytest.raises(CorruptRun, match="sha256 lacks 'weights.pt'"):
        Store(store).load(pristine.hash)


def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path, pristine):
    """The schema guards the writer too: a run stored is a run that reads back."""
    model = pristine.config.build_model()
    bad = [(pristine.metrics | {"chance": None}, pristine.history, "metrics['chance']"),
           ({k: v for k, v in pristine.metrics.items() if k != "seconds"}, pristine.history, "metrics lacks 'seconds'"),
           (pristine.metrics, History(loss=[0.1]), "history['loss'] must be a list of 2 entries")]
    for metrics, history, words in bad:
        with pytest.raises(ValueError, match=words.replace("[", r"\[")):
            Store(tmp_path).save(pristine.config, history, metrics, model)
    vocabulary = imdb.Vocabulary(["a", "b"], num_words=9)  # the config has num_symbols=8
    with pytest.raises(ValueError, match="num_words must be the config's num_symbols, 8, got 9"):
        Store(tmp_path).save(pristine.config, pristine.history, pristine.metrics, model, vocabulary)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- JSON nested past the parser

def _nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("name, text", [
    ("config.json", _nested(30_000)),  # 60 KB: under config.json's 64 KiB, so the parser meets it
    ("metrics.json", _nested(500_000)),
    ("metrics.json", '{"format": 1, "metrics": ' + _nested(100_000) + "}"),
])
def test_json_nested_deeper_than_the_parser_goes_is_a_corrupt_run_not_a_recursion_error(copy, pristine, name, text):
    store, folder = copy
    (folder / name).write_text(text)
    assert_refused_set_aside_and_retrained(store, pristine, name, "not readable JSON (RecursionError")


def test_a_vocabulary_nested_past_the_parser_is_a_corrupt_run(tmp_path):
    config, folder = _text_run(tmp_path)
    text = _nested(200_000)
    (folder / "vocabulary.json").write_text(text)
    edit(folder, "metrics.json", _set("sha256", "vocabulary.json", hashlib.sha256(text.encode()).hexdigest()))
    with pytest.raises(CorruptRun, match="vocabulary.json is not readable JSON \\(RecursionError"):
        Store(tmp_path).load(config)


def _text_run(store):
    """A stored imdb run made without the data (a small vocabulary, the model at initialisation); (config, folder)."""
    config = RunConfig(task="imdb", length=6, num_symbols=10, hidden_size=4, embedding_dim=3, n_train=10, n_test=10)
    metrics = {"test_loss": 0.7, "test_accuracy": 0.5, "chance_metric": "accuracy", "chance": 0.5, "seconds": 0.0,
               "epochs": 1, "created": 0.0}
    history = History(loss=[0.7], accuracy=[0.5], val_loss=[0.7], val_accuracy=[0.5], seconds=[0.0])
    vocabulary = imdb.Vocabulary(["the", "movie", "was", "great"], num_words=10)
    return config, Store(store).save(config, history, metrics, config.build_model(), vocabulary)


@pytest.mark.parametrize("stored, words", [
    ({"num_words": 10**30, "words": ["the"]}, "num_words must be the config's num_symbols, 10, got 1000"),
    ({"num_words": 10, "words": ["the", 3]}, "words[1] must be a string, got 3"),
    ({"num_words": 10, "words": ["w"] * 7}, "'words' must be a list of at most 6 words"),
    ({"num_words": 10}, "vocabulary.json lacks 'words'"),
])
def test_a_vocabulary_of_the_wrong_size_or_types_is_refused_even_with_its_checksum(tmp_path, stored, words):
    config, folder = _text_run(tmp_path)
    assert Store(tmp_path).load(config).vocabulary.encode("the movie") == [imdb.START, 4, 5]
    data = json.dumps(stored).encode()
    (folder / "vocabulary.json").write_bytes(data)
    edit(folder, "metrics.json", _set("sha256", "vocabulary.json", hashlib.sha256(data).hexdigest()))
    with pytest.raises(CorruptRun) as e:
        Store(tmp_path).load(config)
    assert "vocabulary.json is malformed" in str(e.value) and words in str(e.value)


def test_a_vocabulary_without_its_checksum_is_refused(tmp_path):
    config, folder = _text_run(tmp_path)
    edit(folder, "metrics.json", _drop("sha256", "vocabulary.json"))
    with pytest.raises(CorruptRun, match="records no sha256 of .*vocabulary.json"):
        Store(tmp_path).load(config)


# ---------------------------------------------------------------------------------- special and oversized files

def _fifo(path):
    path.unlink()
    os.mkfifo(path)


def _to_dev_zero(path):
    path.unlink()
    path.symlink_to("/dev/zero")


def _to_a_copy(path):
    """A symbolic link to a regular file with the same bytes: a link is refused whatever it points to."""
    target = path.parent.parent / f"elsewhere-{path.name}"
    shutil.copyfile(path, target)
    path.unlink()
    path.symlink_to(target)


@posix
@pytest.mark.parametrize("name", ["config.json", "metrics.json", "weights.pt"])
@pytest.mark.parametrize("make, words", [(_fifo, "is not a regular file"),
                                         (_to_dev_zero, "cannot be opened as a regular file"),
                                         (_to_a_copy, "cannot be opened as a regular file")])
def test_a_fifo_device_or_link_in_a_files_place_is_refused_without_blocking(copy, pristine, name, make, words):
    store, folder = copy
    make(folder / name)
    with no_hang():
        assert_refused_set_aside_and_retrained(store, pristine, name, words)


@posix
@pytest.mark.parametrize("make", [_fifo, _to_dev_zero])
def test_a_fifo_or_device_as_vocabulary_is_refused_without_blocking(tmp_path, make):
    config, folder = _text_run(tmp_path)
    make(folder / "vocabulary.json")
    with no_hang(), pytest.raises(CorruptRun, match="vocabulary.json"):
        Store(tmp_path).load(config)


@posix
def test_a_run_folder_that_is_a_link_is_set_aside_and_retrained(copy, pristine):
    store, folder = copy
    elsewhere = store.parent / f"{store.name}-elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    assert_refused_set_aside_and_retrained(store, pristine, "is a symbolic link, not a run folder")
    assert (elsewhere / "weights.pt").is_file()  # the link was moved aside, not what it points to


@pytest.mark.parametrize("name", ["config.json", "metrics.json"])
def test_a_json_file_past_its_size_limit_is_refused_before_it_is_parsed(copy, pristine, name):
    """A sparse file one byte past the limit: refused by its size, its bytes never parsed."""
    store, folder = copy
    with open(folder / name, "r+b") as f:
        f.truncate(MAX_BYTES[name] + 1)
    assert_refused_set_aside_and_retrained(store, pristine, name, f"more than {MAX_BYTES[name]:,} bytes")


# ---------------------------------------------------------------------------------- `rnnlab runs` marks changed files

def test_rnnlab_runs_marks_the_run_whose_weights_no_longer_match_their_checksum(tmp_path, capsys):
    """Oracle: the flipped run is the one whose file's sha256 (hashlib) differs from the recorded one."""
    kept, flipped = (run(RunConfig(**TINY, lag=lag), store=tmp_path, progress=False) for lag in (0, 1))
    data = bytearray((flipped.path / "weights.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped.path / "weights.pt").write_bytes(bytes(data))
    for r in (kept, flipped):
        recorded = json.loads((r.path / "metrics.json").read_text())["sha256"]["weights.pt"]
        intact = hashlib.sha256((r.path / "weights.pt").read_bytes()).hexdigest() == recorded
        assert Store(tmp_path).changed(r.hash) == ([] if intact else ["weights.pt"])
    assert main(["runs", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines()[1:3]}
    assert rows == {kept.hash: "ok", flipped.hash: "changed"}
    assert "1 marked: the files are not those saved (sha256)" in out


# ---------------------------------------------------------------------------------- command-line values

BIG = "1" + "0" * 30  # 10**30
HUGE = "9" * 10_000  # more digits than int() reads


@pytest.mark.parametrize("argv, line", [
    (["summary", "--vocab-size", BIG], "argument --vocab-size: must be <= 2**63 - 1, got 10000...(31 digits)"),
    (["summary", "--vocab-size", "-" + BIG], "argument --vocab-size: must be >= -2**63, got -1000...(31 digits)"),
    (["summary", "--seq-len", HUGE], "argument --seq-len: must be <= 2**63 - 1, got 99999...(10000 digits)"),
    (["summary", "--hidden-size", "x" * 5000],
     "argument --hidden-size: invalid int value: 'xxxxx...(5000 characters)'"),
    (["train", "--seed", str(2**63)], "argument --seed: must be <= 2**63 - 1, got 9223372036854775808"),
    (["train", "--epochs", BIG], "argument --epochs: must be <= 2**63 - 1, got 10000...(31 digits)"),
    (["train", "--lr", "1e308"], "argument --lr: must be a finite number within ±3.403e+38 (float32), got 1e308"),
    (["train", "--lr", "1e39"], "argument --lr: must be a finite number within ±3.403e+38 (float32), got 1e39"),
    (["train", "--lr", "inf"], "argument --lr: must be a finite number within ±3.403e+38 (float32), got inf"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number within ±3.403e+38 (float32), got nan"),
    (["train", "--lr", HUGE], "argument --lr: must be a finite number within ±3.403e+38 (float32), got 99999...("
                              "10000 digits)"),
    (["train", "--clip=-1e39"], "argument --clip: must be a finite number within ±3.403e+38 (float32), got -1e39"),
    (["imdb", "--spectral-radius", "Infinity"], "argument --spectral-radius: must be a finite number within "
                                                "±3.403e+38 (float32), got Infinity"),
    (["train", "--store", ""], "argument --store: must be a folder path, got ''"),
    (["train", "--store", "  "], "argument --store: must be a folder path, got '  '"),
    (["runs", "--store", ""], "argument --store: must be a folder path, got ''"),
    (["imdb", "--data-dir", ""], "argument --data-dir: must be a folder path, got ''"),
])
def test_an_option_past_int64_or_float32_or_an_empty_path_exits_2_naming_it_in_one_short_line(argv, line, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err == f"rnnlab: error: {line}\n"


def test_an_empty_store_path_is_refused_by_the_library_too():
    for root in ("", " "):
        with pytest.raises(ValueError, match=f"root must be a folder path, got {root!r}"):
            Store(root)


def test_the_largest_accepted_values_reach_the_library_unchanged():
    """The bounds are inclusive: 2**63 - 1 and float32's largest pass the parser, as the library then judges."""
    args = build_parser().parse_args(["train", "--seed", str(2**63 - 1), "--lr", "3.4028234663852886e38",
                                      "--store", "runs"])
    assert args.seed == 2**63 - 1 and args.lr == float(torch.finfo(torch.float32).max) and args.store == "runs"
