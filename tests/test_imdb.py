"""rnnlab.imdb on tiny reviews built in tmp_path; the oracle is the shared README's recipe applied by hand.

The README's recipe: lower-case; replace each of !"#$%&()*+,-./:;<=>?@[\\]^_`{|}~ and tab and newline with a space;
split on whitespace; id = word_index[w] + 3; 0 pad, 1 start, 2 out of vocabulary (also ids >= num_words).
Keras' load_data shuffles train, then test, with one np.random.RandomState(113).
"""
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import socket
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlab import imdb
from rnnlab.imdb import (URL, DataError, ChecksumError, DataNotFound, Vocabulary, default_cache_dir, download,
                         find_data_dir, load, pad_sequences, tokenize)

# (split, label) → [(id, rating, text)]; ids 2 and 10 pin the numeric (not string) order of file ids.
REVIEWS = {
    ("train", "neg"): [(10, 1, "Bad, bad movie!<br /><br />Don't."), (2, 3, "The plot was BAD.")],
    ("train", "pos"): [(0, 9, "The movie was great!"), (1, 10, "Great\tplot;\nthe (great) movie")],
    ("test", "neg"): [(0, 2, "was the movie bad? Yes.")],
    ("test", "pos"): [(7, 8, "don't-miss it"), (3, 7, "GREAT movie")],
}
WORD_INDEX = {"the": 1, "movie": 2, "was": 3, "great": 4, "br": 5, "don't": 6, "bad": 7, "plot": 8}

# Hand-computed, rows in canonical order (negatives then positives, each by ascending id).
# Keras' word index, num_words=None: the 4, movie 5, was 6, great 7, br 8, don't 9, bad 10, plot 11; else 2.
KERAS_ALL = {
    "train": [[1, 4, 11, 6, 10], [1, 10, 10, 5, 8, 8, 9], [1, 4, 5, 6, 7], [1, 7, 11, 4, 7, 5]],
    "test": [[1, 6, 4, 5, 10, 2], [1, 7, 5], [1, 9, 2, 2]],
}
# The same with num_words=9: don't, bad, plot (ids 9, 10, 11) become 2.
KERAS_9 = {
    "train": [[1, 4, 2, 6, 2], [1, 2, 2, 5, 8, 8, 2], [1, 4, 5, 6, 7], [1, 7, 2, 4, 7, 5]],
    "test": [[1, 6, 4, 5, 2, 2], [1, 7, 5], [1, 2, 2, 2]],
}
# No word index: train counts bad 3, great 3, movie 3, the 3, br 2, plot 2, was 2, don't 1 → ranks 1..8 (ties
# alphabetical) → ids bad 4, great 5, movie 6, the 7, br 8, plot 9, was 10, don't 11; yes, miss, it: test only.
BUILT_INDEX = {"bad": 1, "great": 2, "movie": 3, "the": 4, "br": 5, "plot": 6, "was": 7, "don't": 8}
BUILT_ALL = {
    "train": [[1, 7, 9, 10, 4], [1, 4, 4, 6, 8, 8, 11], [1, 7, 6, 10, 5], [1, 5, 9, 7, 5, 6]],
    "test": [[1, 10, 7, 6, 4, 2], [1, 5, 6], [1, 11, 2, 2]],
}
LABELS = {"train": [0, 0, 1, 1], "test": [0, 1, 1]}


def keras_order():
    """The oracle for the shuffle: load_data's rng.shuffle of arange(n), train first, then test."""
    rng = np.random.RandomState(113)
    orders = {}
    for split in ("train", "test"):
        orders[split] = np.arange(len(LABELS[split]))
        rng.shuffle(orders[split])
    return orders


def expected_arrays(rows, maxlen, padding="pre", truncating="pre"):
    """x and y as Keras would give them, padded by an explicit list operation."""
    out = {}
    for split, order in keras_order().items():
        x = []
        for i in order:
            seq = rows[split][i][-maxlen:] if truncating == "pre" else rows[split][i][:maxlen]
            pad = [0] * (maxlen - len(seq))
            x.append(pad + seq if padding == "pre" else seq + pad)
        out[split] = (np.array(x, dtype=np.int64), np.array(LABELS[split], dtype=np.int64)[order])
    return out


def files_of(reviews):
    for (split, label), rows in reviews.items():
        for id_, rating, text in rows:
            yield f"{split}/{label}/{id_}_{rating}.txt", text


def make_jsonl(folder, reviews=REVIEWS, word_index=WORD_INDEX):
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            for label in ("pos", "neg"):  # not the canonical order: load must sort
                for id_, rating, text in reviews[(split, label)]:
                    f.write(json.dumps({"text": text, "label": int(label == "pos"), "id": id_, "rating": rating}))
                    f.write("\n")
    if word_index is not None:
        (folder / "imdb_word_index.json").write_text(json.dumps(word_index))
    return folder


def make_folder(folder, reviews=REVIEWS, word_index=None, top="aclImdb"):
    for name, text in files_of(reviews):
        path = folder / top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if word_index is not None:
        (folder / "imdb_word_index.json").write_text(json.dumps(word_index))
    return folder


def make_archive(path, reviews=REVIEWS, extra=()):
    """An official-layout aclImdb_v1.tar.gz, with the members load must skip; returns its sha256 (hashlib)."""
    members = [(f"aclImdb/{name}", text) for name, text in files_of(reviews)]
    members += [("aclImdb/README", "readme"), ("aclImdb/train/unsup/0_0.txt", "the unlabelled movie"),
                ("aclImdb/train/urls_pos.txt", "http://www.imdb.com/title/tt0000001/usercomments")]
    members += list(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_arrays(d, expected):
    for split in ("train", "test"):
        x, y = expected[split]
        np.testing.assert_array_equal(getattr(d, f"x_{split}"), x)
        np.testing.assert_array_equal(getattr(d, f"y_{split}"), y)
        assert getattr(d, f"x_{split}").dtype == np.int64 and getattr(d, f"y_{split}").dtype == np.int64


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    """No test sees the user's $RNNLAB_IMDB_DIR, cache or temp folder."""
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "home"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A static http.server on 127.0.0.1 in a thread; yields (folder it serves, base url, list of GET paths)."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).rglob("*")) if Path(folder).exists() else []


# --- the tokenizer and padding, against the README and hand-made arrays -----------------------------------------

def test_tokenize_lowercases_replaces_every_readme_filter_character_and_keeps_the_apostrophe():
    readme_filters = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
    text = "".join(f"W{i}{ch}" for i, ch in enumerate(readme_filters)) + "Don't  stop"
    assert tokenize(text) == [f"w{i}" for i in range(len(readme_filters))] + ["don't", "stop"]
    assert tokenize("<br /><br />a") == ["br", "br", "a"]
    with pytest.raises(TypeError, match="text"):
        tokenize(b"bytes")


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[1, 2, 3], [0, 0, 4], [7, 8, 9]]),
    ("post", "pre", [[1, 2, 3], [4, 0, 0], [7, 8, 9]]),
    ("pre", "post", [[1, 2, 3], [0, 0, 4], [5, 6, 7]]),
    ("post", "post", [[1, 2, 3], [4, 0, 0], [5, 6, 7]]),
])
def test_pad_sequences_pads_and_truncates_like_keras_hand_made(padding, truncating, expected):
    x = pad_sequences([[1, 2, 3], [4], [5, 6, 7, 8, 9]], maxlen=3, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(x, expected)
    assert x.dtype == np.int64


def test_pad_sequences_without_maxlen_uses_the_longest_and_fills_value():
    np.testing.assert_array_equal(pad_sequences([[1, 2], [3]], value=-1), [[1, 2], [-1, 3]])
    np.testing.assert_array_equal(pad_sequences([[1, 2], []], maxlen=4, padding="post"), [[1, 2, 0, 0], [0] * 4])
    with pytest.raises(ValueError, match="padding.*'pre', 'post'.*'middle'"):
        pad_sequences([[1]], 2, padding="middle")
    with pytest.raises(ValueError, match="maxlen must be >= 1, got 0"):
        pad_sequences([[1]], 0)


# --- encoding: the README's recipe by hand ------------------------------------------------------------------------

@pytest.mark.parametrize("num_words, rows", [(None, KERAS_ALL), (9, KERAS_9)])
def test_jsonl_with_keras_word_index_encodes_as_the_readme_recipe_by_hand(tmp_path, num_words, rows):
    d = load(num_words=num_words, maxlen=8, data_dir=make_jsonl(tmp_path / "data"), download=False,
             progress=False, cache_dir=tmp_path / "cache")
    assert_arrays(d, expected_arrays(rows, 8))
    assert d.vocabulary.word_index == WORD_INDEX
    assert len(d.vocabulary) == (len(WORD_INDEX) + 4 if num_words is None else num_words)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_load_pads_and_truncates_every_review_like_the_explicit_list_oracle(tmp_path, padding, truncating):
    d = load(num_words=None, maxlen=4, data_dir=make_jsonl(tmp_path / "data"), padding=padding,
             truncating=truncating, progress=False, cache_dir=tmp_path / "cache")
    assert_arrays(d, expected_arrays(KERAS_ALL, 4, padding, truncating))


def test_maxlen_none_pads_to_the_longest_review_plus_the_start_token(tmp_path):
    d = load(num_words=None, maxlen=None, data_dir=make_jsonl(tmp_path / "data"), cache_dir=tmp_path / "cache")
    assert d.maxlen == 7 and d.x_test.shape == (3, 7)  # longest: "bad bad movie br br don't" + start
    assert_arrays(d, expected_arrays(KERAS_ALL, 7))


@pytest.mark.parametrize("layout", ["jsonl", "folder", "folder-without-top"])
def test_without_word_index_words_are_ranked_by_train_frequency_ties_alphabetical(tmp_path, layout):
    data = tmp_path / "data"
    if layout == "jsonl":
        make_jsonl(data, word_index=None)
    else:
        make_folder(data, top="aclImdb" if layout == "folder" else "")
    d = load(num_words=None, maxlen=8, data_dir=data, download=False, progress=False, cache_dir=tmp_path / "cache")
    assert d.vocabulary.word_index == BUILT_INDEX
    assert_arrays(d, expected_arrays(BUILT_ALL, 8))


def test_folder_layout_with_word_index_encodes_like_the_jsonl_layout(tmp_path):
    d = load(num_words=9, maxlen=8, data_dir=make_folder(tmp_path / "data", word_index=WORD_INDEX),
             progress=False, cache_dir=tmp_path / "cache")
    assert_arrays(d, expected_arrays(KERAS_9, 8))


def test_encode_a_typed_review_and_decode_it_back(tmp_path):
    d = load(num_words=9, maxlen=6, data_dir=make_jsonl(tmp_path / "data"), cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(d.encode("The movie, BAD!"), [0, 0, 1, 4, 5, 2])  # bad: id 10 >= 9
    np.testing.assert_array_equal(d.encode("great " * 10), [7] * 6)
    assert d.vocabulary.encode("the unknownword") == [1, 4, 2]
    assert d.decode([0, 0, 1, 4, 5, 2, 3]) == "<start> the movie <oov> <unused>"
    assert d.vocabulary["br"] == 8 and d.vocabulary["bad"] == 2 and "bad" not in d.vocabulary
    with pytest.raises(ValueError, match=r"ids must be integers in \[0, 9\)"):
        d.decode([9])


def test_vocabulary_keeps_ranks_below_num_words_minus_index_from():
    v = Vocabulary(["a", "b", "c"], num_words=6)
    assert v.word_to_id == {"a": 4, "b": 5} and v.id_to_word == ["<pad>", "<start>", "<oov>", "<unused>", "a", "b"]
    assert len(Vocabulary(["a", "b", "c"])) == 7
    with pytest.raises(ValueError, match="num_words must be >= 4, got 3"):
        Vocabulary(["a"], num_words=3)


# --- the official archive: download, checksum, cache ------------------------------------------------------------

def test_archive_over_file_url_is_checked_read_cached_and_reused_without_the_archive(tmp_path):
    archive = tmp_path / "mirror" / "aclImdb_v1.tar.gz"
    sha = make_archive(archive)
    cache = tmp_path / "cache"
    first = load(num_words=None, maxlen=8, url=archive.as_uri(), sha256=sha, cache_dir=cache, progress=False)
    assert_arrays(first, expected_arrays(BUILT_ALL, 8))  # unsup/, README and urls_*.txt were skipped
    assert first.source == archive.as_uri()
    assert leftovers(cache) == [f"aclImdb_v1-{sha[:16]}.npz"] and leftovers(tmp_path / "tmp") == []
    archive.unlink()
    second = load(num_words=None, maxlen=8, url=archive.as_uri(), sha256=sha, cache_dir=cache, progress=False)
    assert_arrays(second, expected_arrays(BUILT_ALL, 8))


def test_archive_over_local_http_server_is_downloaded_once(tmp_path, server):
    root, base, requests = server
    sha = make_archive(root / "aclImdb_v1.tar.gz")
    for _ in range(2):
        d = load(num_words=None, maxlen=8, url=f"{base}/aclImdb_v1.tar.gz", sha256=sha, progress=False)
        assert_arrays(d, expected_arrays(BUILT_ALL, 8))
    assert requests == ["/aclImdb_v1.tar.gz"]
    assert leftovers(tmp_path / "home" / "imdb") == [f"aclImdb_v1-{sha[:16]}.npz"]  # $RNNLAB_HOME/imdb


def test_download_writes_dest_only_when_the_sha256_matches(tmp_path, server):
    root, base, _ = server
    (root / "f.bin").write_bytes(b"x" * 3_000_000)
    sha = hashlib.sha256(b"x" * 3_000_000).hexdigest()
    dest = download(f"{base}/f.bin", tmp_path / "out" / "f.bin", sha.upper(), progress=False)
    assert dest.read_bytes() == b"x" * 3_000_000 and leftovers(tmp_path / "out") == ["f.bin"]
    with pytest.raises(ChecksumError, match=f"sha256 {sha}, expected {'0' * 64}"):
        download(f"{base}/f.bin", tmp_path / "bad" / "f.bin", "0" * 64, progress=False)
    assert leftovers(tmp_path / "bad") == []


def test_checksum_mismatch_raises_and_leaves_no_cache_or_temp_files(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    make_archive(archive)
    with pytest.raises(ChecksumError, match="expected f{64}"):
        load(url=archive.as_uri(), sha256="f" * 64, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() and leftovers(tmp_path / "tmp") == []


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_archive_with_matching_checksum_raises_data_error_and_leaves_nothing(tmp_path, damage):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    make_archive(archive)
    data = archive.read_bytes()
    archive.write_bytes(b"not a tar.gz at all" * 100 if damage == "garbage" else data[: len(data) // 2])
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="not a readable .tar.gz archive"):
        load(url=archive.as_uri(), sha256=sha, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() and leftovers(tmp_path / "tmp") == []


@pytest.mark.parametrize("name", ["aclImdb/../evil.txt", "/evil/train/pos/5_9.txt", "aclImdb/train/pos/../../../evil",
                                  "C:/evil/train/pos/5_9.txt"])
def test_archive_member_with_dotdot_or_absolute_path_is_refused(tmp_path, name):
    archive = tmp_path / "mirror" / "aclImdb_v1.tar.gz"
    sha = make_archive(archive, extra=[(name, "the evil movie")])
    with pytest.raises(DataError, match="refusing the archive member"):
        load(url=archive.as_uri(), sha256=sha, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() and leftovers(tmp_path / "tmp") == []
    assert not any("evil" in p for p in leftovers(tmp_path))


def test_archive_without_a_split_raises_data_error(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    sha = make_archive(archive, reviews={k: v for k, v in REVIEWS.items() if k != ("test", "pos")})
    with pytest.raises(DataError, match="no test/pos reviews"):
        load(url=archive.as_uri(), sha256=sha, cache_dir=tmp_path / "cache", progress=False)


# --- where the data is found, and what is said when it is not ---------------------------------------------------

def test_rnnlab_imdb_dir_is_found_and_used(tmp_path, monkeypatch):
    assert find_data_dir() is None
    data = make_jsonl(tmp_path / "data")
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(data))
    assert find_data_dir() == data
    d = load(num_words=9, maxlen=8, download=False, cache_dir=tmp_path / "cache")
    assert d.source == str(data)
    assert_arrays(d, expected_arrays(KERAS_9, 8))


def test_no_data_and_no_download_raises_data_not_found_naming_env_var_cache_and_url(tmp_path):
    with pytest.raises(DataNotFound) as info:
        load(download=False)
    assert isinstance(info.value, FileNotFoundError)
    for needed in ("$RNNLAB_IMDB_DIR", "data_dir=", str(tmp_path / "home" / "imdb"), URL):
        assert needed in str(info.value)
    assert leftovers(tmp_path / "home") == []


def test_unreachable_url_raises_data_not_found_not_a_urllib_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for url in (f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz", (tmp_path / "missing.tar.gz").as_uri()):
        with pytest.raises(DataNotFound, match=f"could not download {re.escape(url)}.*RNNLAB_IMDB_DIR"):
            load(url=url, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() and leftovers(tmp_path / "tmp") == []


def test_http_404_raises_data_not_found_with_the_status(tmp_path, server):
    _, base, _ = server
    with pytest.raises(DataNotFound, match="404"):
        load(url=f"{base}/nothing.tar.gz", cache_dir=tmp_path / "cache", progress=False)


def test_data_dir_without_reviews_raises_data_not_found_naming_it(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFound, match="data_dir = .*empty.* holds neither train.jsonl.gz"):
        load(data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache")
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFound, match=r"\$RNNLAB_IMDB_DIR = .*nowhere.* is not a folder"):
        load(cache_dir=tmp_path / "cache")


def test_malformed_jsonl_line_raises_data_error_with_file_and_line(tmp_path):
    data = make_jsonl(tmp_path / "data")
    with gzip.open(data / "test.jsonl.gz", "at", encoding="utf-8") as f:
        f.write('{"text": "no label"}\n')
    with pytest.raises(DataError, match=r"test.jsonl.gz, line 4: expected a JSON object"):
        load(data_dir=data, cache_dir=tmp_path / "cache")


def test_default_cache_dir_prefers_rnnlab_home_then_xdg_cache_home_then_home_cache(tmp_path, monkeypatch):
    assert default_cache_dir() == tmp_path / "home" / "imdb"
    monkeypatch.delenv("RNNLAB_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "rnnlab" / "imdb"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # the XDG spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_cache_dir() == tmp_path / "user" / ".cache" / "rnnlab" / "imdb"


# --- the cache of a data_dir ---------------------------------------------------------------------------------------

def test_data_dir_is_tokenised_once_and_rebuilt_when_its_files_change(tmp_path, monkeypatch):
    data, cache = make_jsonl(tmp_path / "data"), tmp_path / "cache"
    load(num_words=9, maxlen=8, data_dir=data, cache_dir=cache)
    assert len(leftovers(cache)) == 1

    def no_reading(folder):
        raise AssertionError("read the reviews although they are cached")

    with monkeypatch.context() as m:
        m.setattr(imdb, "_read_jsonl", no_reading)
        assert_arrays(load(num_words=9, maxlen=8, data_dir=data, cache_dir=cache), expected_arrays(KERAS_9, 8))
    (data / "imdb_word_index.json").write_text(json.dumps({**WORD_INDEX, "yes": 9}))  # "yes" → id 12 with all words
    d = load(num_words=None, maxlen=8, data_dir=data, cache_dir=cache)
    assert d.x_test[list(keras_order()["test"]).index(0), -1] == 12
    assert len(leftovers(cache)) == 2


def test_unreadable_cache_is_rebuilt_and_unwritable_cache_only_warns(tmp_path):
    data, cache = make_jsonl(tmp_path / "data"), tmp_path / "cache"
    load(data_dir=data, cache_dir=cache)
    (cache / leftovers(cache)[0]).write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="ignoring the unreadable IMDB cache"):
        d = load(num_words=9, maxlen=8, data_dir=data, cache_dir=cache)
    assert_arrays(d, expected_arrays(KERAS_9, 8))
    assert_arrays(load(num_words=9, maxlen=8, data_dir=data, cache_dir=cache), expected_arrays(KERAS_9, 8))
    (tmp_path / "a_file").write_text("")
    with pytest.warns(UserWarning, match="could not cache"):
        d = load(num_words=9, maxlen=8, data_dir=data, cache_dir=tmp_path / "a_file" / "cache")
    assert_arrays(d, expected_arrays(KERAS_9, 8))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_words": 3}, ValueError, "num_words must be >= 4, got 3"),
    ({"num_words": 1.5}, TypeError, "num_words must be an int, got 1.5"),
    ({"maxlen": 0}, ValueError, "maxlen must be >= 1, got 0"),
    ({"padding": "middle"}, ValueError, "padding must be one of 'pre', 'post', got 'middle'"),
    ({"truncating": None}, ValueError, "truncating must be one of 'pre', 'post', got None"),
    ({"download": "yes"}, TypeError, "download must be True or False, got 'yes'"),
    ({"data_dir": 3}, TypeError, "data_dir must be a path"),
    ({"sha256": "abc"}, ValueError, "sha256 must be 64 hexadecimal digits, got 'abc'"),
])
def test_bad_arguments_raise_naming_the_argument_and_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        load(**kwargs)


# --- the real reviews, when they are around -------------------------------------------------------------------------

def real_data_dir():
    env = os.environ.get("RNNLAB_IMDB_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"


@pytest.mark.slow
def test_real_imdb_shapes_balance_and_most_frequent_words_in_rank_order(tmp_path):
    """Oracles: the aclImdb counts (12,500 per class) and the shared README's checked numbers."""
    folder = real_data_dir()
    if not folder.is_dir():
        pytest.skip(f"the real IMDB reviews are not at {folder} (set RNNLAB_IMDB_DIR to run this test)")
    start = time.perf_counter()
    d = load(data_dir=folder, cache_dir=tmp_path, progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    cached = load(data_dir=folder, cache_dir=tmp_path, progress=False)
    again = time.perf_counter() - start
    print(f"IMDB load: {first:.1f} s from {folder}, {again:.2f} s from the cache")
    np.testing.assert_array_equal(cached.x_train, d.x_train)
    assert d.x_train.shape == d.x_test.shape == (25000, 500)
    assert np.bincount(d.y_train).tolist() == np.bincount(d.y_test).tolist() == [12500, 12500]
    assert d.x_train.min() == 0 and d.x_train.max() <= 9999 and (d.x_train == 2).any()

    full = load(num_words=None, maxlen=None, data_dir=folder, cache_dir=tmp_path, progress=False)
    counts = np.bincount(full.x_train.ravel())
    assert counts[1] == 25000  # one start token a review
    assert (np.argsort(-counts[3:], kind="stable")[:12] + 3).tolist() == list(range(4, 16))
    if (folder / "imdb_word_index.json").is_file():  # the README's numbers hold for Keras' index only
        assert full.decode(range(4, 11)) == "the and a of to is br"
        assert counts[2] == 29 and counts[2] + counts[4:].sum() == 5_942_872
