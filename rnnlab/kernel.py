"""The recurrent layers' loops over steps in C, compiled once per machine and called through ctypes.

A training step of the lecture's model is 500 dependent steps of a 32×32 product: the arithmetic takes well under a
millisecond, and what costs is the per-step overhead of calling PyTorch from Python (a few µs an op, four ops a
step). `_kernel.c` runs those loops in C:

    forward    s_t ← φ(s_t + A_h·h_{t-1}),            s_t = u_t = A_x·x_t + b on entry
    lookup     h_t = φ(P[id_t] + A_h·h_{t-1}),        P = E·A_xᵀ + b: forward read from token ids, no gradient
    backward   δ_t = g_t ⊙ φ'(z_t),   g_t = ∂L/∂h_t (output) + δ_{t+1}·A_h
    tangents   τ_t = φ'(z_t) ⊙ (A_h·τ_{t-1})       (the Jacobian ∂h_t/∂x_0 carried forward, rnnlab.memory)

and the same forward and backward for the LSTM and the GRU (lstm_forward, lstm_backward, gru_forward,
gru_backward: gates from u_t + A_h·h_{t-1}, BPTT to ∂L/∂u_t) and their tangents and state adjoints over per-step
coefficients (gated_tangent, gated_adjoint, for influence_curve, lyapunov_exponent and gradient_curve), and leaves
everything that is one big operation (the input drive u_t, the weight gradients, those coefficients) to PyTorch.

It is compiled with the Zig toolchain that the `ziglang` package brings (`python -m ziglang cc`, a clang), so no
system compiler is needed; `$CC` or `cc` is tried when ziglang is missing. The library lands in the cache
($RNNLAB_KERNEL_DIR, else $XDG_CACHE_HOME/rnnlab/kernels, else ~/.cache/rnnlab/kernels) under a name that hashes
the source, the flags, the compiler and the CPU, so the first call on a machine compiles (a few seconds, the first
time Zig runs) and every later process loads it. If no compiler works, or RNNLAB_KERNEL=torch is set, `load()`
returns None and the layers run the same loops as PyTorch ops (slower, same numbers up to float32 rounding).
RNNLAB_KERNEL_MARCH replaces -march=native (e.g. `baseline`, Zig's name for the oldest CPU of this architecture, or
gcc's `x86-64`), for a library that runs on any CPU of its kind.

dlopen runs the library's code as this user, so only a library this user built is loaded: the cache folder is
created 0700 and used only if no other user can write it or, by renaming it or an ancestor, swap it (else a fresh
private temporary folder is used for the process, with a warning); the library's name records the sha256 of its
bytes at build time, and a file that is not a regular file of this user's, or whose bytes no longer match (a
truncated one would SIGBUS at dlopen), is rebuilt and replaced, with a warning, before anything is loaded.
"""
import atexit
import ctypes
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from . import files

SOURCE = Path(__file__).with_name("_kernel.c")
FLAGS = ["-O3", "-march=native", "-shared", "-fPIC"]
NONLINEARITY = {"tanh": 0, "relu": 1, "linear": 2}
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_SIGNATURES = {  # argument types of the exported functions, checked by ctypes on every call
    "simple_rnn_forward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 3 + [ctypes.c_int],
    "simple_rnn_lookup_forward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] + [ctypes.c_int64] * 2
                                 + [ctypes.c_void_p] * 3 + [ctypes.c_int, ctypes.c_void_p, ctypes.c_int64],
    "simple_rnn_backward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 2 + [ctypes.c_int64] * 2 + [ctypes.c_void_p] * 2
                    + [ctypes.c_int],
    "simple_rnn_tangent": [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 5 + [ctypes.c_int],
    "lstm_forward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 6,
    "lstm_backward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 2 + [ctypes.c_void_p] * 3,
    "gru_forward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 6,
    "gru_backward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 5 + [ctypes.c_int64] * 2 + [ctypes.c_void_p] * 3,
    "lstm_tangent": [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 6 + [ctypes.c_int],
    "gru_tangent": [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 6 + [ctypes.c_int],
    "lstm_adjoint": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 5,
    "gru_adjoint": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 5,
    "lstm_cells": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 3,
    "outer_sum": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 3,
}


def cache_dir():
    """$RNNLAB_KERNEL_DIR, else $XDG_CACHE_HOME/rnnlab/kernels, else ~/.cache/rnnlab/kernels.

    Not under $RNNLAB_HOME: the library belongs to the machine, not to a store of runs, and a fresh store (a test,
    a new experiment) should not pay for a new compile."""
    if os.environ.get("RNNLAB_KERNEL_DIR"):
        return Path(os.environ["RNNLAB_KERNEL_DIR"]).expanduser()
    return files.user_cache() / "rnnlab" / "kernels"


def compilers():
    """The C compilers to try, in order: Zig's (from the ziglang package), then $CC or cc if on the PATH."""
    found = []
    if importlib.util.find_spec("ziglang") is not None:
        found.append([sys.executable, "-m", "ziglang", "cc"])
    cc = os.environ.get("CC") or shutil.which("cc")
    if cc:
        found.append([cc])
    return found


def _cpu():
    """What -march=native depends on: the CPU's model and features as Linux lists them (x86: model name, flags;
    ARM: CPU implementer, part, Features), else the processor's name."""
    keys = ("model name", "flags", "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "Features")
    try:
        lines = Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()  # the first processor
        found = [line for line in lines if line.split(":")[0].strip() in keys]
        if found:
            return "\n".join(found)
    except OSError:
        pass
    return f"{platform.processor()} {platform.machine()} {platform.platform()}"


def _version(cc):
    if cc[1:3] == ["-m", "ziglang"]:  # the package's version names its compiler, without starting it (~0.1 s)
        return "ziglang " + importlib.metadata.version("ziglang")
    try:
        out = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=60)
        return out.stdout.splitlines()[0] if out.stdout else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def flags():
    """FLAGS with -march=$RNNLAB_KERNEL_MARCH in place of -march=native, where that is set."""
    march = os.environ.get("RNNLAB_KERNEL_MARCH") or "native"
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", march):
        raise ValueError(f"RNNLAB_KERNEL_MARCH must be a CPU name for -march, of letters, digits and _.+- (such as "
                         f"baseline or x86-64), got {march!r}")
    return [f"-march={march}" if flag == "-march=native" else flag for flag in FLAGS]


def _key(cc):
    """What the library's bytes depend on: the source, the flags, the compiler and the CPU (for -march=native)."""
    parts = [SOURCE.read_bytes(), " ".join(flags()).encode(), _version(cc).encode(), _cpu().encode(),
             platform.machine().encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def _loose(st, ancestor=False):
    """Why another user could write the file or folder of this lstat result, or None. An ancestor folder may also
    be root's, and group/world-writable if sticky (/tmp), where no one can rename what they do not own."""
    if st.st_uid != os.getuid() and not (ancestor and st.st_uid == 0):
        return f"belongs to uid {st.st_uid}, not to this user ({os.getuid()})"
    if st.st_mode & 0o022 and not (ancestor and st.st_mode & stat.S_ISVTX):
        return f"is group- or world-writable (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _unsafe(folder):
    """Why another user could change what the existing `folder` holds, or None: by writing into it, or by renaming
    it or one of its ancestors to put a folder of their own in its place."""
    folder = Path(os.path.realpath(folder))
    for path in (folder, *folder.parents):
        why = _loose(os.lstat(path), ancestor=path != folder)
        if why:
            return f"{path} {why}"
    return None


def _private(folder):
    """`folder` resolved, made with mode 0700 where missing; PermissionError if another user could change it."""
    folder = Path(os.path.abspath(folder))
    for path in reversed([p for p in (folder, *folder.parents) if not p.exists()]):
        path.mkdir(mode=0o700, exist_ok=True)  # exist_ok: another process may make it first; checked below anyway
    why = _unsafe(folder)
    if why:
        raise PermissionError(f"{why}, so another user could plant a library there")
    return Path(os.path.realpath(folder))


def _private_to_write(path):
    """Whether this user, and no other, can write or create `path`: its nearest existing ancestor is a folder this
    user can write and _unsafe finds nothing wrong with."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK) and _unsafe(path) is None


def _zig_cache():
    """Where Zig keeps its cache unless told otherwise: $XDG_CACHE_HOME/zig (any value that is not empty), else
    ~/.cache/zig."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zig"


def _damage(path):
    """Why the library at `path` must not be loaded, or None.

    It must be a regular file (a symbolic link could point anywhere), this user's and writable by no one else, and
    its bytes must have the sha256 that its name recorded at build time (a truncated or corrupt file does not; dlopen
    would SIGBUS on a truncated one). The bytes hashed are read after the checks, and dlopen then maps the same
    file: it lives in a folder that _private found no other user can write, so no one else can swap it between."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if why := _loose(st):
        return why
    if hashlib.sha256(path.read_bytes()).hexdigest() != path.stem.rsplit("-", 1)[1]:
        return "does not have the sha256 recorded in its name (truncated or corrupt)"
    return None


def build(cc, folder=None):
    """Compile _kernel.c with `cc` (a command as a list) into `folder` (default: cache_dir()), unless already there.

    The folder is made 0700 where missing and refused (PermissionError) if another user could write it. The library
    is named rnn_kernel-<key>-<sha256 of its bytes>.so and written under a temporary name, then renamed, so processes
    building at once never load half a file; one found damaged (see _damage) is rebuilt and replaced, with a warning.
    Returns the library's path; raises RuntimeError with the compiler's message if it fails.
    """
    folder = _private(folder if folder is not None else cache_dir())
    key = _key(cc)
    damaged = []
    for path in sorted(folder.glob(f"rnn_kernel-{key}-*.so")):
        why = _damage(path)
        if why is None:
            return path
        warnings.warn(f"the cached C kernel {path} {why}: rebuilding it", RuntimeWarning, stacklevel=2)
        damaged.append(path)
    env = dict(os.environ)
    if cc[1:3] == ["-m", "ziglang"] and not _private_to_write(_zig_cache()):
        # Zig links what its cache holds (compiler_rt, libc stubs) into our library: a cache that another user can
        # write, or that cannot be written, is replaced by one in our private folder
        env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(folder / "zig"))
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:  # removed however the build ends
        out = subprocess.run([*cc, *flags(), "-o", f"{tmp}/kernel.so", str(SOURCE), "-lm"], capture_output=True,
                             text=True, timeout=300, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cc)} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        library = Path(tmp, "kernel.so").read_bytes()
    path = folder / f"rnn_kernel-{key}-{hashlib.sha256(library).hexdigest()}.so"
    with files.atomic_file(path) as f:  # mode 0600, from mkstemp: only this user reads or writes it
        f.write(library)
    for old in damaged:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def _open(path):
    lib = ctypes.CDLL(str(path))
    for name, types in _SIGNATURES.items():
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"{name}_{suffix}")
            fn.argtypes, fn.restype = types, None
    return lib


def _temporary_folder(why):
    """A fresh folder private to this process (mkdtemp: mode 0700), removed when it exits; says why, once."""
    folder = Path(tempfile.mkdtemp(prefix="rnnlab-kernel-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    warnings.warn(f"not using the C kernel cache {cache_dir()} ({why}); building into {folder} for this process",
                  RuntimeWarning, stacklevel=3)
    return folder


@functools.cache
def load():
    """The compiled kernel (a ctypes library), or None when RNNLAB_KERNEL=torch or no compiler could build it.

    Built on the first call of a process into cache_dir(), or into a fresh private folder where that is not this
    user's alone or cannot be written (see the module docstring); a failure is reported once as a warning. Raises
    ValueError for a malformed RNNLAB_KERNEL_MARCH.
    """
    if os.environ.get("RNNLAB_KERNEL", "").lower() == "torch":
        return None
    errors, temporary = [], None
    for cc in compilers():
        try:
            try:
                return _open(build(cc, temporary))
            except OSError as e:
                if temporary is not None:
                    raise
                temporary = _temporary_folder(e)
                return _open(build(cc, temporary))
        except (OSError, RuntimeError, AttributeError, subprocess.SubprocessError) as e:
            errors.append(f"{cc[-1] if len(cc) == 1 else 'ziglang'} into {temporary or cache_dir()}: {e}")
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)
    warnings.warn("rnnlab: the recurrent layers' C kernel is unavailable, so they run their loops as PyTorch ops "
                  "(slower): " + ("; ".join(errors) or "no C compiler found (pip install ziglang)"), RuntimeWarning,
                  stacklevel=2)
    return None


def supports(t):
    """Whether the kernel takes this tensor's kind: float32 or float64 on the CPU."""
    return t.device.type == "cpu" and t.dtype in _SUFFIX


CELLS = ("simple_rnn", "lstm", "gru")  # the cells (rnnlab.models.LAYERS) whose loops _kernel.c holds


def for_cell(cell, *tensors):
    """The compiled library for a cell's loops over these tensors, or None where the PyTorch ops must run instead:
    a cell without C loops, a tensor that is not float32/float64 on the CPU, tensors of mixed dtypes, or no
    library (RNNLAB_KERNEL=torch, no compiler)."""
    if cell not in CELLS or not all(supports(t) and t.dtype == tensors[0].dtype for t in tensors):
        return None
    return load()


def _check(*pairs):
    """The C loops read raw memory: a tensor of another dtype, layout or shape would be misread (or read past its
    end), so refuse it. pairs: (name, tensor, expected shape)."""
    dtype = pairs[0][1].dtype
    for name, t, shape in pairs:
        if not (supports(t) and t.dtype == dtype and t.is_contiguous()):
            raise ValueError(f"the C kernel takes C-contiguous CPU tensors of one dtype (float32 or float64), got "
                             f"{name} {t.dtype} on {t.device} with strides {t.stride()} beside {dtype}")
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")


def forward(lib, states, h0, A_hT, nonlinearity):
    """In place: states (T, B, H) holding u_t becomes h_t. All of one dtype (float32 or float64), C-contiguous, on
    the CPU."""
    T, B, H = states.shape
    _check(("states", states, (T, B, H)), ("h0", h0, (B, H)), ("A_hT", A_hT, (H, H)))
    fn = getattr(lib, f"simple_rnn_forward_{_SUFFIX[states.dtype]}")
    fn(T, B, H, states.data_ptr(), h0.data_ptr(), A_hT.data_ptr(), NONLINEARITY[nonlinearity])


def lookup_forward(lib, ids, P, h0, A_hT, nonlinearity, every=True):
    """h_t = φ(P[id_t] + A_h·h_{t-1}) read straight from the token ids (T, B), int64 (int32 is widened), any strides,
    and P (V, H), the projected table E·A_xᵀ + b: forward's states bit for bit, with no drive (T, B, H) in memory.
    Returns all states (T, B, H) if every, else h_{T-1} (B, H) alone (the loop then writes two (B, H) blocks).
    Raises ValueError for an id outside [0, V), which the C loop would read past P for."""
    T, B = ids.shape if ids.dim() == 2 else (-1, -1)
    V, H = P.shape
    if ids.dtype not in (torch.int64, torch.int32) or ids.dim() != 2 or ids.device.type != "cpu":
        raise ValueError(f"ids must be an int64 or int32 CPU tensor (T, B), got {ids.dtype} {tuple(ids.shape)} on "
                         f"{ids.device}")
    if T == 0 and not every:
        raise ValueError("ids must hold at least one step for the last state alone (every=False), got T = 0")
    ids = ids.long()
    if ids.numel():
        low, high = torch.aminmax(ids)
        if low < 0 or high >= V:
            raise ValueError(f"ids must lie in [0, {V - 1}] (P has {V} rows), got values in [{int(low)}, {int(high)}]")
    _check(("P", P, (V, H)), ("h0", h0, (B, H)), ("A_hT", A_hT, (H, H)))
    kept = T if every else 2
    out = P.new_empty(kept, B, H)
    fn = getattr(lib, f"simple_rnn_lookup_forward_{_SUFFIX[P.dtype]}")
    fn(T, B, H, ids.data_ptr(), ids.stride(0), ids.stride(1), P.data_ptr(), h0.data_ptr(), A_hT.data_ptr(),
       NONLINEARITY[nonlinearity], out.data_ptr(), kept)
    return out if every else out[(T - 1) % 2]


def backward(lib, states, grad_states, delta, A_h, nonlinearity):
    """Writes δ_t into delta (T, B, H) from the states h_t (T, B, H) and ∂L/∂h_t from the output, grad_states
    (T, B, H) with any strides along T and B (a transposed batch-major gradient is read in place)."""
    T, B, H = states.shape
    grad_states = _grad_out(grad_states, states)
    _check(("states", states, (T, B, H)), ("delta", delta, (T, B, H)), ("A_h", A_h, (H, H)))
    fn = getattr(lib, f"simple_rnn_backward_{_SUFFIX[states.dtype]}")
    fn(T, B, H, states.data_ptr(), grad_states.data_ptr(), grad_states.stride(0), grad_states.stride(1),
       delta.data_ptr(), A_h.data_ptr(), NONLINEARITY[nonlinearity])


def _check_norms(norms, n, B, renorm):
    if norms is not None and not (norms.dtype == torch.float64 and norms.is_contiguous()
                                  and tuple(norms.shape) == (n, B)):
        raise ValueError(f"norms must be a C-contiguous float64 tensor of shape {(n, B)}, got {norms.dtype} "
                         f"{tuple(norms.shape)} with strides {norms.stride()}")
    if renorm and norms is None:
        raise ValueError("renorm=True needs norms, where the norms are written")


def tangent(lib, d, A_hT, tau0, out, norms=None, renorm=False):
    """τ_t = d_t ⊙ (A_h·τ_{t-1}) for the n steps of d (n, B, H), from tau0 (B, K, H), into out (n, B, K, H); writes
    ‖τ_t‖ over K and H into norms (n, B) float64, if given, with LAPACK's scaling, so that it is exact wherever
    float64 holds it (a plain Σ τ² would underflow below 1e-154). renorm: each sequence's τ_t is divided by its
    norm (at least the smallest normal float) before the next step; needs norms."""
    n, B, H = d.shape
    K = tau0.shape[1] if tau0.dim() == 3 else -1
    _check(("d", d, (n, B, H)), ("A_hT", A_hT, (H, H)), ("tau0", tau0, (B, K, H)), ("out", out, (n, B, K, H)))
    _check_norms(norms, n, B, renorm)
    fn = getattr(lib, f"simple_rnn_tangent_{_SUFFIX[d.dtype]}")
    fn(n, B, K, H, d.data_ptr(), A_hT.data_ptr(), tau0.data_ptr(), out.data_ptr(),
       None if norms is None else norms.data_ptr(), int(renorm))


def _grad_out(grad_states, like):
    """∂L/∂h_t as the C loops read it: unit stride along the state, any strides along T and B (a transposed
    batch-major gradient, or a broadcast one, is read in place), in the states' dtype."""
    if tuple(grad_states.shape) != tuple(like.shape):
        raise ValueError(f"grad_states must have shape {tuple(like.shape)}, got {tuple(grad_states.shape)}")
    if grad_states.stride(2) != 1 or grad_states.dtype != like.dtype:
        grad_states = grad_states.contiguous().to(like.dtype)
    return grad_states


def outer_sum(lib, dy, x):
    """dyᵀ·x, a new (N, K) tensor, for dy (M, N) and x (M, K): the sum over the M rows of their outer products (a
    weight gradient over all steps), each element summed over the rows in order."""
    (M, N), K = dy.shape, x.shape[-1]
    _check(("dy", dy, (M, N)), ("x", x, (M, K)))
    out = dy.new_empty(N, K)
    getattr(lib, f"outer_sum_{_SUFFIX[dy.dtype]}")(M, N, K, dy.data_ptr(), x.data_ptr(), out.data_ptr())
    return out


def lstm_forward(lib, u, h0, c0, A_hT, cs, hs):
    """The LSTM's loop, in place: u (T, B, 4H) holding the drive A_x·x_t + b becomes the activated gates
    [σ(i); σ(f); tanh(g); σ(o)]; c_t goes into cs and h_t into hs (T, B, H). A_hT is A_hᵀ (H, 4H)."""
    T, B, G = u.shape
    H = G // 4
    _check(("u", u, (T, B, 4 * H)), ("h0", h0, (B, H)), ("c0", c0, (B, H)), ("A_hT", A_hT, (H, 4 * H)),
           ("cs", cs, (T, B, H)), ("hs", hs, (T, B, H)))
    getattr(lib, f"lstm_forward_{_SUFFIX[u.dtype]}")(T, B, H, *(t.data_ptr() for t in (u, h0, c0, A_hT, cs, hs)))


def lstm_backward(lib, gates, cs, c0, grad_states, A_h, dh, dc):
    """BPTT through lstm_forward's gates and cs, in place: gates (T, B, 4H) become ∂L/∂z_t, from ∂L/∂h_t
    (grad_states, T, B, H); dh and dc (B, H) come out as ∂L/∂h0 and ∂L/∂c0. A_h (4H, H)."""
    T, B, H = cs.shape
    grad_states = _grad_out(grad_states, cs)
    _check(("gates", gates, (T, B, 4 * H)), ("cs", cs, (T, B, H)), ("c0", c0, (B, H)), ("A_h", A_h, (4 * H, H)),
           ("dh", dh, (B, H)), ("dc", dc, (B, H)))
    getattr(lib, f"lstm_backward_{_SUFFIX[cs.dtype]}")(
        T, B, H, gates.data_ptr(), cs.data_ptr(), c0.data_ptr(), grad_states.data_ptr(), grad_states.stride(0),
        grad_states.stride(1), A_h.data_ptr(), dh.data_ptr(), dc.data_ptr())


def gru_forward(lib, u, h0, A_hT, b_h, ghn, hs):
    """The GRU's loop (reset_after), in place: u (T, B, 3H) holding the drive A_x·x_t + b becomes the gates
    [r; z; n]; the recurrent n block A_h,n·h_{t-1} + b_h,n goes into ghn and h_t into hs (T, B, H). A_hT is A_hᵀ
    (H, 3H), b_h (3H,)."""
    T, B, G = u.shape
    H = G // 3
    _check(("u", u, (T, B, 3 * H)), ("h0", h0, (B, H)), ("A_hT", A_hT, (H, 3 * H)), ("b_h", b_h, (3 * H,)),
           ("ghn", ghn, (T, B, H)), ("hs", hs, (T, B, H)))
    getattr(lib, f"gru_forward_{_SUFFIX[u.dtype]}")(T, B, H, *(t.data_ptr() for t in (u, h0, A_hT, b_h, ghn, hs)))


def gru_backward(lib, gates, ghn, hs, h0, grad_states, A_h, dgh, dh):
    """BPTT through gru_forward's outputs: gates (T, B, 3H) become ∂L/∂u_t, in place, and ∂L/∂(A_h·h_{t-1} + b_h)
    goes into dgh (T, B, 3H), from ∂L/∂h_t (grad_states, T, B, H); dh (B, H) comes out as ∂L/∂h0. A_h (3H, H)."""
    T, B, H = hs.shape
    grad_states = _grad_out(grad_states, hs)
    _check(("gates", gates, (T, B, 3 * H)), ("ghn", ghn, (T, B, H)), ("hs", hs, (T, B, H)), ("h0", h0, (B, H)),
           ("A_h", A_h, (3 * H, H)), ("dgh", dgh, (T, B, 3 * H)), ("dh", dh, (B, H)))
    getattr(lib, f"gru_backward_{_SUFFIX[hs.dtype]}")(
        T, B, H, gates.data_ptr(), ghn.data_ptr(), hs.data_ptr(), h0.data_ptr(), grad_states.data_ptr(),
        grad_states.stride(0), grad_states.stride(1), A_h.data_ptr(), dgh.data_ptr(), dh.data_ptr())


GATED = {"lstm": (4, 2), "gru": (3, 1)}  # the cells whose tangents and state adjoints _kernel.c holds: (gates, parts)


def _gated_shapes(cell, coef):
    """(G gates, P parts of a tangent, H) of an LSTM's or GRU's per-step coefficients coef (n, B, (G + P)·H)."""
    if cell not in GATED:
        raise ValueError(f"cell must be one of {', '.join(map(repr, GATED))}, got {cell!r}")
    G, P = GATED[cell]
    return G, P, coef.shape[-1] // (G + P)


def gated_tangent(lib, cell, coef, A_hT, tau0, out, norms=None, renorm=False):
    """The tangents of an LSTM (cell "lstm") or GRU ("gru") for the n steps of coef (n, B, (G + P)·H), from tau0
    (B, P, K, H) into out (n, B, P, K, H): P = 2 parts (∂h, ∂c) for the LSTM, 1 (∂h) for the GRU; coef holds per
    step and sequence [W_i W_f W_g W_o | f | k] (LSTM) or [α_r α_z α_n | z] (GRU), as _kernel.c writes; A_hT
    (G, H, H) each gate's block of A_h transposed. norms (n, B) float64, if given, gets ‖∂h_t‖ over K and H, scaled
    as in tangent; renorm: the norm of the whole tangent instead, which each sequence's tangent is divided by
    before the next step."""
    G, P, H = _gated_shapes(cell, coef)
    n, B = coef.shape[:2]
    K = tau0.shape[2] if tau0.dim() == 4 else -1
    _check(("coef", coef, (n, B, (G + P) * H)), ("A_hT", A_hT, (G, H, H)), ("tau0", tau0, (B, P, K, H)),
           ("out", out, (n, B, P, K, H)))
    _check_norms(norms, n, B, renorm)
    fn, work = getattr(lib, f"{cell}_tangent_{_SUFFIX[coef.dtype]}"), coef.new_empty(2 * G * H)  # held: C writes it
    fn(n, B, K, H, coef.data_ptr(), A_hT.data_ptr(), tau0.data_ptr(), out.data_ptr(), work.data_ptr(),
       None if norms is None else norms.data_ptr(), int(renorm))


def gated_adjoint(lib, cell, coef, A_h, g):
    """In place: g (T, B, H), holding the direct part of ∂L/∂h_t, becomes all of it, ∂L/∂h_t through every later
    step (c_t held fixed), from the coefficients coef (T, B, (G + P)·H) of gated_tangent and A_h (G·H, H)."""
    G, P, H = _gated_shapes(cell, coef)
    T, B = coef.shape[:2]
    _check(("coef", coef, (T, B, (G + P) * H)), ("A_h", A_h, (G * H, H)), ("g", g, (T, B, H)))
    fn, work = getattr(lib, f"{cell}_adjoint_{_SUFFIX[coef.dtype]}"), coef.new_empty(2 * G * H)
    lam = coef.new_zeros(B, H) if cell == "lstm" else None  # ∂L/∂c_t, carried backwards
    fn(T, B, H, coef.data_ptr(), A_h.data_ptr(), g.data_ptr(), None if lam is None else lam.data_ptr(),
       work.data_ptr())


def lstm_cells(lib, f, u, c0):
    """In place: u (n, B, H), holding u_t = i_t ⊙ g_t, becomes the LSTM's cell states c_t = u_t + f_t ⊙ c_{t-1}
    from c0 (B, H); f (n, B, H) the forget gates."""
    n, B, H = u.shape
    _check(("u", u, (n, B, H)), ("f", f, (n, B, H)), ("c0", c0, (B, H)))
    getattr(lib, f"lstm_cells_{_SUFFIX[u.dtype]}")(n, B, H, f.data_ptr(), u.data_ptr(), c0.data_ptr())
