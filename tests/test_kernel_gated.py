"""The LSTM's and GRU's C loops (rnnlab.kernel: lstm_*, gru_*): forward and BPTT against autograd through the
explicit recurrence `loop` in float64, float32 against float64 under an error bound, gradcheck, edge shapes, the
PyTorch fallback, saturated gates, NaN and inf."""
import copy

import pytest
import torch

from rnnlab import kernel
from rnnlab.models import GRU, LSTM
from test_kernel import both_paths  # fn() with the C kernel, then with the fallback (PyTorch's fused layer)

CELLS = {"lstm": LSTM, "gru": GRU}


def layer(cell, inputs, hidden, bias=True, seed=0, dtype=torch.float64):
    """A layer with every weight and intercept drawn (PyTorch's U(-1/√h, 1/√h), b_h too), in `dtype`."""
    torch.manual_seed(seed)
    return CELLS[cell](inputs, hidden, bias=bias, init="torch").to(dtype)


def grads(model, x, h0, c0, weights, loop=False, read=lambda s: s):
    """States and ∂L/∂(x, h0, [c0], A, b, [b_h]) of L = Σ read(states)·weights, through forward or `loop`."""
    x, h0 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    state = {"h0": h0}
    if isinstance(model, LSTM):
        state["c0"] = c0.clone().requires_grad_()
    states = (model.loop if loop else model)(x, **state)
    wrt = [x, *state.values(), *model.parameters()]
    return [states.detach(), *torch.autograd.grad((read(states) * weights).sum(), wrt)]


READS = {  # how the loss reads the states: every one, the last head's (zeros elsewhere), a broadcast sum
    "all": lambda s: s,
    "last": lambda s: s[:, -1:],
    "sum": lambda s: s.sum(dim=0, keepdim=True),
}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("batch, steps, hidden", [(5, 40, 32), (1, 1, 8), (3, 7, 5), (2, 9, 33), (4, 6, 128),
                                                  (2, 3, 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_float64_states_and_every_gradient_equal_autograd_through_the_loop(cell, batch, steps, hidden, bias):
    """Oracle: autograd through `loop` (the equation step by step), float64. T = 1, B = 1, odd B, state sizes the
    kernel compiles (8, 32, 128) and generic ones (1, 5, 33). The two compute the same sums in another order: they
    differ by rounding, ~T·H·1e-16 relative, so 1e-10 catches any wrong term."""
    model = layer(cell, 3, hidden, bias=bias)
    g = torch.Generator().manual_seed(1)
    x, h0, c0 = (torch.randn(*s, dtype=torch.float64, generator=g) for s in
                 ((batch, steps, 3), (batch, hidden), (batch, hidden)))
    weights = torch.randn(batch, steps, hidden, dtype=torch.float64, generator=g)
    fast = grads(model, x, h0, c0, weights)
    slow = grads(model, x, h0, c0, weights, loop=True)
    assert len(fast) == 1 + 2 + (cell == "lstm") + len(list(model.parameters()))
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10 * want.abs().max().item() + 1e-300)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("read", list(READS))
def test_gradients_arriving_in_any_layout_are_read_right(cell, read):
    """The last head's gradient (zeros but the last step), a broadcast one (stride 0 along t), every step's.
    Oracle: autograd through `loop`, float64."""
    model = layer(cell, 2, 16)
    x, h0 = torch.randn(3, 20, 2, dtype=torch.float64), torch.zeros(3, 16, dtype=torch.float64)
    c0 = torch.zeros_like(h0)
    weights = torch.randn(3, 1 if read != "all" else 20, 16, dtype=torch.float64)
    fast = grads(model, x, h0, c0, weights, read=READS[read])
    slow = grads(model, x, h0, c0, weights, loop=True, read=READS[read])
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("hidden, batch", [(32, 32), (5, 3), (128, 2)])
def test_float32_is_as_accurate_as_pytorchs_fused_layer(cell, hidden, batch, monkeypatch):
    """Oracle: the same states and gradients in float64 through `loop`; PyTorch's fused layer in float32 is held to
    the same bound. Error analysis: each step's gate pre-activations are dot products of H + K + 1 terms (A_h·h,
    A_x·x, b; rounding ≤ (H + K + 1)·eps of the largest term), the gates add ≤ 4 ulp each (float32 tanh, and
    σ = ½ + ½·tanh(v/2)), c_t and h_t ≤ 4 more roundings. A_h is scaled to ‖A_h‖₂ = 0.5 (checked): with σ' ≤ ¼,
    tanh' ≤ 1 and σ(f) < 1, an error carried from step t-1 is damped or barely grows, so the errors of the T = 60
    steps add up. BPTT repeats this with dot products of G·H terms (δ_t·A_h), and each weight gradient sums B·T
    products. So every result is within (T·(G·H + K + 9) + B·T)·eps of the largest value. Growth that this leaves
    out (c_t's path can carry an error at σ(f) ≈ 1 plus a little) has room: both paths measure ~1e-3 of the bound
    on this machine; a wrong index is off by the values themselves."""
    T, K, G = 60, 7, 4 if cell == "lstm" else 3
    model = layer(cell, K, hidden, dtype=torch.float32)
    with torch.no_grad():
        model.A[:, :hidden] *= 0.5 / torch.linalg.matrix_norm(model.A_h.double(), 2).item()
    assert torch.linalg.matrix_norm(model.A_h.double(), 2).item() <= 0.5 + 1e-6
    g = torch.Generator().manual_seed(1)
    x, h0, c0 = (torch.randn(*s, generator=g) for s in ((batch, T, K), (batch, hidden), (batch, hidden)))
    weights = torch.randn(batch, T, hidden, generator=g)
    fast, slow = both_paths(lambda: grads(model, x, h0, c0, weights), monkeypatch)
    exact = grads(copy.deepcopy(model).double(), x.double(), h0.double(), c0.double(), weights.double(), loop=True)
    bound = (T * (G * hidden + K + 9) + batch * T) * torch.finfo(torch.float32).eps
    for got, other, want in zip(fast, slow, exact):
        scale = want.abs().max()
        err, err_torch = (got.double() - want).abs().max() / scale, (other.double() - want).abs().max() / scale
        assert err <= bound and err_torch <= bound, (err, err_torch, bound)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("hidden", [3, 8])
def test_gradcheck_at_tiny_sizes(cell, hidden):
    """Oracle: finite differences of the states (torch.autograd.gradcheck) in every input, weight and intercept."""
    model = layer(cell, 2, hidden)
    names = [name for name, _ in model.named_parameters()]

    def states(x, h0, c0, *params):
        with torch.nn.utils.stateless._reparametrize_module(model, dict(zip(names, params))):
            return model(x, h0, c0) if cell == "lstm" else model(x, h0)

    inputs = [torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True),
              torch.randn(3, hidden, dtype=torch.float64, requires_grad=True),
              torch.randn(3, hidden, dtype=torch.float64, requires_grad=cell == "lstm"),
              *(p.detach().clone().requires_grad_() for p in model.parameters())]
    assert torch.autograd.gradcheck(states, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnnlab_kernel_torch_gives_the_same_states_and_gradients_through_pytorchs_layer(cell, monkeypatch):
    """Oracle: PyTorch's fused layer on the same weights, float64, which RNNLAB_KERNEL=torch selects."""
    model = layer(cell, 4, 16)
    x, h0 = torch.randn(3, 25, 4, dtype=torch.float64), torch.randn(3, 16, dtype=torch.float64)
    c0, weights = torch.randn(3, 16, dtype=torch.float64), torch.randn(3, 25, 16, dtype=torch.float64)
    fast = grads(model, x, h0, c0, weights)
    monkeypatch.setenv("RNNLAB_KERNEL", "torch")
    kernel.load.cache_clear()
    try:
        assert kernel.for_cell(cell, x) is None
        slow = grads(model, x, h0, c0, weights)
    finally:
        monkeypatch.delenv("RNNLAB_KERNEL")
        kernel.load.cache_clear()
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_gates_give_the_loops_states_and_gradients(cell, dtype):
    """Intercepts of ±40 on half the units put every gate of those units past |v| ≥ 18 (checked below from the
    weights: |A·[h; x]| ≤ Σ|A_row|·max(|h|, |x|)), where σ and tanh are within 1.6e-8 of 0 or ±1 and the float32
    kernel rounds them to exactly that; the other half run unsaturated. Oracle: autograd through `loop` in
    float64. What float32 drops is σ' < 1.6e-8 < eps per gate, inside the bound of the float32 test above (here
    T = 30, H = 8, K = 3, B = 2); in float64 the kernel's σ = 1/(1 + e^{-v}) keeps the tails, as autograd's does,
    to 1e-10."""
    model = layer(cell, 3, 8, dtype=dtype)
    G = 4 if cell == "lstm" else 3
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0], dtype=dtype)
    with torch.no_grad():
        model.b.copy_(40 * sign.repeat(G) * torch.randn(G * 8).sign())
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 30, 3, generator=g, dtype=torch.float64)
    h0, c0, weights = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((2, 8), (2, 8), (2, 30, 8)))
    drive = model.A.double().abs().sum(1) * max(1.0, x.abs().max().item(), h0.abs().max().item())
    if cell == "gru":
        drive = drive + model.b_h.double().abs()
    assert (drive.view(G, 8)[:, :4] <= 40 - 18).all()  # |z| ≥ 18 for every gate of units 0-3, at every step
    fast = grads(model, *(t.to(dtype) for t in (x, h0, c0, weights)))
    exact = grads(copy.deepcopy(model).double(), x, h0, c0, weights, loop=True)
    tolerance = 1e-10 if dtype == torch.float64 else (30 * (G * 8 + 3 + 9) + 2 * 30) * torch.finfo(dtype).eps
    for got, want in zip(fast, exact):
        assert torch.isfinite(got).all()
        assert (got.double() - want).abs().max() <= tolerance * want.abs().max()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_nan_or_inf_in_the_weights_comes_out_as_in_pytorchs_layer(cell, dtype, monkeypatch):
    """Diverged weights must show as NaN/inf, not be clipped away (a NaN through σ, tanh, the products of gates).
    Oracle: PyTorch's fused layer on the same weights, entry by entry."""
    model = layer(cell, 3, 8, dtype=dtype)
    x = torch.randn(2, 6, 3, dtype=dtype)
    for column in (2, 9):  # one weight of A_h, one of A_x
        for bad in (float("nan"), float("inf"), -float("inf")):
            broken = copy.deepcopy(model)
            with torch.no_grad():
                broken.A[5, column] = bad

            def run():
                with torch.no_grad():
                    return broken(x)

            fast, slow = both_paths(run, monkeypatch)
            assert torch.equal(fast.isnan(), slow.isnan()) and torch.equal(fast.isinf(), slow.isinf())
            assert fast.isnan().any() or bad == bad  # a NaN weight shows (an inf may saturate a gate)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_second_backward_through_the_same_graph_reads_the_same_saved_gates(cell):
    """rnnlab.explain takes several gradients of one forward (retain_graph=True): the saved gates must survive."""
    model = layer(cell, 2, 8)
    x = torch.randn(2, 10, 2, dtype=torch.float64, requires_grad=True)
    states = model(x)
    first = torch.autograd.grad(states[:, -1].sum(), x, retain_graph=True)[0]
    again = torch.autograd.grad(states[:, -1].sum(), x)[0]
    want = torch.autograd.grad(model.loop(x)[:, -1].sum(), x)[0]
    assert torch.equal(first, again)
    torch.testing.assert_close(first, want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_second_derivative_through_the_c_loop_fails_loudly(cell):
    """The C loop builds no graph: create_graph=True must not give a silently wrong gradient penalty."""
    model = layer(cell, 3, 8, dtype=torch.float32)
    x = torch.randn(2, 5, 3, requires_grad=True)
    (g,) = torch.autograd.grad(model(x).square().sum(), [model.A], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|differentiate"):
        g.square().sum().backward()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_torch_func_transforms_run_through_pytorchs_layer(cell):
    """jacrev cannot see into the C loop, so forward hands torch.func PyTorch's ops. Oracle: jacrev of `loop`."""
    model = layer(cell, 2, 4)
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    got = torch.func.jacrev(lambda v: model(v)[0, -1])(x)
    want = torch.func.jacrev(lambda v: model.loop(v)[0, -1])(x)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)


def test_a_c0_of_the_wrong_shape_is_refused_naming_it():
    model = LSTM(2, 4)
    with pytest.raises(ValueError, match=r"c0 must have shape \(batch, hidden\) = \(3, 4\), got \(3, 5\)"):
        model(torch.zeros(3, 6, 2), c0=torch.zeros(3, 5))


def test_the_kernel_refuses_gated_tensors_it_would_misread():
    lib = kernel.load()
    u, h0 = torch.zeros(4, 2, 12), torch.zeros(2, 3)
    with pytest.raises(ValueError, match="c0 must have shape"):
        kernel.lstm_forward(lib, u, h0, torch.zeros(2, 4), torch.zeros(3, 12), torch.zeros(4, 2, 3),
                            torch.zeros(4, 2, 3))
    with pytest.raises(ValueError, match="C-contiguous CPU tensors of one dtype"):
        kernel.gru_forward(lib, u[..., :9], h0, torch.zeros(3, 9), torch.zeros(9), torch.zeros(4, 2, 3),
                           torch.zeros(4, 2, 3))
    with pytest.raises(ValueError, match="grad_states must have shape"):
        kernel.gru_backward(lib, torch.zeros(4, 2, 9), torch.zeros(4, 2, 3), torch.zeros(4, 2, 3), h0,
                            torch.zeros(4, 1, 3), torch.zeros(9, 3), torch.zeros(4, 2, 9), torch.zeros(2, 3))


def test_float32_sigmoid_is_within_a_few_eps_of_the_exact_one():
    """h_0 = σ(o)·tanh(σ(i)·tanh(g)) with c0 = 0, the i gate driven by x and intercepts that make tanh(g) = σ(o) = 1
    exactly (g = 20, o = 40: both round to 1 in float32), so h_0 = tanh(σ(x)). Oracle: torch in float64.
    Error analysis: float32 tanh is within 4 ulp (tests/test_kernel.py), so σ = ½ + ½·tanh(x/2) is within
    ½·4·eps + ½·eps (the sum's rounding) = 2.5·eps of σ, absolutely (not relatively: σ(−10) = 4.5e-5 inherits
    tanh's error near −1); tanh' ≤ 1 passes that on and the outer tanh adds 4 ulp of a value < 1, so |h − exact|
    ≤ 6.5·eps < 8·eps."""
    assert kernel.load() is not None
    model = LSTM(32, 32)
    with torch.no_grad():
        model.A.zero_()
        model.A[:32, 32:] = torch.eye(32)
        model.b.copy_(torch.cat([torch.zeros(32), torch.full((32,), -40.0), torch.full((32,), 20.0),
                                 torch.full((32,), 40.0)]))
    x = torch.cat([torch.linspace(-30, 30, 32 * 2001), torch.logspace(-8, 1.5, 32 * 200),
                   -torch.logspace(-8, 1.5, 32 * 200)]).reshape(-1, 1, 32)
    with torch.no_grad():
        h = model(x).double()
    want = torch.tanh(torch.sigmoid(x.double()))
    assert (h - want).abs().max().item() <= 8 * torch.finfo(torch.float32).eps
