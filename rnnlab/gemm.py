r"""The matrix products of a training step outside its loops over steps, in float32 on the CPU, fast.

Outside its loops, a step of an RNN is a few large products over all B·T rows at once:

    linear(x, W, b) = x·Wᵀ + b      the drive u_t = A_x·x_t + b for every step (and ∂L/∂x = ∂L/∂u·A_x),
    outer_sum(δ, x) = Σ_rows δᵀ·x    a weight gradient, ∂L/∂A_x = Σ_t δ_tᵀ x_t, ∂L/∂A_h = Σ_t δ_tᵀ h_{t-1}.

torch sends float32 products on the CPU to MKL, which on the AMD (Zen 5) core this was measured on runs them at
~95 GFLOP/s, about what AVX2 code can do there; the core's AVX-512 peak is ~255 (benchmarks/peak_flops.c).
`linear` goes to oneDNN instead, also inside every x86 torch wheel, which picks its kernels by instruction set
(150–205 GFLOP/s on these shapes). `outer_sum` runs in rnnlab's C kernel (`outer_sum` in _kernel.c, 170–245
GFLOP/s): a BLAS library wants the summed dimension contiguous, so it must first transpose an operand laid out
row by row, as every state and gradient here is. benchmarks/bench_gemm.py prints all three. The sums are the same
up to their order, i.e. to rounding (tests/test_gemm.py bounds the difference from float64).

Everything else takes torch's own product: `linear` in float64 (oneDNN has no double matmul), on CPUs other than
x86-64, on other devices, under MIN_MACS multiply-adds (where oneDNN saves little or nothing) and inside torch.func
transforms (which need plain ops); `outer_sum` where the C kernel is not built (RNNLAB_KERNEL=torch, no compiler)
and inside torch.func. RNNLAB_GEMM=torch sends `linear` to torch.
"""

import os
import platform

import torch
import torch.nn.functional as F

from . import kernel as compiled


def _find_pointwise():
    """oneDNN's x·wᵀ + b as torch.compile calls it, or None: RNNLAB_GEMM=torch, a torch built without it, or a CPU
    other than x86-64 (where oneDNN's float32 kernels may be its reference loops, and MKL is not what torch uses)."""
    if (os.environ.get("RNNLAB_GEMM", "onednn") == "torch" or not torch.backends.mkldnn.is_available()
            or platform.machine().lower() not in ("x86_64", "amd64")):
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):  # the op is registered only where torch was built with oneDNN
        return None


_pointwise = _find_pointwise()
ONEDNN = _pointwise is not None
# Below ~16 M multiply-adds (the SimpleRNN's 10,000·32·32 table at the lecture's sizes) oneDNN saves ~0.1 ms with
# its operands in cache (0.13 against 0.24 ms) and loses it without (0.88 against 0.65 ms right after a Keras step)
MIN_MACS = 1 << 24


def _plain(*tensors):
    """float32 or float64 tensors of one dtype on the CPU, outside torch.func: where these products may step in."""
    return (not torch._C._are_functorch_transforms_active()
            and all(compiled.supports(t) and t.dtype == tensors[0].dtype for t in tensors))


def _onednn(macs, *tensors):
    return ONEDNN and macs >= MIN_MACS and _plain(*tensors) and tensors[0].dtype == torch.float32


def _dense(w):
    """w itself where it is row-major or the transpose of a row-major matrix, else a row-major copy."""
    return w if w.is_contiguous() or w.T.is_contiguous() else w.contiguous()


@torch.no_grad()
def linear(x, w, b=None):
    """x·wᵀ + b for x (…, K), w (N, K), b (N,) or None: a new contiguous tensor (…, N), outside autograd (it
    carries no gradient; `affine` is the differentiable one)."""
    rows = x.reshape(-1, x.shape[-1])  # a copy only where x is not already rows × K in memory
    if _onednn(x.numel() * w.shape[0], x, w):
        # Dense rows, or their transpose: oneDNN's JIT kernels take those, and on any other strides (a column slice
        # such as A_x = A[:, H:]) it falls back to a reference loop, ~1000× slower. w is small.
        out = _pointwise(rows.contiguous(), _dense(w), b, "none", [], "")
    else:
        out = F.linear(rows, w, b)
    # (rows, N) → (…, N) in place rather than as a view: the recurrence writes over this output, which autograd
    # forbids for a view made inside a Function
    return out.resize_(*x.shape[:-1], w.shape[0])


def _kernel(*tensors):
    """The C kernel where outer_sum can run in it, else None."""
    return compiled.load() if _plain(*tensors) else None


@torch.no_grad()
def outer_sum(dy, x):
    """dyᵀ·x, (N, K), for dy (M, N) and x (M, K): the sum over the M rows of their outer products, outside autograd
    (it carries no gradient)."""
    lib = _kernel(dy, x)
    if lib is None:
        return dy.T @ x
    return compiled.outer_sum(lib, dy.contiguous(), x.contiguous())


class _Affine(torch.autograd.Function):
    """linear with its gradients: ∂L/∂x = ∂L/∂y·w, ∂L/∂w = outer_sum(∂L/∂y, x), ∂L/∂b = Σ_rows ∂L/∂y."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return linear(x, w, b)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dy = dy.reshape(-1, dy.shape[-1])
        dx = linear(dy, w.T).view(x.shape) if ctx.needs_input_grad[0] else None
        dw = outer_sum(dy, x.reshape(-1, x.shape[-1])) if ctx.needs_input_grad[1] else None
        db = dy.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


def affine(x, w, b=None):
    """F.linear(x, w, b), x·wᵀ + b, differentiable: its product and ∂L/∂x = ∂L/∂y·w through `linear`, the weight
    gradient through `outer_sum`, wherever either steps in; F.linear itself elsewhere."""
    if _onednn(x.numel() * w.shape[0], x, w) or _kernel(x, w) is not None:
        return _Affine.apply(x, w, b)
    return F.linear(x, w, b)
