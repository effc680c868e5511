r"""The two matrix products of a training step, in float32 on the CPU through oneDNN.

Outside its loops over steps, a step of an RNN is a few large products over all B·T rows at once:

    linear(x, W, b) = x·Wᵀ + b      the drive u_t = A_x·x_t + b for every step (and ∂L/∂x = ∂L/∂u·A_x),
    outer_sum(δ, x) = Σ_rows δᵀ·x    a weight gradient, ∂L/∂A_x = Σ_t δ_tᵀ x_t, ∂L/∂A_h = Σ_t δ_tᵀ h_{t-1}.

torch sends float32 products on the CPU to MKL, which on the AMD (Zen 5) core this was measured on runs them at
~95 GFLOP/s, about what AVX2 code can do there; the core's AVX-512 peak is ~255 (benchmarks/peak_flops.c). oneDNN,
also inside every x86 torch wheel, picks its kernels by instruction set and runs the same products at 100–200
GFLOP/s, 1.3–2.5× faster (benchmarks/bench_gemm.py prints both). The sums are the same up to their order, i.e. to
float32 rounding (tests/test_gemm.py bounds the difference from float64).

Everything else takes torch's own product: float64 (oneDNN has no double matmul), other devices, products under
MIN_MACS multiply-adds (where oneDNN saves little or nothing), and torch.func transforms (which need plain ops).
Set RNNLAB_GEMM=torch to send everything to torch.
"""

import os

import torch
import torch.nn.functional as F


def _find_pointwise():
    """oneDNN's x·wᵀ + b as torch.compile calls it, or None: RNNLAB_GEMM=torch, or a torch built without it."""
    if os.environ.get("RNNLAB_GEMM", "onednn") == "torch" or not torch.backends.mkldnn.is_available():
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


def _onednn(macs, *tensors):
    return (ONEDNN and macs >= MIN_MACS and not torch._C._are_functorch_transforms_active()
            and all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors))


def _dense(w):
    """w itself where it is row-major or the transpose of a row-major matrix, else a row-major copy."""
    return w if w.is_contiguous() or w.T.is_contiguous() else w.contiguous()


@torch.no_grad()
def linear(x, w, b=None):
    """x·wᵀ + b for x (…, K), w (N, K), b (N,) or None: a new contiguous tensor (…, N), outside autograd (it
    carries no gradient; `affine` is the differentiable one)."""
    if not _onednn(x.numel() * w.shape[0], x, w):
        return F.linear(x, w, b)
    # Dense rows, or their transpose: oneDNN's JIT kernels take those, and on any other strides (a column slice such
    # as A_x = A[:, H:]) it falls back to a reference loop, ~1000× slower. Copies only where needed; w is small.
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    out = _pointwise(rows, _dense(w), b, "none", [], "")
    # (rows, N) → (…, N) in place rather than as a view: the recurrence writes over this output, which autograd
    # forbids for a view made inside a Function
    return out.resize_(*x.shape[:-1], w.shape[0])


@torch.no_grad()
def outer_sum(dy, x):
    """dyᵀ·x, (N, K), for dy (M, N) and x (M, K): the sum over the M rows of their outer products, outside autograd
    (it carries no gradient)."""
    if dy.shape[1] <= x.shape[1] or not _onednn(x.numel() * dy.shape[1], dy, x):
        return dy.T @ x
    # As (xᵀ·dy)ᵀ. oneDNN reads dyᵀ in place (a transposed weight) but copies its input xᵀ into rows first, which
    # pays only where x is the narrower (N > K): there 1.5–2× faster than torch's, copy included, and not at N = K
    # (benchmarks/bench_gemm.py).
    return _pointwise(x.T, dy.contiguous().T, None, "none", [], "").T


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
    """F.linear(x, w, b), x·wᵀ + b, differentiable, with both products of its backward in oneDNN where linear's is."""
    if not _onednn(x.numel() * w.shape[0], x, w):
        return F.linear(x, w, b)
    return _Affine.apply(x, w, b)
