"""The IMDB movie reviews (Maas et al., ACL 2011), encoded the way Keras encodes them for the lecture's SimpleRNN.

A review becomes the token ids x_0, x_1, ..., x_{T-1} that the embedding turns into the inputs x_t:

    words  = split_on_whitespace(replace(FILTERS → " ", lower(text)))       (the apostrophe is kept)
    id(w)  = word_index[w] + 3         where word_index[w] = rank of w, 1 = most frequent
    id(w)  = 2 (out of vocabulary)     when w is not in word_index, or when id(w) >= num_words
    x      = [1 (start)] + [id(w) for w in words], then padded with 0 / truncated to maxlen

so 0 = padding, 1 = start, 2 = out of vocabulary, 3 = unused (Keras' index_from=3). Keras' word index
(`imdb_word_index.json`) is used when it lies next to the reviews; otherwise the index is built from the train
words' frequencies (ties in alphabetical order; Keras' own ties follow no visible order). Each split is shuffled as
keras.datasets.imdb.load_data does: one np.random.RandomState(113), the train order drawn first, then the test
order, from the order "negatives, then positives, each by ascending file id". Unlike load_data, reviews longer
than maxlen are truncated (pad_sequences), not dropped.

Where the reviews come from, in this order:
  1. `data_dir=` or $RNNLAB_IMDB_DIR: train.jsonl.gz + test.jsonl.gz ({"text", "label", "id", "rating"} a line),
     or the official folder layout aclImdb/{train,test}/{pos,neg}/ID_RATING.txt (with or without the aclImdb/);
  2. the cache (`cache_dir=`, else $RNNLAB_HOME/imdb, else $XDG_CACHE_HOME/rnnlab/imdb or ~/.cache/rnnlab/imdb);
  3. with download=True, the official archive URL, checked against SHA256 before it is read.
Whatever is read is tokenised once and cached as an .npz of word ranks (num_words and maxlen are applied at load
time, so one cached copy serves every setting).
"""
import gzip
import hashlib
import json
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from http.client import HTTPException
from itertools import repeat
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from . import checks, files

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ENV_DIR = "RNNLAB_IMDB_DIR"
FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Keras' Tokenizer filters: every punctuation mark but '
PAD, START, OOV, INDEX_FROM = 0, 1, 2, 3
RESERVED = ("<pad>", "<start>", "<oov>", "<unused>")
SEED = 113
SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
SIDES = ("pre", "post")
_FORMAT = 1  # bump when the cached .npz or the tokenizer changes, so old caches are rebuilt
# What one piece of the input may cost, far above the real data (the longest review has 13,704 characters, Keras'
# word index 1.6 MB) and far below what would exhaust memory: a JSON line or review file, and the word index.
MAX_REVIEW = 1 << 20  # characters of a JSON line (newline included), bytes of a review file or archive member
MAX_INDEX = 1 << 26  # bytes of imdb_word_index.json
_MEMBER = re.compile(r"(?:aclImdb/)?(train|test)/(pos|neg)/(\d+)_(\d+)\.txt")
_FILE = re.compile(r"(\d+)_(\d+)\.txt")
_TABLE = str.maketrans(FILTERS, " " * len(FILTERS))


class DataNotFound(FileNotFoundError):
    """The reviews are nowhere: not in data_dir / $RNNLAB_IMDB_DIR, not in the cache, and not downloadable."""


class DataError(ValueError):
    """The reviews are there but unusable: a corrupt archive or file, an unsafe archive member, a split missing."""


class ChecksumError(DataError):
    """A downloaded file's sha256 is not the expected one."""


def tokenize(text):
    """The README's recipe (Keras' text_to_word_sequence, but splitting on any whitespace): lower-case, replace
    each FILTERS character with a space, split on whitespace."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text.lower().translate(_TABLE).split()


def pad_sequences(sequences, maxlen=None, padding="pre", truncating="pre", value=0):
    """Keras' pad_sequences: one int64 row of length maxlen (default: the longest) per sequence.

    truncating="pre" drops the start of a sequence longer than maxlen, "post" its end; padding="pre" fills
    `value` in front of a shorter sequence, "post" behind it.
    """
    checks.choice("padding", padding, SIDES)
    checks.choice("truncating", truncating, SIDES)
    sequences = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    else:
        checks.integer("maxlen", maxlen, 1)
    out = np.full((len(sequences), maxlen), value, dtype=np.int64)
    for row, s in zip(out, sequences):
        s = s[max(0, len(s) - maxlen):] if truncating == "pre" else s[:maxlen]
        if padding == "pre":
            row[maxlen - len(s):] = s
        else:
            row[:len(s)] = s
    return out


class Vocabulary:
    """word ↔ id as the arrays use them: id = rank + 3 for the words whose id < num_words, and the reserved ids.

    word_index: word → rank (1 = most frequent), the whole index (Keras' get_word_index() when it was found).
    word_to_id: word → id for the kept words; every other word encodes as OOV = 2.
    id_to_word: id → word, with "<pad>", "<start>", "<oov>", "<unused>" for 0..3.
    len(vocabulary): the number of ids an embedding needs (num_words, or the largest id + 1 when num_words=None).
    """

    def __init__(self, words, num_words=None):
        if num_words is not None:
            checks.integer("num_words", num_words, INDEX_FROM + 1)
        self.num_words = num_words
        self.size = len(words) + INDEX_FROM + 1 if num_words is None else num_words
        kept = list(words[:max(0, self.size - INDEX_FROM - 1)])
        self.word_index = {w: r for r, w in enumerate(words, 1)}
        self.word_to_id = {w: r + INDEX_FROM for r, w in enumerate(kept, 1)}
        self.id_to_word = list(RESERVED) + kept

    def __len__(self):
        return self.size

    def __getitem__(self, word):
        return self.word_to_id.get(word, OOV)

    def __contains__(self, word):
        return word in self.word_to_id

    def __repr__(self):
        return f"Vocabulary(words={len(self.word_index)}, num_words={self.num_words})"

    def encode(self, text):
        """[1] + the ids of tokenize(text): a typed review, unpadded."""
        return [START] + [self[w] for w in tokenize(text)]

    def decode(self, ids):
        """The words of `ids` joined by spaces; padding (0) is left out, 1..3 read "<start>", "<oov>", "<unused>"."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must be integers in [0, {self.size}), got {ids.tolist()[:20]}")
        return " ".join(self.id_to_word[i] if i < len(self.id_to_word) else RESERVED[OOV] for i in ids if i != PAD)


@dataclass(frozen=True, eq=False)
class IMDB:
    """The encoded reviews: x_* (n, maxlen) int64 token ids, y_* (n,) int64 labels (1 = positive)."""

    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    vocabulary: Vocabulary
    maxlen: int
    padding: str = "pre"
    truncating: str = "pre"
    source: str = ""

    def encode(self, text):
        """A typed review as one model input row: (maxlen,) int64, padded and truncated like x_train."""
        return pad_sequences([self.vocabulary.encode(text)], self.maxlen, self.padding, self.truncating)[0]

    def decode(self, ids):
        return self.vocabulary.decode(ids)


def find_data_dir():
    """The folder named by $RNNLAB_IMDB_DIR, or None when it is unset (whether it holds the data is load's job)."""
    value = os.environ.get(ENV_DIR, "").strip()
    return Path(value).expanduser() if value else None


def default_cache_dir():
    """$RNNLAB_HOME/imdb, else $XDG_CACHE_HOME/rnnlab/imdb, else ~/.cache/rnnlab/imdb."""
    return files.home("imdb")


def load(num_words=10000, maxlen=500, data_dir=None, download=True, padding="pre", truncating="pre",
         progress=True, cache_dir=None, url=None, sha256=None):
    """The IMDB reviews as Keras' imdb.load_data + pad_sequences give them (see the module docstring).

    num_words: ids >= num_words become OOV = 2 (None keeps every word); maxlen: the row length (None: the longest
    review + 1). url / sha256 default to URL / SHA256. Raises DataNotFound when the reviews are nowhere and
    DataError (ChecksumError) when what was found or downloaded cannot be used.
    """
    if num_words is not None:
        checks.integer("num_words", num_words, INDEX_FROM + 1)
    if maxlen is not None:
        checks.integer("maxlen", maxlen, 1)
    checks.choice("padding", padding, SIDES)
    checks.choice("truncating", truncating, SIDES)
    for name, value in (("download", download), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    for name, value in (("data_dir", data_dir), ("cache_dir", cache_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path (str or os.PathLike) or None, got {type(value).__name__}")
        if value is not None and not os.fspath(value).strip():  # Path("") would be the current folder
            raise ValueError(f"{name} must be a folder path, got {os.fspath(value)!r}")
    url = URL if url is None else url
    sha256 = SHA256 if sha256 is None else _check_sha256(sha256)
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    # a data_dir that was named but holds no reviews is an error, not a reason to download
    folder, origin = find_data_dir(), f"${ENV_DIR}"
    if data_dir is not None:
        folder, origin = Path(data_dir).expanduser(), "data_dir"
    if folder is not None:
        corpus, source = _from_folder(folder, origin, cache, url, progress)
    else:
        corpus, source = _from_download(url, sha256, cache, download, progress)
    return _encode(corpus, num_words, maxlen, padding, truncating, source)


def download(url, dest, sha256, progress=True, timeout=60):
    """Fetch url (http(s):// or file://, `timeout` seconds per network wait) to dest, atomically, checking its
    sha256 before dest exists.

    Raises DataNotFound when the url cannot be read and ChecksumError on a mismatch; either way nothing is left
    behind (the bytes go to a temporary file next to dest, which is removed).
    """
    sha256 = _check_sha256(sha256)
    dest = Path(dest)
    digest = hashlib.sha256()
    with files.atomic_file(dest, "wb", suffix=".part") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                          disable=None if progress else True) as bar:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as err:
            reason = err.reason if type(err) is urllib.error.URLError else err  # HTTPError's str has the code
            raise DataNotFound(f"could not download {url}: {reason}") from err
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{url} has sha256 {digest.hexdigest()}, expected {sha256}: the download is "
                                "damaged or not the expected file; nothing was kept, try again")
    return dest


def _help(cache, url):
    return (f"Put the reviews in a folder and name it with ${ENV_DIR}=/path/to/folder (or load(data_dir=...)): "
            f"either train.jsonl.gz + test.jsonl.gz (+ imdb_word_index.json for Keras' word index), or the "
            f"unpacked aclImdb/ folder of {url}. Or call load(download=True) to download that archive "
            f"(84 MB, Maas et al., ACL 2011); it is read once and cached in {cache} (cache_dir=, $RNNLAB_HOME).")


def _from_folder(folder, origin, cache, url, progress):
    """Reviews from a folder (jsonl or aclImdb layout), tokenised once and cached under a fingerprint of its files."""
    if not folder.is_dir():
        raise DataNotFound(f"{origin} = {str(folder)!r} is not a folder. {_help(cache, url)}")
    jsonl = [folder / f"{split}.jsonl.gz" for split in SPLITS]
    root = folder / "aclImdb" if (folder / "aclImdb").is_dir() else folder
    layout_is_jsonl = all(p.is_file() for p in jsonl)
    if layout_is_jsonl:
        sources = list(jsonl)
    elif all((root / split / label).is_dir() for split in SPLITS for label in LABELS):
        sources = [Path(e.path) for split in SPLITS for label in LABELS for e in os.scandir(root / split / label)
                 if _FILE.fullmatch(e.name)]
    else:
        raise DataNotFound(f"{origin} = {str(folder)!r} holds neither train.jsonl.gz + test.jsonl.gz nor "
                           f"aclImdb/{{train,test}}/{{pos,neg}}/. {_help(cache, url)}")
    index = folder / "imdb_word_index.json"

    key = hashlib.sha256(f"{_FORMAT}\n{folder.resolve()}".encode())
    for p in sorted(sources) + ([index] if index.is_file() else []):
        st = p.stat()
        key.update(f"\n{p.relative_to(folder)} {st.st_size} {st.st_mtime_ns}".encode())
    cached = cache / f"imdb-{key.hexdigest()[:16]}.npz"
    corpus = _read_cache(cached)
    if corpus is None:
        reviews = _read_jsonl(folder) if layout_is_jsonl else _read_files(root, sources)
        words = _read_word_index(index) if index.is_file() else None
        corpus = _tokenise(reviews, words, progress)
        _write_cache(cached, corpus)
    return corpus, str(folder)


def _from_download(url, sha256, cache, allowed, progress):
    cached = cache / f"aclImdb_v1-{sha256[:16]}.npz"
    corpus = _read_cache(cached)
    if corpus is None:
        if not allowed:
            raise DataNotFound(f"The IMDB reviews are not in ${ENV_DIR} (unset) nor in the cache {cached}, and "
                               f"download=False. {_help(cache, url)}")
        # the archive itself is not kept: the tokenised copy is all load needs
        with tempfile.TemporaryDirectory(prefix="rnnlab-imdb-") as tmp:
            try:
                archive = download(url, Path(tmp) / "aclImdb_v1.tar.gz", sha256, progress)
            except DataNotFound as err:
                raise DataNotFound(f"{err}. {_help(cache, url)}") from err
            reviews = _read_archive(archive)
        corpus = _tokenise(reviews, None, progress)
        _write_cache(cached, corpus)
    return corpus, url


def _check_member(archive, name):
    if PurePosixPath(name).is_absolute() or re.match(r"[A-Za-z]:", name) or ".." in re.split(r"[/\\]", name):
        raise DataError(f"{archive}: refusing the archive member {checks.short(name)} (an absolute path or '..'); "
                        "the archive is not the expected one")


def _review_id(digits, where):
    """The id of ID_RATING.txt; more than 18 digits is no aclImdb id (and int() refuses 4,300 with a bare
    ValueError)."""
    if len(digits) > 18:
        raise DataError(f"{where}: the review id has {len(digits):,} digits; an aclImdb id has at most 18")
    return int(digits)


def _read_archive(path):
    """Reviews read straight from the tar.gz, nothing extracted; only {train,test}/{pos,neg}/ID_RATING.txt count."""
    reviews = {split: [] for split in SPLITS}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                _check_member(path, member.name)
                m = _MEMBER.fullmatch(member.name)
                if m is None:
                    continue  # unsup/, urls_*.txt, the vocabulary files: not needed
                if not member.isfile():
                    raise DataError(f"{path}: the archive member {checks.short(member.name)} is not a regular file")
                if member.size > MAX_REVIEW:
                    raise DataError(f"{path}: the archive member {checks.short(member.name)} holds {member.size:,} bytes; "
                                    f"a review may hold {MAX_REVIEW:,}")
                text = tar.extractfile(member).read().decode("utf-8", errors="replace")
                reviews[m[1]].append((LABELS[m[2]], _review_id(m[3], f"{path}: {checks.short(member.name)}"), text))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataError(f"{path} is not a readable .tar.gz archive ({err})") from err
    return _sorted(reviews, path)


def _read_files(root, files):
    """Reviews from root/{train,test}/{pos,neg}/ID_RATING.txt; `files` lists those paths."""
    reviews = {split: [] for split in SPLITS}
    for p in files:
        text = _read_bounded(p, MAX_REVIEW, "a review").decode("utf-8", errors="replace")
        label, id_ = LABELS[p.parent.name], _review_id(_FILE.fullmatch(p.name)[1], str(p))
        reviews[p.parent.parent.name].append((label, id_, text))
    return _sorted(reviews, root)


def _read_bounded(path, limit, what):
    """The bytes of the regular file `path` if it holds at most `limit`, else DataError saying it is `what`."""
    if not path.is_file():  # a FIFO would block, a device never end
        raise DataError(f"{path} is not a regular file")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err.strerror})") from err
    if len(data) > limit:
        raise DataError(f"{path} holds more than {limit:,} bytes, the most {what} may")
    return data


def _read_jsonl(folder):
    reviews = {}
    for split in SPLITS:
        path = folder / f"{split}.jsonl.gz"
        rows = []
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                # readline(limit): a line without end (a gzip bomb) costs MAX_REVIEW characters, not all memory
                for n, line in enumerate(iter(lambda: f.readline(MAX_REVIEW + 1), ""), 1):
                    if len(line) > MAX_REVIEW:
                        raise DataError(f"{path}, line {n}: longer than {MAX_REVIEW:,} characters, the most a "
                                        "review may take")
                    if line.strip():
                        rows.append(_json_review(line, f"{path}, line {n}", n))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            raise DataError(f"{path} is not a readable gzip'd JSON-lines file ({err})") from err
        reviews[split] = rows
    return _sorted(reviews, folder)


def _json_review(line, where, n):
    """(label, id, text) of one JSON line, the id defaulting to the line number n; DataError naming `where`."""
    try:
        r = json.loads(line)
    except (ValueError, RecursionError) as err:  # RecursionError: nested deeper than the parser goes
        raise DataError(f"{where}: not JSON ({type(err).__name__}: {err})") from err
    if not isinstance(r, dict) or "text" not in r or "label" not in r:
        raise DataError(f"{where}: expected a JSON object with \"text\", \"label\" (0 or 1) and \"id\", got "
                        f"{checks.short(r)}")
    label, id_, text = r["label"], r.get("id", n), r["text"]
    # exactly the ints 0 and 1: int() would turn 0.9, "1" and true into labels, and Infinity into an OverflowError
    if type(label) is not int or label not in (0, 1):
        raise DataError(f"{where}: label must be the int 0 or 1, got {checks.short(label)}")
    if type(id_) is not int:
        raise DataError(f"{where}: id must be an int, got {checks.short(id_)}")
    if not isinstance(text, str):
        raise DataError(f"{where}: text must be a string, got {checks.short(text)}")
    return label, id_, text


def _sorted(reviews, source):
    """(texts, labels) per split in the canonical order: negatives, then positives, each by ascending id."""
    out = {}
    for split in SPLITS:
        rows = sorted(reviews[split], key=lambda r: (r[0], r[1]))
        labels = np.array([r[0] for r in rows], dtype=np.int8)
        for name, label in LABELS.items():
            if not np.any(labels == label):
                raise DataError(f"{source} holds no {split}/{name} reviews")
        out[split] = ([r[2] for r in rows], labels)
    return out


def _read_word_index(path):
    """Keras' word index {word: rank} as the list of words by rank (the ranks must be the ints 1..N)."""
    data = _read_bounded(Path(path), MAX_INDEX, "a word index")
    try:
        index = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise DataError(f"{path} is not a JSON word index {{word: rank}} ({type(err).__name__}: {err})") from err
    if not isinstance(index, dict) or not all(type(r) is int for r in index.values()):
        raise DataError(f"{path} must be a JSON object {{word: rank}} of int ranks")
    words = sorted(index, key=index.__getitem__)
    if [index[w] for w in words] != list(range(1, len(words) + 1)) or any("\n" in w for w in words):
        raise DataError(f"{path} must map words (without newlines) to the ranks 1..N, each rank once")
    return words


def _tokenise(reviews, words, progress):
    """The corpus to cache: words by rank, and per split the flat word ranks (0 = not in the index),
    the review lengths and the labels. Without a word index, words are ranked by train frequency."""
    off = None if progress else True
    if words is None:
        counts = Counter()
        for text in tqdm(reviews["train"][0], desc="counting train words", unit="review", disable=off):
            counts.update(tokenize(text))
        words = sorted(counts, key=lambda w: (-counts[w], w))
    index = {w: r for r, w in enumerate(words, 1)}
    corpus = {"words": words}
    for split in SPLITS:
        texts, labels = reviews[split]
        ranks, lengths = array("i"), array("i")
        for text in tqdm(texts, desc=f"tokenising {split}", unit="review", disable=off):
            tokens = tokenize(text)
            ranks.extend(map(index.get, tokens, repeat(0)))
            lengths.append(len(tokens))
        corpus[f"{split}_ranks"] = np.asarray(ranks, dtype=np.int32)
        corpus[f"{split}_lengths"] = np.asarray(lengths, dtype=np.int32)
        corpus[f"{split}_labels"] = labels
    return corpus


def _write_cache(path, corpus):
    """np.savez to a temporary file in the same folder, fsync, os.replace; a cache that cannot be written only warns."""
    arrays = {k: v for k, v in corpus.items() if k != "words"}
    words = np.frombuffer("\n".join(corpus["words"]).encode("utf-8"), dtype=np.uint8)
    try:
        with files.atomic_file(path, "wb") as f:
            np.savez(f, format=np.int64(_FORMAT), words=words, **arrays)
    except OSError as err:
        warnings.warn(f"could not cache the tokenised IMDB reviews in {path} ({err}); they are read again next time")


def _read_cache(path):
    """The cached corpus, or None when there is none (or it is stale or unreadable: it is then rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != _FORMAT:
                return None
            text = z["words"].tobytes().decode("utf-8")
            corpus = {"words": text.split("\n") if text else []}
            for split in SPLITS:
                for part in ("ranks", "lengths", "labels"):
                    corpus[f"{split}_{part}"] = z[f"{split}_{part}"]
                if (corpus[f"{split}_lengths"].sum() != len(corpus[f"{split}_ranks"])
                        or len(corpus[f"{split}_lengths"]) != len(corpus[f"{split}_labels"])):
                    raise ValueError("inconsistent lengths")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"ignoring the unreadable IMDB cache {path} ({err}); rebuilding it")
        return None
    return corpus


def _encode(corpus, num_words, maxlen, padding, truncating, source):
    """Ranks → ids (rank + 3, OOV = 2 past num_words), start token, the Keras shuffle (seed 113), padding."""
    vocabulary = Vocabulary(corpus["words"], num_words)
    if maxlen is None:
        maxlen = 1 + max(int(corpus[f"{s}_lengths"].max(initial=0)) for s in SPLITS)
    rng = np.random.RandomState(SEED)
    arrays = []
    for split in SPLITS:
        ranks = corpus[f"{split}_ranks"].astype(np.int64)
        ids = ranks + INDEX_FROM
        ids[(ranks == 0) | (ids >= len(vocabulary))] = OOV
        reviews = np.split(ids, np.cumsum(corpus[f"{split}_lengths"])[:-1])
        order = np.arange(len(reviews))
        rng.shuffle(order)
        x = pad_sequences((np.concatenate(([START], reviews[i])) for i in order), maxlen, padding, truncating)
        arrays += [x, corpus[f"{split}_labels"][order].astype(np.int64)]
    return IMDB(*arrays, vocabulary=vocabulary, maxlen=maxlen, padding=padding, truncating=truncating, source=source)


def _check_sha256(value):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return value.lower()
