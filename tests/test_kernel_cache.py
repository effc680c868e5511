"""The compiled kernel's cache on a shared machine (rnnlab.kernel): only a library this user built is loaded, a
damaged one is rebuilt before dlopen, nothing temporary is left behind, and RNNLAB_KERNEL_MARCH."""
import ctypes
import hashlib
import json
import os
import re
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
import torch

from rnnlab import kernel


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty kernel cache folder and an empty system temporary folder; load() forgets its library before and
    after, so the next test builds its own."""
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(tmp_path / "kernels"))
    monkeypatch.delenv("RNNLAB_KERNEL_MARCH", raising=False)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(kernel.tempfile, "tempdir", str(tmp_path / "tmp"))
    kernel.load.cache_clear()
    yield tmp_path / "kernels"
    kernel.load.cache_clear()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """What another user would plant: a library whose constructor, run by dlopen, creates a marker file. Returns
    (its bytes, the marker, the name prefix rnn_kernel-<key> that load() looks for)."""
    if not kernel.compilers():
        pytest.skip("no C compiler")
    cc, folder = kernel.compilers()[0], tmp_path_factory.mktemp("planted")
    marker = folder / "constructor-ran"
    source = folder / "planted.c"
    source.write_text("#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {\n"
                      f"    FILE *f = fopen({json.dumps(str(marker))}, \"w\");\n    if (f) fclose(f);\n}}\n")
    out = subprocess.run([*cc, "-shared", "-fPIC", "-o", str(folder / "planted.so"), str(source)],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.skip(f"cannot build the planted library: {out.stderr[-500:]}")
    ctypes.CDLL(str(folder / "planted.so"))  # the oracle works: loading it does create the marker
    assert marker.exists()
    marker.unlink()
    prefix = kernel.build(cc, folder / "kernels").name.rsplit("-", 1)[0]
    return (folder / "planted.so").read_bytes(), marker, prefix


def fake_cc(tmp_path, status=0):
    """A compiler that logs its arguments, writes a few bytes to its -o file and exits with `status`."""
    cc = tmp_path / "cc"
    cc.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/calls"\n'
                  'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then printf library > "$2"; fi; shift; done\n'
                  f"exit {status}\n")
    cc.chmod(0o700)
    return [str(cc)]


def computes(lib):
    """The library's forward loop for φ = identity, h_t = u_t + A_h·h_{t-1}, against the explicit loop in float64.
    Six steps of five products of numbers below ~10: rounding stays near 1e-14, so 1e-12 fails only a wrong loop."""
    torch.manual_seed(0)
    u, h, A_h = torch.randn(6, 2, 5, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64), \
        0.5 * torch.randn(5, 5, dtype=torch.float64)
    states = u.clone()
    kernel.forward(lib, states, h, A_h.T.contiguous(), "linear")
    want = []
    for t in range(6):
        h = u[t] + h @ A_h.T
        want.append(h)
    torch.testing.assert_close(states, torch.stack(want), rtol=1e-12, atol=1e-12)
    return True


def foreign(monkeypatch, target):
    """os.lstat reports `target` as owned by uid 4242, as if another user had made it."""
    real = os.lstat

    def lstat(path, *args, **kwargs):
        st = real(path, *args, **kwargs)
        if Path(path) == target:
            fields = list(st[:10])
            fields[stat.ST_UID] = 4242 if os.getuid() != 4242 else 4243
            return os.stat_result(fields)
        return st
    monkeypatch.setattr(kernel.os, "lstat", lstat)


def _folder_mode(mode):
    def plant(folder, library, monkeypatch):
        folder.chmod(mode)
    return plant


def _ancestor_world_writable(folder, library, monkeypatch):
    folder.parent.chmod(0o777)  # not sticky: anyone may rename `kernels` away and put their own in its place


def _folder_foreign(folder, library, monkeypatch):
    foreign(monkeypatch, folder)


def _file_group_writable(folder, library, monkeypatch):
    library.chmod(0o660)


def _file_foreign(folder, library, monkeypatch):
    foreign(monkeypatch, library)


def _symlink(folder, library, monkeypatch):
    target = folder.parent / "elsewhere.so"
    library.rename(target)
    library.symlink_to(target)


UNSAFE_FOLDER, DAMAGED_FILE = "not using the C kernel cache", "rebuilding it"
PLANTS = {  # how the planted library got there, and the one warning that says why it is not loaded
    "folder world-writable": (_folder_mode(0o777), UNSAFE_FOLDER + ".* is group- or world-writable"),
    "folder group-writable": (_folder_mode(0o770), UNSAFE_FOLDER + ".* is group- or world-writable"),
    "ancestor world-writable": (_ancestor_world_writable, UNSAFE_FOLDER + ".*shared is group- or world-writable"),
    "folder another user's": (_folder_foreign, UNSAFE_FOLDER + ".* belongs to uid"),
    "file group-writable": (_file_group_writable, DAMAGED_FILE),
    "file another user's": (_file_foreign, DAMAGED_FILE),
    "symlink": (_symlink, DAMAGED_FILE),
}


@pytest.mark.parametrize("how", PLANTS)
def test_a_planted_library_is_never_loaded_and_the_kernel_is_built_elsewhere(how, planted, tmp_path, monkeypatch):
    """A library with the right name and the right sha256 in it, in a cache folder or as a file that another user
    could have written: its constructor never runs (no marker), and load() builds its own, with one warning."""
    library_bytes, marker, prefix = planted
    marker.unlink(missing_ok=True)  # left by another case that failed
    folder = tmp_path / "shared" / "kernels"
    folder.mkdir(parents=True, mode=0o700)
    library = folder / f"{prefix}-{hashlib.sha256(library_bytes).hexdigest()}.so"
    library.write_bytes(library_bytes)
    library.chmod(0o600)
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(folder))
    monkeypatch.setattr(kernel.tempfile, "tempdir", str(tmp_path))
    plant, why = PLANTS[how]
    plant(folder, library, monkeypatch)
    kernel.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning) as seen:
            lib = kernel.load()
        assert not marker.exists()
        messages = [str(w.message) for w in seen]
        assert len(messages) == 1 and re.search(why, messages[0]), messages
        assert lib is not None and computes(lib)
        if why == DAMAGED_FILE:  # replaced in the folder itself
            assert not os.path.lexists(library) and len(list(folder.glob(f"{prefix}-*.so"))) == 1
    finally:
        kernel.load.cache_clear()


def test_a_truncated_library_is_found_before_dlopen_and_replaced_once_with_one_warning(cache, monkeypatch):
    """As a full disk or a killed copy leaves it: dlopen would SIGBUS on it. Oracle: what dlopen is handed, checked
    against the bytes of the whole library (the same compiler, flags and source give the same bytes)."""
    path = kernel.build(kernel.compilers()[0], cache)
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])
    opened, real = [], kernel.ctypes.CDLL

    def dlopen(name, *args, **kwargs):
        opened.append(Path(name).read_bytes() == whole)
        assert opened[-1], f"dlopen of {name}, which is not the whole library"
        return real(name, *args, **kwargs)
    monkeypatch.setattr(kernel.ctypes, "CDLL", dlopen)
    with pytest.warns(RuntimeWarning) as seen:
        lib = kernel.load()
    assert [str(w.message) for w in seen] == [f"the cached C kernel {path} does not have the sha256 recorded in its "
                                              "name (truncated or corrupt): rebuilding it"]
    assert opened == [True] and computes(lib) and path.read_bytes() == whole
    assert [p.name for p in cache.iterdir()] == [path.name]
    stamp = path.stat().st_mtime_ns
    kernel.load.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernel.load() is not None  # replaced once: the next process loads it as it is
    assert opened == [True, True] and path.stat().st_mtime_ns == stamp


def test_cache_folders_are_made_0700_whatever_the_umask(tmp_path):
    folder = tmp_path / "a" / "b" / "kernels"
    old = os.umask(0)  # with the default mode, mkdir would make them 0777
    try:
        path = kernel.build(fake_cc(tmp_path), folder)
    finally:
        os.umask(old)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "a", tmp_path / "a" / "b", folder)] == [0o700] * 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"library"


def test_a_private_folder_inside_a_sticky_shared_one_like_tmp_is_used(tmp_path):
    """In a sticky folder no one can rename what they do not own, so the cache inside it cannot be swapped."""
    (tmp_path / "shared").mkdir(mode=0o700)
    (tmp_path / "shared").chmod(0o1777)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = kernel.build(fake_cc(tmp_path), tmp_path / "shared" / "kernels")
    assert path.parent == tmp_path / "shared" / "kernels"
    (tmp_path / "shared").chmod(0o777)  # the same without the sticky bit is refused
    with pytest.raises(PermissionError, match=f"{tmp_path / 'shared'} is group- or world-writable"):
        kernel.build(fake_cc(tmp_path), tmp_path / "shared" / "kernels")


def test_a_failing_build_leaves_no_temporary_file_or_folder(cache, tmp_path, monkeypatch):
    """Neither in the cache nor, where the cache is refused, in the system's temporary folder."""
    bad = fake_cc(tmp_path, status=1)  # writes its output file, then fails
    with pytest.raises(RuntimeError, match="failed \\(1\\)"):
        kernel.build(bad, cache)
    assert list(cache.iterdir()) == []
    cache.chmod(0o777)
    monkeypatch.setattr(kernel, "compilers", lambda: [bad])
    with pytest.warns(RuntimeWarning) as seen:
        assert kernel.load() is None
    assert len(seen) == 2 and "not using the C kernel cache" in str(seen[0].message)
    assert "unavailable" in str(seen[1].message)
    assert list(cache.iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []


def test_rnnlab_kernel_march_replaces_native_and_is_part_of_the_key(cache, tmp_path, monkeypatch):
    cc = fake_cc(tmp_path)
    native = kernel.build(cc, cache)
    monkeypatch.setenv("RNNLAB_KERNEL_MARCH", "baseline")
    baseline = kernel.build(cc, cache)
    assert native.name.split("-")[1] != baseline.name.split("-")[1]
    compiles = [line.split() for line in (tmp_path / "calls").read_text().splitlines() if "-o" in line.split()]
    assert [[a for a in args if a.startswith("-march")] for args in compiles] == [["-march=native"],
                                                                                  ["-march=baseline"]]


@pytest.mark.parametrize("march", ["x86-64 -O0", "native;id", "$(id)", "a/b", "x\n"])
def test_a_malformed_rnnlab_kernel_march_is_refused_naming_it(march, cache, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_KERNEL_MARCH", march)
    cc = fake_cc(tmp_path)
    with pytest.raises(ValueError, match=f"RNNLAB_KERNEL_MARCH must be .* got {re.escape(repr(march))}"):
        kernel.build(cc, cache)
    monkeypatch.setattr(kernel, "compilers", lambda: [cc])
    with pytest.raises(ValueError, match="RNNLAB_KERNEL_MARCH"):
        kernel.load()
    assert not (tmp_path / "calls").exists()  # the compiler never ran
