"""rnnlab.gemm: oneDNN's float32 products and the C kernel's sums over rows, held to their precision's own error
bound against float64 (float32) or against exact sums of float64 products (float64, via float64 of both).

Error analysis (every test below): a dot product of K terms computed in floating point, summed in any order, with
or without fused multiply-adds, is within γ_K·Σ_k |a_k·b_k| of the exact one, γ_K = K·u/(1 − K·u) (Higham,
Accuracy and Stability of Numerical Algorithms, §3.1), u the unit roundoff (2⁻²⁴ float32, 2⁻⁵³ float64); a bias
adds one more rounding. The bound is elementwise and holds on every CPU whatever order the kernels pick. Each test
computes it from |x|·|w|ᵀ in float64, so it is as tight at K = 32 (where a product rounded to bfloat16 would be
~10⁴× outside it) as at K = 16,000. Each test also checks that oneDNN or the C kernel ran (spies on
gemm._pointwise and kernel.outer_sum), so that a fallback to torch's product cannot pass for them.
"""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab import gemm, kernel

needs_onednn = pytest.mark.skipif(not gemm.ONEDNN, reason="this torch has no oneDNN: linear falls back to torch's")
needs_kernel = pytest.mark.skipif(kernel.load() is None, reason="no C kernel: outer_sum falls back to torch's")
U = 2.0 ** -24  # float32's unit roundoff
UNIT = {torch.float32: U, torch.float64: 2.0 ** -53}


def gamma(k, u=U):
    return (k + 1) * u / (1 - (k + 1) * u)  # K products and one bias: K + 1 roundings at most


def spy_on(monkeypatch, module, name):
    count, real = [], getattr(module, name)

    def spy(*args):
        count.append(1)
        return real(*args)
    monkeypatch.setattr(module, name, spy)
    return count


@pytest.fixture
def calls(monkeypatch):
    """How many products oneDNN ran during the test."""
    return spy_on(monkeypatch, gemm, "_pointwise")


@pytest.fixture
def c_calls(monkeypatch):
    """How many sums over rows the C kernel ran during the test."""
    return spy_on(monkeypatch, kernel, "outer_sum")


def within_bound(got, exact, magnitude, k, u=U):
    """|got − exact| ≤ γ_{K+1}·(|a|·|b| summed), elementwise."""
    err = (got.double() - exact).abs()
    bound = gamma(k, u) * magnitude
    assert bool((err <= bound).all()), f"max err/bound {(err / bound.clamp_min(1e-300)).max().item():.3g}"


@needs_onednn
@pytest.mark.parametrize("rows, k, n", [(16000, 32, 128), (16000, 128, 32), (10000, 32, 64), (2000, 64, 512)])
def test_linear_is_as_accurate_as_float32_allows(rows, k, n, calls):
    g = torch.Generator().manual_seed(rows + k + n)
    x, w, b = torch.randn(rows, k, generator=g), torch.randn(n, k, generator=g), torch.randn(n, generator=g)
    got = gemm.linear(x, w, b)
    assert calls and got.shape == (rows, n) and got.dtype == torch.float32 and got.is_contiguous()
    exact = x.double() @ w.double().T + b.double()
    within_bound(got, exact, x.double().abs() @ w.double().abs().T + b.double().abs(), k)


@needs_onednn
def test_linear_reads_time_major_views_and_keeps_leading_dims(calls):
    """The drive u = A_x·x_t + b is taken from x.transpose(0, 1), (T, batch, K), not contiguous."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(32, 500, 16, generator=g), torch.randn(96, 16, generator=g)
    got = gemm.linear(x.transpose(0, 1), w)
    assert calls and got.shape == (500, 32, 96) and got.is_contiguous() and got._base is None
    exact = x.transpose(0, 1).double() @ w.double().T
    within_bound(got, exact, x.transpose(0, 1).double().abs() @ w.double().abs().T, 16)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rows, n, k", [(16000, 128, 32), (15968, 96, 32), (4000, 512, 128), (16000, 32, 32),
                                        (1000, 13, 7), (300, 9, 40), (3, 1, 1), (0, 4, 5)])
def test_outer_sum_is_as_accurate_as_the_precision_allows(rows, n, k, dtype, c_calls):
    """dyᵀ·x summed over up to 16,000 rows, a weight gradient: full register blocks (8 × 32 floats on AVX-512,
    whatever this CPU takes), their tails in n and k, and no rows at all (zeros). float64's exact value is taken
    as the float64 product of the float64 inputs, whose own error (γ at 2⁻⁵³) is added to the bound."""
    g = torch.Generator().manual_seed(rows + n)
    dy, x = torch.randn(rows, n, generator=g, dtype=dtype), torch.randn(rows, k, generator=g, dtype=dtype)
    got = gemm.outer_sum(dy, x)
    assert c_calls and got.shape == (n, k) and got.dtype == dtype
    magnitude = dy.double().abs().T @ x.double().abs()
    slack = 2 if dtype == torch.float64 else 1  # the oracle's own rounding, as large as the kernel's
    within_bound(got, dy.double().T @ x.double(), slack * magnitude, rows, UNIT[dtype])


@needs_kernel
def test_outer_sum_reads_views_of_saved_states(c_calls):
    """As BPTT calls it: δ[1:] and h[:-1] viewed as rows, both views into larger (T, batch, hidden) tensors."""
    g = torch.Generator().manual_seed(2)
    delta, hs = torch.randn(500, 32, 128, generator=g), torch.randn(500, 32, 32, generator=g)
    dy, x = delta[1:].view(-1, 128), hs[:-1].view(-1, 32)
    got = gemm.outer_sum(dy, x)
    assert c_calls
    within_bound(got, dy.double().T @ x.double(), dy.double().abs().T @ x.double().abs(), dy.shape[0])


@needs_onednn
@needs_kernel
def test_affine_gradients_against_float64_autograd(calls, c_calls):
    """Oracle: F.linear's autograd in float64. ∂L/∂x sums n = 128 products, ∂L/∂w sums the 8,000 rows, ∂L/∂b too."""
    g = torch.Generator().manual_seed(3)
    x, w, b, dy = (torch.randn(*s, generator=g) for s in ((250, 32, 32), (128, 32), (128,), (250, 32, 128)))
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    gemm.affine(*leaves).backward(dy)
    assert len(calls) == 2 and len(c_calls) == 1  # forward and ∂L/∂x in oneDNN, ∂L/∂w in C
    exact = [t.double().requires_grad_() for t in (x, w, b)]
    F.linear(*exact).backward(dy.double())
    rows_x, rows_dy = x.double().abs().reshape(-1, 32), dy.double().abs().reshape(-1, 128)
    within_bound(leaves[0].grad, exact[0].grad, (rows_dy @ w.double().abs()).view(x.shape), 128)
    within_bound(leaves[1].grad, exact[1].grad, rows_dy.T @ rows_x, 8000)
    within_bound(leaves[2].grad, exact[2].grad, rows_dy.sum(0), 8000)


def test_torchs_product_where_neither_would_pay_or_can_run(calls, c_calls, monkeypatch):
    """float64, a small product, torch.func, the switch and a missing kernel all take F.linear / @: torch's own
    numbers (bit for bit where compared with torch.equal)."""
    g = torch.Generator().manual_seed(4)
    x, w = torch.randn(4000, 32, generator=g, dtype=torch.float64), torch.randn(128, 32, generator=g,
                                                                                 dtype=torch.float64)
    assert torch.equal(gemm.linear(x, w), F.linear(x, w))
    small = torch.randn(8, 32, generator=g)
    assert torch.equal(gemm.linear(small, w.float()), F.linear(small, w.float()))
    v, t = torch.randn(2, 5000, 32, generator=g)  # 5000·32·128 multiply-adds: past MIN_MACS, but inside torch.func
    _, tangent = torch.func.jvp(lambda v: gemm.affine(v, w.float()), (v,), (t,))
    assert torch.equal(tangent, F.linear(t, w.float()))
    grads = torch.func.grad(lambda w: gemm.affine(v, w).square().sum())(w.float())  # inside torch.func: no kernel
    assert torch.allclose(grads, 2 * F.linear(v, w.float()).T @ v, rtol=1e-4, atol=1e-3)
    assert not calls and not c_calls
    big = torch.randn(8000, 32, generator=g)
    monkeypatch.setattr(gemm, "ONEDNN", False)
    assert torch.equal(gemm.affine(big, w.float()), F.linear(big, w.float()))
    assert not calls
    monkeypatch.setattr(kernel, "load", lambda: None)
    assert torch.equal(gemm.outer_sum(big, big), big.T @ big) and not c_calls
    assert type(gemm.affine(big, w.float())) is torch.Tensor  # F.linear's, with its own autograd


def test_only_x86_64_takes_onednn(monkeypatch):
    """Elsewhere (aarch64: oneDNN over ACL or its reference loops) torch's products are kept."""
    monkeypatch.delenv("RNNLAB_GEMM", raising=False)
    monkeypatch.setattr(gemm.platform, "machine", lambda: "aarch64")
    assert gemm._find_pointwise() is None
    monkeypatch.setattr(gemm.platform, "machine", lambda: "x86_64")
    assert (gemm._find_pointwise() is not None) == torch.backends.mkldnn.is_available()


def test_the_environment_variable_turns_it_off():
    code = "from rnnlab import gemm; print(gemm.ONEDNN)"
    env = dict(os.environ, RNNLAB_GEMM="torch")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cell, hidden", [("simple_rnn", 128), ("lstm", 32), ("gru", 32)])
@needs_onednn
@needs_kernel
def test_a_training_step_at_the_lectures_size_takes_them_and_matches_float64(cell, hidden, calls, c_calls):
    """The lecture's step (batch 32, 500 steps, embedding 32; hidden 32, and 128 for the SimpleRNN, whose products
    at 32 are too small for oneDNN): every gradient of the float32 model, its products in oneDNN and its weight
    gradients in C, against the same model in float64 (torch's products, the C loops and sums in float64). Error analysis as tests/test_kernel_gated.py's
    float32 test: each step's gate pre-activations are dot products of G·H + K + 1 terms, BPTT repeats them back
    through T steps and each weight gradient sums B·T products, so every result is within
    (T·(G·H + K + 9) + B·T)·eps of its largest value, whichever product ran."""
    torch.manual_seed(0)
    model = rnnlab.SequenceClassifier(vocab_size=10000, embedding_dim=32, hidden_size=hidden, cell=cell)
    with torch.no_grad():  # ‖A_h‖₂ = 0.5, as the kernel tests: errors carried back are damped, not amplified
        model.rnn.A[:, :hidden] *= 0.5 / torch.linalg.matrix_norm(model.rnn.A_h.double(), 2).item()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(1, 10000, (32, 500), generator=g), torch.randint(0, 2, (32,), generator=g).float()
    double = rnnlab.SequenceClassifier(vocab_size=10000, embedding_dim=32, hidden_size=hidden, cell=cell).double()
    double.load_state_dict(model.state_dict())
    grads = []
    for m in (model, double):
        m.loss(m(x), y).backward()
        grads.append({name: p.grad for name, p in m.named_parameters()})
    assert calls and c_calls  # the drive (or the SimpleRNN's table), ∂L/∂x; ∂L/∂A_x and ∂L/∂A_h
    gates = {"simple_rnn": 1, "lstm": 4, "gru": 3}[cell]
    bound = (500 * (gates * hidden + 32 + 9) + 32 * 500) * U * 2  # eps = 2u
    for name, got in grads[0].items():
        want = grads[1][name]
        assert (got.double() - want).abs().max().item() <= bound * want.abs().max().item(), name


@needs_kernel
def test_the_lectures_simple_rnn_keeps_torchs_products_and_sums_in_c(calls, c_calls):
    """At hidden 32 the SimpleRNN's table and ∂L/∂E (10,000·32·32 multiply-adds) stay below MIN_MACS; its weight
    gradients, ∂L/∂A_x over the table's rows and ∂L/∂A_h over all steps, are summed in C."""
    model = rnnlab.SequenceClassifier(vocab_size=10000, embedding_dim=32, hidden_size=32)
    x = torch.randint(1, 10000, (32, 500), generator=torch.Generator().manual_seed(0))
    model.loss(model(x), torch.ones(32)).backward()
    assert not calls and len(c_calls) == 2
