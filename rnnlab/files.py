"""Where rnnlab keeps its files, and how it writes them.

Each kind of file (runs, imdb, …) lives in its own folder: $RNNLAB_HOME/<kind> when RNNLAB_HOME is set, else under
the user's cache, $XDG_CACHE_HOME/rnnlab/<kind> (only an absolute XDG_CACHE_HOME counts, as the XDG spec says) or
~/.cache/rnnlab/<kind>. A file is written under a temporary name in its folder, flushed to disk and renamed over
the old one, so a reader sees the old file or the new one, never half of one.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def user_cache():
    """$XDG_CACHE_HOME if it is an absolute path, else ~/.cache."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"


def home(kind):
    """The folder of one kind of rnnlab file: $RNNLAB_HOME/kind, else <user cache>/rnnlab/kind."""
    if os.environ.get("RNNLAB_HOME"):
        return Path(os.environ["RNNLAB_HOME"]).expanduser() / kind
    return user_cache() / "rnnlab" / kind


@contextmanager
def atomic_file(path, mode="wb", encoding=None, suffix=".tmp"):
    """A file object to write `path` through: a temporary file beside it, fsynced and renamed over `path` when the
    block ends, removed if the block raises (so nothing half-written is ever left under the real name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
