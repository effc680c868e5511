"""The SimpleRNN's C kernel (rnnlab.kernel): against the same loops written as PyTorch ops, against autograd through
the explicit recurrence, and against torch.tanh; how it is built, cached and given up on."""
import copy
import math
import os
import warnings

import numpy as np
import pytest
import torch

from rnnlab import kernel
from rnnlab.models import SequenceClassifier, SimpleRNN
from rnnlab.train import fit


def test_the_kernel_builds_here_with_the_installed_toolchain():
    assert kernel.compilers(), "no C compiler: requirements.txt installs ziglang"
    assert kernel.load() is not None


def both_paths(fn, monkeypatch):
    """fn() with the C kernel, then with the PyTorch loops."""
    assert kernel.load() is not None
    fast = fn()
    with monkeypatch.context() as m:
        m.setattr(kernel, "load", lambda: None)
        slow = fn()
    return fast, slow


@pytest.mark.parametrize("hidden, batch", [(32, 32), (8, 3), (16, 1), (5, 4), (33, 2), (64, 5), (128, 2), (256, 1)])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
def test_kernel_in_float32_is_as_accurate_as_the_pytorch_loops(hidden, batch, nonlinearity, monkeypatch):
    """Every specialised state size (8 … 256), the generic one (5, 33), odd batches, each φ. Oracle: the same
    states and gradients in float64 through the explicit loop. Error analysis: each step is a dot product of
    H + K + 1 terms (rounding ≤ (H + K + 1)·eps of the largest), carried through ≤ T = 60 steps whose Jacobians
    have norm ≤ 1 (orthogonal A_h with tanh; a halved PyTorch-initialised A_h, norm ≈ 0.6, with relu and linear),
    and each weight gradient sums B·T products: the float32 error of either path is at most
    (T·(H + K + 1) + B·T)·eps times the largest value. A wrong index is off by the values themselves."""
    torch.manual_seed(0)
    model = SimpleRNN(7, hidden, nonlinearity=nonlinearity, init="orthogonal" if nonlinearity == "tanh" else "torch")
    with torch.no_grad():
        model.A[:, :hidden] *= 0.5 if nonlinearity != "tanh" else 1.0  # relu/linear stay bounded over 60 steps
        model.b.uniform_(-0.5, 0.5)
    x, h0 = torch.randn(batch, 60, 7), torch.randn(batch, hidden)
    weights = torch.randn(batch, 60, hidden)

    def run(model, dtype=torch.float32, loop=False):
        xg, hg = x.to(dtype).requires_grad_(), h0.to(dtype).requires_grad_()
        states = (model.loop if loop else model)(xg, hg)
        grads = torch.autograd.grad((states * weights.to(dtype)).sum(), [xg, hg, model.A, model.b])
        return [states.detach(), *grads]

    fast, slow = both_paths(lambda: run(model), monkeypatch)
    exact = run(copy.deepcopy(model).double(), torch.float64, loop=True)
    bound = (60 * (hidden + 7 + 1) + batch * 60) * torch.finfo(torch.float32).eps
    for got, other, want in zip(fast, slow, exact):
        scale = want.abs().max()
        err, err_torch = (got.double() - want).abs().max() / scale, (other.double() - want).abs().max() / scale
        assert err <= bound and err_torch <= bound, (err, err_torch, bound)


@pytest.mark.parametrize("bias", [True, False])
def test_kernel_in_float64_equals_autograd_through_the_explicit_loop(bias):
    """Oracle: autograd through `loop` (the equation step by step), float64, to 1e-8."""
    assert kernel.load() is not None
    torch.manual_seed(0)
    model = SimpleRNN(3, 32, bias=bias).double()
    x = torch.randn(5, 80, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(5, 80, 32, dtype=torch.float64)
    fast = torch.autograd.grad((model(x) * weights).sum(), [x, *model.parameters()])
    slow = torch.autograd.grad((model.loop(x) * weights).sum(), [x, *model.parameters()])
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


def test_float32_tanh_is_within_a_few_ulp_of_the_exact_one():
    """h_t = tanh(x_t) when A_h = 0 and A_x = I; oracle: torch.tanh in float64."""
    assert kernel.load() is not None
    model = SimpleRNN(32, 32, bias=False)
    with torch.no_grad():
        model.A.zero_()
        model.A[:, 32:] = torch.eye(32)
    x = torch.cat([torch.linspace(-12, 12, 32 * 4001), torch.logspace(-10, 1, 32 * 500),
                   -torch.logspace(-10, 1, 32 * 500)]).reshape(1, -1, 32)
    with torch.no_grad():
        h = model(x).double()
    want = torch.tanh(x.double())
    rel = (h - want).abs() / want.abs()
    assert rel.max().item() <= 4 * torch.finfo(torch.float32).eps
    assert torch.equal(model(torch.full((1, 1, 32), 50.0)).detach(), torch.ones(1, 1, 32))  # saturates exactly


@pytest.mark.parametrize("read", ["last", "flatten", "sum", "time_major"])
def test_gradients_arriving_in_any_layout_are_read_in_place(read, monkeypatch):
    """The last head's gradient (zeros but the last step), Flatten's, a broadcast one (strides 0), a transposed one."""
    torch.manual_seed(0)
    model = SimpleRNN(4, 16)
    x = torch.randn(3, 50, 4)
    losses = {"last": lambda s: s[:, -1].square().sum(), "flatten": lambda s: (s.reshape(3, -1) ** 3).sum(),
              "sum": lambda s: s.sum(), "time_major": lambda s: s.transpose(0, 1).contiguous().cumsum(0).sum()}

    def run(model=model, x=x):
        return torch.autograd.grad(losses[read](model(x)), [model.A, model.b])

    fast, slow = both_paths(run, monkeypatch)
    exact = run(copy.deepcopy(model).double(), x.double())
    for got, other, want in zip(fast, slow, exact):
        # Error analysis: each entry of ∂L/∂A and ∂L/∂b is a sum over B·T = 150 products δ_t·[h_{t-1}; x_t], and δ_t
        # is carried back through ≤ T = 50 steps, each a dot product of H = 16 terms with ‖A_h‖ ≤ 1 (Keras'
        # orthogonal A_h, tanh' ≤ 1). Float32 rounding is then at most (B·T + T·H)·eps relative to the largest
        # summand, which the largest entry bounds up to the cancellation the loss allows (≤ 10x here). Summands
        # that cancel leave an entry far smaller than its rounding, so a relative tolerance per entry would depend
        # on the CPU's order of summation (AVX2 vs AVX-512 blocks); a wrong index is off by O(max|g|).
        bound = 10 * (3 * 50 + 50 * 16) * torch.finfo(torch.float32).eps * want.abs().max()
        assert (got.double() - want).abs().max() <= bound and (other.double() - want).abs().max() <= bound


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
def test_a_nan_or_inf_in_the_weights_comes_out_as_in_the_pytorch_loops(nonlinearity, monkeypatch):
    """Diverged weights must show as NaN/inf, not be clipped away (fminf and `v > 0 ? v : 0` would drop a NaN)."""
    torch.manual_seed(0)
    model = SimpleRNN(3, 8, nonlinearity=nonlinearity)
    x = torch.randn(2, 6, 3)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with torch.no_grad():
            model.A[2, 5] = bad

        def run():
            with torch.no_grad():
                return model(x)

        fast, slow = both_paths(run, monkeypatch)
        assert torch.equal(fast.isnan(), slow.isnan()) and torch.equal(fast.isinf(), slow.isinf())
        assert not torch.isfinite(fast).all() or nonlinearity == "tanh"  # tanh(±inf) = ±1 is finite


def test_denormals_are_flushed_inside_the_kernel_and_the_callers_mode_is_kept():
    assert kernel.load() is not None
    torch.set_flush_denormal(False)
    model = SimpleRNN(2, 8, nonlinearity="linear", bias=False).double()
    with torch.no_grad():
        model.A.zero_()
        model.A[:, :8] = 1e-310 * torch.eye(8)  # h_1 = A_h·h_0 = 2e-310: a float64 denormal, flushed to 0
        model.A[:, 8:] = 1.0
    x = torch.zeros(1, 2, 2, dtype=torch.float64)
    x[0, 0] = 1.0
    assert torch.equal(model(x)[0, 1], torch.zeros(8, dtype=torch.float64))
    assert 1e-310 * 2.0 == 2e-310 != 0.0  # unflushed, h_1 would be this denormal
    assert (torch.tensor([1e-39]) * 1.0).item() != 0.0  # and the caller's mode is untouched


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_the_classifier_trains_the_same_with_or_without_the_kernel(cell, monkeypatch):
    """Oracle: the same fit run with the PyTorch loops (PyTorch's fused LSTM / GRU); the embedding's gradient comes
    from index_add_."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 50, (64, 30), generator=g), torch.randint(0, 2, (64,), generator=g).float()

    def train():
        torch.manual_seed(0)
        model = SequenceClassifier(vocab_size=50, embedding_dim=8, hidden_size=16, head="last", cell=cell)
        history = fit(model, (x, y), epochs=2, batch_size=16, progress=False)
        return [*history.loss, *model.parameters()]

    fast, slow = both_paths(train, monkeypatch)
    for got, want in zip(fast, slow):
        torch.testing.assert_close(torch.as_tensor(got), torch.as_tensor(want), rtol=1e-4, atol=1e-5)


def test_embedding_gradient_equals_pytorchs_embedding_backward():
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=20, embedding_dim=4, hidden_size=8, head="flatten", seq_len=12)
    ids = torch.randint(0, 20, (6, 12))
    weights = torch.randn(6, 12, 4)
    (got,) = torch.autograd.grad((model.embed(ids) * weights).sum(), [model.embedding.weight])
    (want,) = torch.autograd.grad((model.embedding(ids) * weights).sum(), [model.embedding.weight])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert torch.equal(model.embed(ids), model.embedding(ids))


def test_fit_flushes_denormals_while_training_and_restores_the_mode():
    seen = []
    torch.set_flush_denormal(False)
    x, y = torch.randint(0, 10, (8, 5)), torch.randint(0, 2, (8,)).float()
    fit(SequenceClassifier(vocab_size=10, embedding_dim=4, hidden_size=4), (x, y), epochs=1, batch_size=4,
        progress=lambda fraction, message: seen.append((torch.tensor([1e-39]) * 1.0).item()))
    assert seen and all(v == 0.0 for v in seen)
    assert (torch.tensor([1e-39]) * 1.0).item() != 0.0


def test_the_library_is_built_once_then_loaded_from_the_cache(tmp_path):
    cc = kernel.compilers()[0]
    path = kernel.build(cc, tmp_path)
    stamp = path.stat().st_mtime_ns
    assert kernel.build(cc, tmp_path) == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_a_compiler_that_fails_is_reported_and_the_pytorch_loops_take_over(tmp_path, monkeypatch):
    bad = tmp_path / "cc"
    bad.write_text("#!/bin/sh\necho 'cc: error: no such thing' >&2\nexit 1\n")
    bad.chmod(0o755)
    monkeypatch.setattr(kernel, "compilers", lambda: [[str(bad)]])
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(tmp_path / "kernels"))
    kernel.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no such thing"):
            assert kernel.load() is None
        with pytest.raises(RuntimeError, match="failed"):
            kernel.build([str(bad)], tmp_path)
        assert not list((tmp_path / "kernels").glob("*"))
        model = SimpleRNN(3, 4).double()  # and the layer still runs, through the PyTorch loops
        x = torch.randn(2, 9, 3, dtype=torch.float64)
        torch.testing.assert_close(model(x), model.loop(x), rtol=0, atol=1e-12)
    finally:
        kernel.load.cache_clear()


def test_a_cache_folder_that_cannot_be_written_falls_back_to_a_temporary_one(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(blocked / "kernels"))  # mkdir under a file fails
    monkeypatch.setattr(kernel.tempfile, "tempdir", str(tmp_path))
    kernel.load.cache_clear()
    try:
        assert kernel.load() is not None
        (folder,) = tmp_path.glob("rnnlab-kernel-*")
        assert list(folder.glob("rnn_kernel-*.so")) and folder.stat().st_mode & 0o077 == 0  # private to its user
    finally:
        kernel.load.cache_clear()


def test_zig_keeps_its_cache_beside_ours_when_the_users_cache_cannot_be_written(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))  # where Zig would keep its cache
    monkeypatch.delenv("ZIG_GLOBAL_CACHE_DIR", raising=False)
    calls = []
    monkeypatch.setattr(kernel.subprocess, "run", lambda *a, **k: calls.append(k["env"]) or _fail())
    with pytest.raises(RuntimeError):
        kernel.build(kernel.compilers()[0], tmp_path / "kernels")
    assert calls[-1]["ZIG_GLOBAL_CACHE_DIR"] == str(tmp_path / "kernels" / "zig")


def _fail():
    return type("Done", (), {"returncode": 1, "stderr": "stopped here", "stdout": ""})()


def test_rnnlab_kernel_torch_turns_the_kernel_off(monkeypatch):
    monkeypatch.setenv("RNNLAB_KERNEL", "torch")
    kernel.load.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert kernel.load() is None
    finally:
        monkeypatch.delenv("RNNLAB_KERNEL")
        kernel.load.cache_clear()
    assert kernel.load() is not None
    assert os.environ.get("RNNLAB_KERNEL") is None


@pytest.mark.parametrize("hidden, batch, inputs", [(32, 4, 3), (5, 3, 2), (64, 1, 1)])
def test_influence_curve_through_the_kernel_equals_the_pytorch_steps_and_autograd(hidden, batch, inputs,
                                                                                   monkeypatch):
    """∂h_t/∂x_0 carried by the C loop, in chunks (a small chunk size forces several, and one of one step), against
    the same tangents as PyTorch ops and, as the independent oracle, torch.autograd.functional.jacobian, float64."""
    from rnnlab import memory
    monkeypatch.setattr(memory, "CHUNK_ELEMENTS", hidden * batch * inputs * 7)  # chunks of 7 steps over T = 29
    torch.manual_seed(0)
    model = SimpleRNN(inputs, hidden).double()
    x = torch.randn(batch, 29, inputs, dtype=torch.float64)
    fast, slow = both_paths(lambda: memory.influence_curve(model, x, full=True), monkeypatch)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-14)
    jac = torch.autograd.functional.jacobian(lambda x0: model.loop(torch.cat([x0[:, None], x[:, 1:]], 1)), x[:, 0])
    want = torch.stack([jac[b, :, :, b] for b in range(batch)], 1)  # (T, batch, hidden, input)
    np.testing.assert_allclose(fast, want.numpy(), rtol=1e-9, atol=1e-13)
    curve = memory.influence_curve(model.float(), x.float())  # float32: the curve's norms through the kernel too
    np.testing.assert_allclose(curve, np.linalg.norm(want.numpy(), axis=(2, 3)).mean(1), rtol=1e-4, atol=1e-7)


def test_the_kernel_refuses_tensors_it_would_misread():
    lib = kernel.load()
    s, h0 = torch.zeros(4, 2, 3), torch.zeros(2, 3)
    with pytest.raises(ValueError, match="C-contiguous CPU tensors of one dtype"):
        kernel.forward(lib, s.transpose(0, 1), h0, torch.eye(3), "tanh")
    with pytest.raises(ValueError, match="float64"):
        kernel.forward(lib, s, h0.double(), torch.eye(3), "tanh")
    with pytest.raises(ValueError, match="norms must be a C-contiguous float64"):
        kernel.tangent(lib, s, torch.eye(3), torch.zeros(2, 1, 3), torch.zeros(4, 2, 1, 3), norms=torch.zeros(4, 2))


@pytest.mark.parametrize("nonlinearity", ["tanh", "linear", "relu"])
def test_lyapunov_exponent_through_the_kernel_equals_the_pytorch_steps(nonlinearity, monkeypatch):
    """The renormalised tangent in C, in chunks (a small chunk size forces several), against the same steps as
    PyTorch ops; for a linear RNN with A_h = a·Q (Q orthogonal) against the closed form log a."""
    from rnnlab import memory
    monkeypatch.setattr(memory, "CHUNK_ELEMENTS", 8 * 16 * 3 * 7)  # chunks of 7 steps
    torch.manual_seed(0)
    model = SimpleRNN(4, 16, nonlinearity=nonlinearity).double()
    x = torch.randn(3, 40, 4, dtype=torch.float64)
    fast, slow = both_paths(lambda: memory.lyapunov_exponent(model, x, seed=1), monkeypatch)
    assert fast == pytest.approx(slow, rel=1e-10, abs=1e-12)
    if nonlinearity == "linear":
        with torch.no_grad():
            model.A[:, :16] = 0.7 * torch.linalg.qr(torch.randn(16, 16, dtype=torch.float64))[0]
        assert memory.lyapunov_exponent(model, x, seed=1) == pytest.approx(math.log(0.7), rel=1e-10)


def test_a_second_derivative_through_the_loop_fails_loudly():
    """The C loop builds no graph: create_graph=True must not give a silently wrong gradient penalty."""
    model = SimpleRNN(3, 8)
    x = torch.randn(2, 5, 3, requires_grad=True)
    (g,) = torch.autograd.grad(model(x).square().sum(), [model.A], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|differentiate"):
        g.square().sum().backward()


def test_shapes_that_do_not_fit_are_refused_before_any_memory_is_read():
    model = SimpleRNN(2, 4)
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, hidden\) = \(1, 8192\)"):
        model.recur(torch.zeros(2, 1, 8192))
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, hidden\) = \(3, 4\)"):
        model.recur(torch.zeros(5, 3, 4), h0=torch.zeros(1, 4))
    with pytest.raises(ValueError, match="h0 must have shape"):
        kernel.forward(kernel.load(), torch.zeros(5, 3, 4), torch.zeros(1, 4), torch.zeros(4, 4), "tanh")
    with pytest.raises(ValueError, match="grad_states must have shape"):
        kernel.backward(kernel.load(), torch.zeros(5, 3, 4), torch.zeros(5, 2, 4), torch.zeros(5, 3, 4),
                        torch.zeros(4, 4), "tanh")


def test_gradient_curve_hands_a_loss_states_it_may_view_and_modify():
    from rnnlab.memory import gradient_curve
    torch.manual_seed(0)
    rnn = SimpleRNN(2, 4).double()
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    viewed = gradient_curve(rnn, x, loss=lambda s: s.view(2, -1).pow(2).sum())
    plain = gradient_curve(rnn, x, loss=lambda s: s.pow(2).sum())
    np.testing.assert_allclose(viewed, plain, rtol=1e-12)
    assert np.isfinite(gradient_curve(rnn, x, loss=lambda s: s.relu_().sum())).all()


@pytest.mark.parametrize("cell, tensors, expected", [
    ("simple_rnn", (torch.zeros(2), torch.zeros(2)), True),
    ("simple_rnn", (torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)), True),
    ("gru", (torch.zeros(2),), True),
    ("conv", (torch.zeros(2),), False),  # no C loops for it: PyTorch's
    ("simple_rnn", (torch.zeros(2), torch.zeros(2, dtype=torch.float64)), False),  # mixed dtypes
    ("simple_rnn", (torch.zeros(2, dtype=torch.float16),), False),
])
def test_for_cell_gives_the_library_only_where_its_loops_apply(cell, tensors, expected):
    assert kernel.load() is not None
    assert kernel.for_cell(cell, *tensors) is (kernel.load() if expected else None)


def test_the_layers_name_their_cells_and_gates_in_one_table():
    from rnnlab.models import CELLS, GRU, LAYERS, LSTM, SimpleRNN
    assert LAYERS == {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU} and CELLS == tuple(LAYERS)
    assert {k: v.gates for k, v in LAYERS.items()} == {"simple_rnn": 1, "lstm": 4, "gru": 3}
    assert set(kernel.CELLS) <= set(CELLS)
