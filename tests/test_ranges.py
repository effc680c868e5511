"""The curves are exact over the whole floating-point range: closed forms of linear RNNs whose curves cross 1e-30,
1e-150 and 1e-300 in float64 and 1e-20 … 1e20 in float32, through the C kernel and through the PyTorch loops.

The oracle: h_t = a·h_{t-1} + A_x·x_t with a = 2^±1 and A_x, x_0 dyadic (few binary digits). Multiplying by a power of
two is exact, and so are the sums of few dyadic numbers, so every vector a curve measures is an exact scaled copy,
by a^t, of its first one, which is O(1):

    ∂h_t/∂x_0 = a^t·A_x,    h_t(x) − h_t(x') = a^t·A_x·(x_0 − x'_0)  (x_t = 0 for t ≥ 1),
    ∂L/∂h_t = a^(T−1−t)·1,  ∂L/∂x_t = a^(T−1−t)·A_xᵀ·1               (L = Σ_batch Σ_i h_{T-1,i})

so curve[t] = |a|^t·curve_0 (or |a|^(T−1−t)), with curve_0 computed by NumPy in float64. Error analysis: what is
left is the rounding of the norms (and of the batch mean): a norm of m numbers rounds each scaled entry, square and
partial sum once, ≤ (m + 3)·u relative (u = 2⁻⁵³), the batch mean of B such norms adds ≤ (B + 2)·u, NumPy's norm of
the first vector as much again: rtol = 2·(m + B + 5)·u. A norm in float32, or in float64 without scaling, reads 0 or
inf over most of these curves.
"""
import numpy as np
import pytest
import torch

from rnnlab import kernel
from rnnlab.memory import gradient_curve, influence_curve, lyapunov_exponent, perturbation_curve, saliency_curve
from rnnlab.models import SimpleRNN

U = 2.0**-53
D, H, B = 3, 5, 2
A_X = [[1.0, -0.5, 0.25], [0.75, 1.0, -1.0], [-0.5, 0.125, 0.5], [1.0, 1.0, 1.0], [0.25, -0.75, 0.5]]  # dyadic
# (dtype, a, T, what a^t crosses: down to 2^-999 = 1.9e-301 in float64, 2^±119 = 1.5e-36 or 6.6e35 in float32) while
# every entry stays a normal number of the dtype (≥ 2^-1002 > 2.2e-308, ≥ 2^-122 > 1.2e-38, ≤ 2^121 < 3.4e38)
RANGES = [(torch.float64, 0.5, 1000, (1e-30, 1e-150, 1e-300)), (torch.float32, 0.5, 120, (1e-20,)),
          (torch.float32, 2.0, 120, (1e20,))]


@pytest.fixture(params=["kernel", "torch"])
def path(request, monkeypatch):
    """The C kernel, or the same loops as PyTorch ops (kernel.load() is None, as with RNNLAB_KERNEL=torch)."""
    if request.param == "kernel":
        assert kernel.load() is not None
    else:
        monkeypatch.setattr(kernel, "load", lambda: None)
    return request.param


def linear_rnn(a, dtype):
    rnn = SimpleRNN(D, H, nonlinearity="linear", bias=False).to(dtype)
    with torch.no_grad():
        rnn.A.copy_(torch.cat([a * torch.eye(H), torch.tensor(A_X)], dim=1))
    return rnn


def inputs(T, dtype):
    """Dyadic x_0 per sequence, x_t = 0 after it."""
    x = torch.zeros(B, T, D, dtype=dtype)
    x[:, 0] = torch.tensor([[1.0, 0.5, -2.0], [0.25, -1.0, 1.5]])
    return x


def assert_scaled(curve, first, a, steps, m, crosses):
    """curve[t] == a^steps[t]·first to the rounding of norms of m numbers (see the module docstring), over a range
    that crosses each of `crosses`."""
    expected = np.ldexp(first, round(np.log2(a)) * steps)
    np.testing.assert_allclose(curve, expected, rtol=2 * (m + B + 5) * U, atol=0)
    assert curve.dtype == np.float64 and all(expected.min() < c < expected.max() for c in crosses)


@pytest.mark.parametrize("dtype, a, T, crosses", RANGES)
def test_influence_curve_is_a_to_the_t_times_the_norm_of_A_x_over_the_whole_range(path, dtype, a, T, crosses):
    curve = influence_curve(linear_rnn(a, dtype), inputs(T, dtype))
    assert_scaled(curve, np.linalg.norm(A_X), a, np.arange(T), H * D, crosses)


@pytest.mark.parametrize("dtype, a, T, crosses", RANGES)
def test_perturbation_curve_is_a_to_the_t_times_the_first_difference_over_the_whole_range(path, dtype, a, T,
                                                                                          crosses):
    x = inputs(T, dtype)
    alt = torch.tensor([0.5, 0.5, 0.5], dtype=dtype)
    first = np.linalg.norm((x[:, 0].double() - alt.double()).numpy() @ np.array(A_X).T, axis=1).mean()
    curve = perturbation_curve(linear_rnn(a, dtype), x, alt)
    assert_scaled(curve, first, a, np.arange(T), H, crosses)


@pytest.mark.parametrize("dtype, a, T, crosses", RANGES)
def test_gradient_and_saliency_curves_are_a_to_the_T_minus_1_minus_t_over_the_whole_range(path, dtype, a, T,
                                                                                          crosses):
    rnn, x, last = linear_rnn(a, dtype), inputs(T, dtype), lambda s: s[:, -1].sum()
    steps = T - 1 - np.arange(T)
    gradient = gradient_curve(rnn, x, loss=last)
    assert_scaled(gradient, np.sqrt(B * H), a, steps, B * H, crosses)  # ∂L/∂h_{T-1} = 1 for each of B·H entries
    saliency = saliency_curve(rnn, x, loss=last)
    assert_scaled(saliency, np.sqrt(B) * np.linalg.norm(np.ones(H) @ np.array(A_X)), a, steps, B * D, crosses)


def test_lyapunov_exponent_through_the_kernel_reads_a_shrink_by_2_to_the_minus_600_per_step():
    """A_h = 2^-600·Q, Q orthogonal: every step shrinks the tangent by exactly 2^-600 (up to Q's rounding, a few u),
    so λ = −600·ln 2. Its square, 2^-1200, is below float64's range: the norm must be taken scaled."""
    Q, _ = torch.linalg.qr(torch.randn(H, H, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    rnn = linear_rnn(0.0, torch.float64)
    with torch.no_grad():
        rnn.A[:, :H] = 2.0**-600 * Q
    assert kernel.load() is not None
    assert lyapunov_exponent(rnn, inputs(50, torch.float64)) == pytest.approx(-600 * np.log(2), rel=1e-13)
