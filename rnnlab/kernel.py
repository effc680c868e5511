"""The SimpleRNN's loops over steps in C, compiled once per machine and called through ctypes.

A training step of the lecture's model is 500 dependent steps of a 32×32 product: the arithmetic takes well under a
millisecond, and what costs is the per-step overhead of calling PyTorch from Python (a few µs an op, four ops a
step). `_kernel.c` runs those loops in C:

    forward    s_t ← φ(s_t + A_h·h_{t-1}),            s_t = u_t = A_x·x_t + b on entry
    backward   δ_t = g_t ⊙ φ'(z_t),   g_t = ∂L/∂h_t (output) + δ_{t+1}·A_h
    tangents   τ_t = φ'(z_t) ⊙ (A_h·τ_{t-1})       (the Jacobian ∂h_t/∂x_0 carried forward, rnnlab.memory)

and leaves everything that is one big operation (the input drive u_t, the weight gradients) to PyTorch.

It is compiled with the Zig toolchain that the `ziglang` package brings (`python -m ziglang cc`, a clang), so no
system compiler is needed; `$CC` or `cc` is tried when ziglang is missing. The library lands in the cache
($RNNLAB_KERNEL_DIR, else $XDG_CACHE_HOME/rnnlab/kernels, else ~/.cache/rnnlab/kernels) under a name that hashes
the source, the flags, the compiler and the CPU, so the first call on a machine compiles (a few seconds, the first
time Zig runs) and every later process loads it. If no compiler works, or RNNLAB_KERNEL=torch is set, `load()`
returns None and SimpleRNN runs the same loops as PyTorch ops (slower, same numbers up to float32 rounding).
"""
import ctypes
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
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
    "rnn_forward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 3 + [ctypes.c_int],
    "rnn_backward": [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 2 + [ctypes.c_int64] * 2 + [ctypes.c_void_p] * 2
                    + [ctypes.c_int],
    "rnn_tangent": [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 5 + [ctypes.c_int],
}


def _writable(path):
    """Whether path could be written or created: its nearest existing ancestor is a writable folder."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK)


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


def build(cc, folder=None):
    """Compile _kernel.c with `cc` (a command as a list) into `folder` (default: cache_dir()), unless already there.

    The file is written under a temporary name and renamed, so processes building at once never load half a file.
    Returns the library's path; raises RuntimeError with the compiler's message if it fails.
    """
    source = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([source, " ".join(FLAGS).encode(), _version(cc).encode(), _cpu().encode(),
                                     platform.machine().encode()])).hexdigest()[:16]
    folder = Path(folder) if folder is not None else cache_dir()
    path = folder / f"rnn_kernel-{key}.so"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".rnn_kernel-", suffix=".so")
    os.close(fd)
    env = dict(os.environ)
    if cc[1:3] == ["-m", "ziglang"] and not _writable(files.user_cache()):  # Zig's own cache lives there by default
        env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(folder / "zig"))
    try:
        out = subprocess.run([*cc, *FLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True,
                             timeout=300, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cc)} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _open(path):
    lib = ctypes.CDLL(str(path))
    for name, types in _SIGNATURES.items():
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"{name}_{suffix}")
            fn.argtypes, fn.restype = types, None
    return lib


@functools.cache
def load():
    """The compiled kernel (a ctypes library), or None when RNNLAB_KERNEL=torch or no compiler could build it.

    Built on the first call of a process into cache_dir(), or a fresh temporary folder where that cannot be written
    (see the module docstring); a failure is reported once as a warning.
    """
    if os.environ.get("RNNLAB_KERNEL", "").lower() == "torch":
        return None
    errors = []
    for cc in compilers():
        for folder in (cache_dir(), None):
            try:
                # None: the cache cannot be written; a fresh private folder (mkdtemp: mode 0700), so that nothing
                # another user put in a shared temporary folder is ever loaded
                return _open(build(cc, folder if folder is not None else tempfile.mkdtemp(prefix="rnnlab-kernel-")))
            except (OSError, RuntimeError, AttributeError, subprocess.SubprocessError) as e:
                errors.append(f"{cc[-1] if len(cc) == 1 else 'ziglang'} into {folder or 'a temporary folder'}: {e}")
    warnings.warn("rnnlab: the SimpleRNN's C kernel is unavailable, so it runs its loops as PyTorch ops (slower): "
                  + ("; ".join(errors) or "no C compiler found (pip install ziglang)"), RuntimeWarning, stacklevel=2)
    return None


def supports(t):
    """Whether the kernel takes this tensor's kind: float32 or float64 on the CPU."""
    return t.device.type == "cpu" and t.dtype in _SUFFIX


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
    fn = getattr(lib, f"rnn_forward_{_SUFFIX[states.dtype]}")
    fn(T, B, H, states.data_ptr(), h0.data_ptr(), A_hT.data_ptr(), NONLINEARITY[nonlinearity])


def backward(lib, states, grad_states, delta, A_h, nonlinearity):
    """Writes δ_t into delta (T, B, H) from the states h_t (T, B, H) and ∂L/∂h_t from the output, grad_states
    (T, B, H) with any strides along T and B (a transposed batch-major gradient is read in place)."""
    T, B, H = states.shape
    if grad_states.stride(2) != 1 or grad_states.dtype != states.dtype:
        grad_states = grad_states.contiguous().to(states.dtype)
    _check(("states", states, (T, B, H)), ("delta", delta, (T, B, H)), ("A_h", A_h, (H, H)))
    if tuple(grad_states.shape) != (T, B, H):
        raise ValueError(f"grad_states must have shape {(T, B, H)}, got {tuple(grad_states.shape)}")
    fn = getattr(lib, f"rnn_backward_{_SUFFIX[states.dtype]}")
    fn(T, B, H, states.data_ptr(), grad_states.data_ptr(), grad_states.stride(0), grad_states.stride(1),
       delta.data_ptr(), A_h.data_ptr(), NONLINEARITY[nonlinearity])


def tangent(lib, d, A_hT, tau0, out, norms=None, renorm=False):
    """τ_t = d_t ⊙ (A_h·τ_{t-1}) for the n steps of d (n, B, H), from tau0 (B, K, H), into out (n, B, K, H); writes
    ‖τ_t‖ over K and H into norms (n, B) float64, if given, with LAPACK's scaling, so that it is exact wherever
    float64 holds it (a plain Σ τ² would underflow below 1e-154). renorm: each sequence's τ_t is divided by its
    norm (at least the smallest normal float) before the next step; needs norms."""
    n, B, H = d.shape
    K = tau0.shape[1] if tau0.dim() == 3 else -1
    _check(("d", d, (n, B, H)), ("A_hT", A_hT, (H, H)), ("tau0", tau0, (B, K, H)), ("out", out, (n, B, K, H)))
    if norms is not None and not (norms.dtype == torch.float64 and norms.is_contiguous()
                                  and tuple(norms.shape) == (n, B)):
        raise ValueError(f"norms must be a C-contiguous float64 tensor of shape {(n, B)}, got {norms.dtype} "
                         f"{tuple(norms.shape)} with strides {norms.stride()}")
    if renorm and norms is None:
        raise ValueError("renorm=True needs norms, where the norms are written")
    fn = getattr(lib, f"rnn_tangent_{_SUFFIX[d.dtype]}")
    fn(n, B, K, H, d.data_ptr(), A_hT.data_ptr(), tau0.data_ptr(), out.data_ptr(),
       None if norms is None else norms.data_ptr(), int(renorm))
