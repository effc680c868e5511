"""Hostile IMDB files: labels that are not the ints 0 and 1, ids that are no ints, JSON nested past the parser,
lines, reviews and archive members past their size limit, absurd review ids, a FIFO or device among the reviews, and
a broken word index. Each must end in DataError naming the file (and the line), never in an OverflowError,
RecursionError or ValueError traceback, a hang, unbounded reading, or labels silently converted. Oracles: the line
and the value written here, and the valid files' labels as written."""
import gzip
import hashlib
import io
import json
import os
import tarfile
import tracemalloc

import numpy as np
import pytest

from rnnlab import imdb
from rnnlab.cli import main
from rnnlab.imdb import MAX_INDEX, MAX_REVIEW, DataError
from test_hostile_store import no_hang
from tiny_imdb import tiny_reviews

posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX")


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    """No test sees the user's $RNNLAB_IMDB_DIR or cache."""
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "home"))


def load(tmp_path):
    return imdb.load(num_words=20, maxlen=10, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache",
                     progress=False, download=False)


def replace_line(folder, split, n, line):
    """Write `line` in place of line n (from 1) of folder/<split>.jsonl.gz."""
    path = folder / f"{split}.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    lines[n - 1] = line
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def review(label="1", id_="3", text='"a fine film"'):
    return f'{{"text": {text}, "label": {label}, "id": {id_}}}'


def test_labels_written_as_the_ints_0_and_1_load_as_written(tmp_path):
    """The control for the refusals below: tiny_reviews writes label i % 2 on line i + 1."""
    tiny_reviews(tmp_path / "data", n=8)
    d = load(tmp_path)
    assert sorted(d.y_train.tolist()) == sorted(i % 2 for i in range(8)) and d.y_train.dtype == np.int64


LABELS = ["Infinity", "-Infinity", "NaN", "1e400", "1" + "0" * 400, "0.9", "1.0", "0.0", '"1"', '"0"', "true",
          "false", "null", "2", "-1", "[1]", '{"value": 1}']


@pytest.mark.parametrize("label", LABELS)
def test_a_label_that_is_not_the_int_0_or_1_is_a_data_error_naming_file_and_line(tmp_path, label):
    data = tiny_reviews(tmp_path / "data", n=8)
    replace_line(data, "train", 3, review(label=label))
    with pytest.raises(DataError) as e:
        load(tmp_path)
    message = str(e.value)
    assert f"train.jsonl.gz, line 3: label must be the int 0 or 1, got " in message and len(message) < 300


@pytest.mark.parametrize("id_, words", [("Infinity", "got inf"), ("NaN", "got nan"), ("1e400", "got inf"),
                                        ('"3"', "got '3'"), ("true", "got True"), ("2.5", "got 2.5"),
                                        ("null", "got None")])
def test_an_id_that_is_not_an_int_is_a_data_error_not_an_overflow(tmp_path, id_, words):
    data = tiny_reviews(tmp_path / "data", n=8)
    replace_line(data, "test", 5, review(id_=id_))
    with pytest.raises(DataError, match=f"test.jsonl.gz, line 5: id must be an int, {words}"):
        load(tmp_path)


@pytest.mark.parametrize("text", ["3", "null", '["a", "film"]'])
def test_a_text_that_is_not_a_string_is_a_data_error(tmp_path, text):
    data = tiny_reviews(tmp_path / "data", n=8)
    replace_line(data, "train", 2, review(text=text))
    with pytest.raises(DataError, match="train.jsonl.gz, line 2: text must be a string"):
        load(tmp_path)


@pytest.mark.parametrize("line", ["[" * 200_000 + "]" * 200_000,
                                  review(label="[" * 100_000 + "]" * 100_000),
                                  '{"text": "x", "label": 1, "rating": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_001])
def test_a_json_line_nested_past_the_parser_is_a_data_error_not_a_recursion_error(tmp_path, line):
    data = tiny_reviews(tmp_path / "data", n=8)
    replace_line(data, "train", 4, line)
    with pytest.raises(DataError, match=r"train.jsonl.gz, line 4: not JSON \(RecursionError"):
        load(tmp_path)


def test_a_line_past_the_limit_is_a_data_error_and_costs_no_more_than_the_limit(tmp_path):
    """A gzip bomb: one 64 MiB line of spaces (a few hundred KB compressed). Reading it whole would hold ≥ 64 MiB
    as one str; read up to MAX_REVIEW (1 MiB) characters, the peak of traced allocations stays far below 16 MiB."""
    data = tiny_reviews(tmp_path / "data", n=8)
    with gzip.open(data / "test.jsonl.gz", "ab", compresslevel=1) as f:
        for _ in range(64):
            f.write(b" " * (1 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"test.jsonl.gz, line 9: longer than {MAX_REVIEW:,} characters"):
            load(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


# ---------------------------------------------------------------------------------- the word index

INDICES = [("[" * 100_000 + "]" * 100_000, "not a JSON word index"),
           ('{"film": 1.0, "the": 2}', "of int ranks"),
           ('{"film": true, "the": 2}', "of int ranks"),
           ('{"film": Infinity, "the": 1}', "of int ranks"),
           ('{"film": 1, "the": 1}', "to the ranks 1..N, each rank once"),
           ('{"film": 1, "the": 3}', "to the ranks 1..N, each rank once"),
           ('[["film", 1]]', "of int ranks"),
           ('"film"', "of int ranks"),
           ("\xff\xfe", "not a JSON word index")]


@pytest.mark.parametrize("text, words", INDICES)
def test_a_broken_word_index_is_a_data_error_naming_it(tmp_path, text, words):
    data = tiny_reviews(tmp_path / "data", n=8)
    (data / "imdb_word_index.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match=f"imdb_word_index.json .*{words.replace('.', '[.]')}"):
        load(tmp_path)


def test_a_word_index_past_its_limit_is_a_data_error(tmp_path):
    data = tiny_reviews(tmp_path / "data", n=8)
    with open(data / "imdb_word_index.json", "wb") as f:
        f.truncate(MAX_INDEX + 1)  # sparse: costs no disk
    with pytest.raises(DataError, match=f"imdb_word_index.json holds more than {MAX_INDEX:,} bytes"):
        load(tmp_path)


def test_a_valid_word_index_still_ranks_the_words(tmp_path):
    """The control: the ranks written are the ranks read."""
    data = tiny_reviews(tmp_path / "data", n=8)
    ranks = {"great": 1, "awful": 2, "the": 3}
    (data / "imdb_word_index.json").write_text(json.dumps(ranks))
    assert load(tmp_path).vocabulary.word_index == ranks


# ---------------------------------------------------------------------------------- the archive and the folder layout

def tar_gz(path, extra=()):
    """An aclImdb_v1.tar.gz of one review per split and label, plus `extra` TarInfo/bytes pairs; its sha256."""
    members = []
    for split in ("train", "test"):
        for label, word in (("pos", "great"), ("neg", "awful")):
            members.append((tarfile.TarInfo(f"aclImdb/{split}/{label}/1_5.txt"), f"the film was {word}".encode()))
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in [*members, *extra]:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _link(name):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/dev/zero"
    return info


@pytest.mark.parametrize("extra, words", [
    ((tarfile.TarInfo(f"aclImdb/train/pos/{'1' * 5000}_7.txt"), b"the film"), "the review id has 5,000 digits"),
    ((tarfile.TarInfo("aclImdb/train/pos/2_7.txt"), b" " * (MAX_REVIEW + 1)),
     f"holds {MAX_REVIEW + 1:,} bytes; a review may hold {MAX_REVIEW:,}"),
    ((_link("aclImdb/train/neg/2_1.txt"), b""), "is not a regular file"),
    ((tarfile.TarInfo("aclImdb/" + "x" * 10_000 + "/../evil.txt"), b"evil"), "refusing the archive member"),
])
def test_an_archive_member_with_an_absurd_name_or_size_is_a_data_error_in_one_short_line(tmp_path, extra, words):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    sha = tar_gz(archive, [extra])
    with pytest.raises(DataError) as e:
        imdb.load(url=archive.as_uri(), sha256=sha, cache_dir=tmp_path / "cache", progress=False)
    message = str(e.value)
    assert words in message and "\n" not in message and len(message) < 400, message


def test_the_archive_of_valid_members_loads_its_labels(tmp_path):
    """The control: two reviews per split, one of each label."""
    archive = tmp_path / "aclImdb_v1.tar.gz"
    sha = tar_gz(archive)
    d = imdb.load(url=archive.as_uri(), sha256=sha, cache_dir=tmp_path / "cache", progress=False)
    assert sorted(d.y_train.tolist()) == sorted(d.y_test.tolist()) == [0, 1]


def aclimdb(folder):
    for split in ("train", "test"):
        for label, word in (("pos", "great"), ("neg", "awful")):
            (folder / "aclImdb" / split / label).mkdir(parents=True)
            (folder / "aclImdb" / split / label / "1_5.txt").write_text(f"the film was {word}")
    return folder / "aclImdb"


def _fifo(path):
    os.mkfifo(path)


def _dev_zero(path):
    path.symlink_to("/dev/zero")


@posix
@pytest.mark.parametrize("make", [_fifo, _dev_zero])
def test_a_fifo_or_device_among_the_review_files_is_a_data_error_not_a_hang(tmp_path, make):
    root = aclimdb(tmp_path / "data")
    make(root / "train" / "pos" / "2_7.txt")
    with no_hang(), pytest.raises(DataError, match="2_7.txt is not a regular file"):
        load(tmp_path)


@pytest.mark.parametrize("name, size, words", [
    ("2_7.txt", MAX_REVIEW + 1, f"holds more than {MAX_REVIEW:,} bytes"),
    (f"{'1' * 200}_7.txt", 10, "the review id has 200 digits"),
])
def test_a_review_file_past_its_limit_or_with_an_absurd_id_is_a_data_error(tmp_path, name, size, words):
    root = aclimdb(tmp_path / "data")
    (root / "train" / "pos" / name).write_bytes(b" " * size)
    with pytest.raises(DataError, match=words):
        load(tmp_path)


def test_an_empty_data_dir_is_refused_not_read_as_the_current_folder(tmp_path):
    for name in ("data_dir", "cache_dir"):
        with pytest.raises(ValueError, match=f"{name} must be a folder path, got ''"):
            imdb.load(**{name: ""}, download=False)


def test_rnnlab_imdb_on_a_bad_label_exits_1_with_one_line_naming_file_and_line(tmp_path, capsys):
    data = tiny_reviews(tmp_path / "data", n=8)
    replace_line(data, "train", 3, review(label="0.9"))
    with pytest.raises(SystemExit) as e:
        main(["imdb", "--data-dir", str(data), "--store", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 1
    assert err == f"rnnlab: {data / 'train.jsonl.gz'}, line 3: label must be the int 0 or 1, got 0.9\n"
