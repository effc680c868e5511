"""rnnlab.files: where files go, and writes that are all or nothing."""
import pytest

from rnnlab import files


def test_home_is_rnnlab_home_then_an_absolute_xdg_cache_then_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "lab"))
    assert files.home("runs") == tmp_path / "lab" / "runs"
    monkeypatch.delenv("RNNLAB_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert files.home("imdb") == tmp_path / "xdg" / "rnnlab" / "imdb"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says to ignore a relative path
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert files.home("imdb") == tmp_path / "home" / ".cache" / "rnnlab" / "imdb"


def test_atomic_file_replaces_the_file_whole_or_leaves_it_as_it_was(tmp_path):
    path = tmp_path / "deep" / "record.json"
    with files.atomic_file(path, "w", encoding="utf-8") as f:
        f.write("old")
    with pytest.raises(RuntimeError, match="stopped"):
        with files.atomic_file(path, "w", encoding="utf-8") as f:
            f.write("half of the new")
            raise RuntimeError("stopped")
    assert path.read_text("utf-8") == "old" and [p.name for p in path.parent.iterdir()] == ["record.json"]
    with files.atomic_file(path, "wb") as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and [p.name for p in path.parent.iterdir()] == ["record.json"]
