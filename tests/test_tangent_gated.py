"""The LSTM's and GRU's tangents and state adjoints in C (rnnlab.kernel.gated_tangent, gated_adjoint, lstm_cells):
against the same steps as PyTorch ops (the path RNNLAB_KERNEL=torch takes), against torch.func.jacrev and autograd
through the explicit cell, float32 against float64, and closed forms whose norms reach 1e-300."""
import math

import numpy as np
import pytest
import torch

import rnnlab.memory as memory
from rnnlab import kernel
from rnnlab.memory import gradient_curve, influence_curve, lyapunov_exponent
from rnnlab.models import GRU, LSTM, SequenceClassifier
from test_kernel import both_paths  # fn() through the C loops, then through the PyTorch ones (RNNLAB_KERNEL=torch)

U = 2.0**-53
CELLS = {"lstm": LSTM, "gru": GRU}


def layer(cell, D, H, seed=0):
    torch.manual_seed(seed)
    return CELLS[cell](D, H, init="torch").double()


def floats(B, T, D, seed=1):
    return torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def jacrev_influence(rnn, x):
    """∂h_t/∂x_0 per sequence, (T, batch, hidden, input), by reverse mode through the explicit loop."""
    J = torch.func.jacrev(lambda x0: rnn.loop(torch.cat([x0[:, None], x[:, 1:]], dim=1)))(x[:, 0])
    return torch.stack([J[b, :, :, b] for b in range(x.shape[0])], dim=1).detach().numpy()


# Shapes: K = input directions per sequence. K = 1 and B = 1, odd K and B (the C loop takes directions in pairs),
# H = 33 and 5 outside the sizes the kernel compiles with a constant H, 32 inside them.
SHAPES = [(32, 1, 1), (5, 3, 3), (33, 2, 4), (8, 4, 2)]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("H, B, D", SHAPES)
def test_gated_tangents_in_c_equal_the_pytorch_steps_and_jacrev(cell, H, B, D, monkeypatch):
    """J_t = ∂h_t/∂x_0 in chunks of 7 steps over T = 29 (so that (h, c) and the tangent cross chunk borders).

    Error analysis, float64: each step rounds a sum of ~(4H + 4) products per entry, T steps of that: relative to
    the sums of absolute values, ≤ T·(4H + 4)·u ≈ 29·136·1.1e-16 ≈ 4e-13 for H = 33, and the two paths and jacrev
    round in different orders; an entry that cancels is compared against the largest (atol)."""
    monkeypatch.setattr(memory, "CHUNK_ELEMENTS", 2 * H * B * D * 7)
    rnn, x = layer(cell, D, H), floats(B, 29, D)
    fast, slow = both_paths(lambda: influence_curve(rnn, x, full=True), monkeypatch)
    want = jacrev_influence(rnn, x)
    scale = np.abs(want).max()
    np.testing.assert_allclose(fast, slow, rtol=1e-11, atol=1e-13 * scale)
    np.testing.assert_allclose(fast, want, rtol=1e-11, atol=1e-13 * scale)
    # the curve's norms, taken in C from the tangents: Frobenius norms of the same Jacobians, ≤ (H·D + 3)·u more
    np.testing.assert_allclose(influence_curve(rnn, x), np.linalg.norm(want, axis=(2, 3)).mean(1), rtol=1e-11)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_tangents_follow_float64_within_their_rounding(cell):
    """The same contracting network (Lyapunov exponent < 0, asserted) in float32 and float64.

    Error analysis: a float32 step rounds its states, gates and the ~(4H + 4)-term sums of its tangent, each
    ≤ (4H + 8)·u₃₂ relative (u₃₂ = 2⁻²⁴); along a contracting trajectory the errors of earlier steps shrink rather
    than grow, so after t steps the tangent is off by ≤ t·(4H + 8)·u₃₂ relative, at most T·(4H + 8)·u₃₂ ≈ 2.3e-3 at
    T = 100, H = 16; the norm in float64 adds nothing comparable."""
    H, T = 16, 100
    rnn, x = layer(cell, 3, H), floats(2, T, 3)
    assert lyapunov_exponent(rnn, x) < 0
    exact = influence_curve(rnn, x)
    single = influence_curve(rnn.float(), x.float())
    np.testing.assert_allclose(single, exact, rtol=T * (4 * H + 8) * 2.0**-24)
    assert not np.array_equal(single, exact)  # float32 did run: its rounding shows


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("B", [1, 3])
def test_lyapunov_exponent_with_renormalisation_in_c_equals_the_pytorch_steps(cell, B, monkeypatch):
    """The renormalised tangent (∂h, ∂c) in C, in chunks of 7 steps, against the PyTorch steps: the same numbers in
    another order of rounding, averaged over T·B logs: ≤ (4H + 8)·u relative per step, far below 1e-12."""
    monkeypatch.setattr(memory, "CHUNK_ELEMENTS", 8 * 16 * B * 7)
    rnn, x = layer(cell, 4, 16, seed=3), floats(B, 60, 4)
    fast, slow = both_paths(lambda: lyapunov_exponent(rnn, x, seed=2), monkeypatch)
    assert fast == pytest.approx(slow, rel=1e-12, abs=1e-14)


def restarted_gradients(rnn, x, loss):
    """‖∂L/∂h_t‖ for every t by T backward passes through the explicit cell, h_t a leaf (c_t held fixed)."""
    lstm = isinstance(rnn, LSTM)
    h, c, states = x.new_zeros(x.shape[0], rnn.hidden_size), x.new_zeros(x.shape[0], rnn.hidden_size), []
    for t in range(x.shape[1]):
        h, c = rnn.cell(x[:, t], h, c) if lstm else (rnn.cell(x[:, t], h), None)
        states.append((h.detach(), None if c is None else c.detach()))
    grads = []
    for t, (h, c) in enumerate(states):
        leaf = h.clone().requires_grad_()
        all_states, h_next, c_next = [s for s, _ in states[:t]] + [leaf], leaf, c
        for s in range(t + 1, x.shape[1]):
            h_next, c_next = rnn.cell(x[:, s], h_next, c_next) if lstm else (rnn.cell(x[:, s], h_next), None)
            all_states.append(h_next)
        (g,) = torch.autograd.grad(loss(torch.stack(all_states, 1)), leaf)
        grads.append(torch.linalg.vector_norm(g).item())
    return np.array(grads)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("H, B", [(5, 1), (33, 3)])
def test_gradient_curve_through_the_c_adjoint_equals_autograd(cell, H, B, monkeypatch):
    """‖∂L/∂h_t‖ of a loss on every state: the C adjoint against autograd through the unrolled loop (the PyTorch
    path) and against one backward pass per step; float64, T = 15 steps of ≤ (4H + 4)-term sums: ≤ 1e-12."""
    rnn, x = layer(cell, 3, H, seed=5), floats(B, 15, 3, seed=6)
    loss = lambda s: s.pow(3).sum() + 0.5 * s[:, -1].pow(2).sum()  # noqa: E731 (every h_t gets its own share)
    fast, slow = both_paths(lambda: gradient_curve(rnn, x, loss=loss), monkeypatch)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    np.testing.assert_allclose(fast, restarted_gradients(rnn, x, loss), rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_curve_of_a_classifier_through_the_c_adjoint_equals_autograd(cell, monkeypatch):
    torch.manual_seed(2)
    model = SequenceClassifier(vocab_size=11, embedding_dim=3, hidden_size=6, cell=cell, head="flatten", seq_len=9,
                               num_classes=3, init="torch").double()
    x, y = torch.randint(11, (4, 9), generator=torch.Generator().manual_seed(3)), torch.tensor([0, 2, 1, 1])
    fast, slow = both_paths(lambda: gradient_curve(model, x, y), monkeypatch)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    # a loss may modify the states it is given in place, as it may on the other paths
    relu = gradient_curve(model.rnn, model.embed(x).detach(), loss=lambda s: s.relu_().sum())
    assert np.isfinite(relu).all() and relu.max() > 0


def exact_cell(cell, dtype, H=5, D=3):
    """A gated cell whose tangent halves exactly each step, with A_h ≠ 0 in the C loop's matrix product.

    All inputs are 0 and every bias 0, so h_t = 0 (and c_t = 0) for all t, and every gate sits at σ(0) = 1/2, tanh
    at 0 (tanh' = 1): exact numbers. GRU: r = z = 1/2, the coefficients α = [0; 0; (1 − z)·r] = [0; 0; 1/4], so
    ∂h_t = A_{n,h}·∂h_{t-1}/4 + ∂h_{t-1}/2 = ½·P·∂h_{t-1} with A_{n,h} = 2·P − 2·I (P a signed cyclic shift),
    from ∂h_0 = ½·A_{n,x}. LSTM: W = [0; 0; ½; 0], f = k = ½, and A_{g,h} = 0 (the other blocks of A_h random), so
    ∂c_t = ½·∂c_{t-1}, ∂h_t = ½·∂c_t, from ∂c_0 = ½·A_{g,x}: ∂h_t/∂x_0 = 2^-(t+2)·A_{g,x}. Every sum is of dyadic
    numbers with few binary digits, scaled alike: exact."""
    rnn = CELLS[cell](D, H, init="torch").to(dtype)
    A_x = torch.tensor([[1.0, -0.5, 0.25], [0.75, 1.0, -1.0], [-0.5, 0.125, 0.5], [1.0, 1.0, 1.0],
                        [0.25, -0.75, 0.5]], dtype=dtype)  # dyadic, the block that drives the tangent
    P = torch.roll(torch.eye(H, dtype=dtype), 1, dims=0) * torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0], dtype=dtype)
    with torch.no_grad():
        rnn.b.zero_()
        if cell == "gru":
            rnn.b_h.zero_()
            rnn.A[:, :H] = torch.cat([torch.randn(2 * H, H, dtype=dtype), 2 * P - 2 * torch.eye(H, dtype=dtype)])
            rnn.A[:, H:] = torch.cat([torch.zeros(2 * H, D, dtype=dtype), A_x])  # r, z: 0; n: A_x
        else:
            rnn.A[:, :H] = torch.randn(4 * H, H, dtype=dtype)
            rnn.A[2 * H : 3 * H, :H] = 0
            rnn.A[:, H:] = torch.cat([torch.zeros(2 * H, D, dtype=dtype), A_x, torch.zeros(H, D, dtype=dtype)])
    first = 0.5 if cell == "gru" else 0.25  # ‖J_0‖ = first·‖A_x‖_F
    return rnn, first * np.linalg.norm(A_x.double().numpy())


# (dtype, T, what 2^-t crosses): down to 2^-1001 ≈ 4.7e-302 in float64 (entries ≥ 2^-1004 > 2.2e-308, normal),
# to 2^-121 in float32 (entries ≥ 2^-124 > 1.2e-38)
RANGES = [(torch.float64, 1000, (1e-30, 1e-150, 1e-300)), (torch.float32, 120, (1e-20, 1e-30))]


@pytest.mark.parametrize("path", ["kernel", "torch"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype, T, crosses", RANGES)
def test_gated_curves_halve_exactly_down_to_1e_minus_300(cell, dtype, T, crosses, path, monkeypatch):
    """influence_curve = 2^-t·‖J_0‖ and, for the GRU, gradient_curve of L = Σ h_{T-1} = 2^-(T-1-t)·√(B·H): the vectors
    are exact (exact_cell), so only the norms round: ≤ (m + 3)·u for m numbers, the batch mean (B + 2)·u more,
    NumPy's first norm as much again: rtol = 2·(m + B + 5)·u. (The LSTM's ∂L/∂h_t is 0 here for t < T − 1: with
    c_t held fixed it flows back through A_{g,h} = 0 only.)"""
    if path == "torch":
        monkeypatch.setattr(kernel, "load", lambda: None)
    B, (rnn, first) = 2, exact_cell(cell, dtype)
    H, D = rnn.hidden_size, rnn.input_size
    x = torch.zeros(B, T, D, dtype=dtype)
    t = np.arange(T)
    expected = np.ldexp(first, -t)
    np.testing.assert_allclose(influence_curve(rnn, x), expected, rtol=2 * (H * D + B + 5) * U, atol=0)
    assert all(expected.min() < c < expected.max() for c in crosses)
    if cell == "gru":
        curve = gradient_curve(rnn, x, loss=lambda s: s[:, -1].sum())
        np.testing.assert_allclose(curve, np.ldexp(math.sqrt(B * H), -(T - 1 - t)), rtol=2 * (B * H + 5) * U, atol=0)
        # every step halves a random tangent, up to the rounding of a few sums (≤ 8 ulp), and λ is kept in the dtype
        assert lyapunov_exponent(rnn, x) == pytest.approx(math.log(0.5), rel=8 * torch.finfo(dtype).eps)


def test_the_lstm_cell_states_in_c_equal_the_recurrence():
    """c_t = u_t + f_t ⊙ c_{t-1}, float64. The compiler may fuse the multiply-add (one rounding instead of two): a
    step differs by ≤ u·|f_t ⊙ c_{t-1}| ≤ u·max|c|, and earlier differences shrink by f_t ≤ 1, so after T steps by
    ≤ T·u·max|c|."""
    g = torch.Generator().manual_seed(0)
    u, f, c0 = (torch.randn(9, 3, 7, generator=g, dtype=torch.float64), torch.rand(9, 3, 7, generator=g,
                dtype=torch.float64), torch.randn(3, 7, generator=g, dtype=torch.float64))
    want, c = [], c0
    for t in range(9):
        c = u[t] + f[t] * c
        want.append(c)
    got = u.clone()
    kernel.lstm_cells(kernel.load(), f, got, c0)
    want = torch.stack(want)
    torch.testing.assert_close(got, want, rtol=0, atol=9 * U * want.abs().max().item())


def test_the_gated_loops_refuse_what_they_would_misread():
    lib, H = kernel.load(), 4
    coef, A_hT = torch.zeros(5, 2, 6 * H), torch.zeros(4, H, H)
    tau0, out = torch.zeros(2, 2, 3, H), torch.zeros(5, 2, 2, 3, H)
    with pytest.raises(ValueError, match="cell must be one of 'lstm', 'gru', got 'simple_rnn'"):
        kernel.gated_tangent(lib, "simple_rnn", coef, A_hT, tau0, out)
    with pytest.raises(ValueError, match=r"tau0 must have shape \(2, 2, 3, 4\), got \(2, 1, 3, 4\)"):
        kernel.gated_tangent(lib, "lstm", coef, A_hT, torch.zeros(2, 1, 3, H), out)
    with pytest.raises(ValueError, match=r"A_hT must have shape \(3, 4, 4\)"):
        kernel.gated_tangent(lib, "gru", torch.zeros(5, 2, 4 * H), A_hT, torch.zeros(2, 1, 3, H), out)
    with pytest.raises(ValueError, match="C-contiguous CPU tensors of one dtype"):
        kernel.gated_tangent(lib, "lstm", coef, A_hT.double(), tau0, out)
    with pytest.raises(ValueError, match="renorm=True needs norms"):
        kernel.gated_tangent(lib, "lstm", coef, A_hT, tau0, out, renorm=True)
    with pytest.raises(ValueError, match=r"g must have shape \(5, 2, 4\)"):
        kernel.gated_adjoint(lib, "lstm", coef, torch.zeros(4 * H, H), torch.zeros(5, 3, H))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernel.lstm_cells(lib, torch.zeros(5, 2, H), torch.zeros(2, 5, H).transpose(0, 1), torch.zeros(2, H))
