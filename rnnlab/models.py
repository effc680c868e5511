"""Recurrent layers and the lecture's sequence classifier.

SimpleRNN, the lecture's recurrence, with one weight matrix A and one intercept b:

    h_t = φ(A · [h_{t-1}; x_t] + b),      h_{-1} = h0 or 0

    A : (hidden, hidden + input), columns ordered [A_h | A_x]
    b : (hidden,)

so that A·[h; x] = A_h·h + A_x·x. LSTM and GRU keep the same layout, one A per layer with the gates stacked
along its rows (PyTorch's gate order), so that every layer here exposes `A`, `A_h`, `A_x` and `b`.

Every layer takes float inputs (batch, T, input) and returns all states (batch, T, hidden). Each layer's loop over
steps and its backpropagation through time run in C (rnnlab.kernel), or through PyTorch's ops where the kernel
does not apply (LSTM and GRU: PyTorch's fused layers); `loop` is the explicit recurrence, written as the equation
reads, and is the oracle the fast paths are tested against.
"""
import math
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checks
from . import gemm
from . import kernel as compiled  # the C loops (not `kernel`: that is Keras' name for A_xᵀ)
from .choices import CELLS, HEADS, INITS, NONLINEARITIES  # torch-free, for RunConfig


def glorot_uniform_(w):
    """Keras' glorot_uniform for a weight stored as (fan_out, fan_in): U(-√(6/(fan_in+fan_out)), +)."""
    limit = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
    return nn.init.uniform_(w, -limit, limit)


def spectral_radius(m):
    """ρ(M) = max |λ_i(M)|, computed in float64."""
    return torch.linalg.eigvals(m.detach().double()).abs().max().item()


def phi_prime_of_state(nonlinearity, h):
    """φ'(z_t) read off h_t = φ(z_t), without z_t: 1 − h_t² for tanh (what autograd uses too), [h_t > 0] for relu,
    1 for linear."""
    if nonlinearity == "tanh":
        return 1 - h * h
    if nonlinearity == "relu":
        return (h > 0).to(h.dtype)
    return torch.ones_like(h)


@contextmanager
def flush_denormals():
    """Flush denormal floats to zero meanwhile, then restore the caller's setting.

    Gradients that sink over hundreds of steps land in denormals (|v| < 1.2e-38 in float32), which x86 computes
    many times slower; TensorFlow flushes them by default, PyTorch does not. torch has no getter for the mode, so
    we read it off the arithmetic: with flushing on, a denormal times one is zero.
    """
    was_on = (torch.tensor([1e-39]) * 1.0).item() == 0.0
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


class _Recurrence(torch.autograd.Function):
    r"""The SimpleRNN's loop over steps given its input drive u_t = A_x·x_t + b, with BPTT written out, for speed.

    Everything is time-major, (T, batch, hidden), so that each step reads and writes one contiguous block. The
    drive u for all t comes from one GEMM (or one lookup, see SequenceClassifier.states), and autograd takes ∂L/∂u
    back through it. Forward, in place of u:

        h_t = φ(u_t + A_h·h_{t-1})

    Backward, with g_t = ∂L/∂h_t (from the output at t and from h_{t+1}) and d_t = φ'(z_t) read off the states
    (tanh: 1 − h_t², relu: [h_t > 0], linear: 1):

        δ_t = g_t ⊙ d_t,      g_{t-1} = ∂L/∂h_{t-1} (output) + δ_t·A_h,      t = T-1 … 0

    so that ∂L/∂u_t = δ_t, ∂L/∂A_h = Σ_t δ_tᵀ h_{t-1} (one GEMM over all steps) and ∂L/∂h0 = δ_0·A_h.

    Both loops run in C (rnnlab.kernel) where it could be built, for float32 and float64 on the CPU; elsewhere as
    two PyTorch ops a step, which give the same numbers (float32 tanh up to a few ulp).
    """

    @staticmethod
    def forward(ctx, u, h0, A_h, nonlinearity):
        lib = compiled.for_cell("simple_rnn", u, h0, A_h)
        if lib is not None:
            compiled.forward(lib, u, h0.contiguous(), A_h.T.contiguous(), nonlinearity)
        else:
            phi_ = {"tanh": torch.tanh_, "relu": torch.relu_, "linear": None}[nonlinearity]
            h, A_hT = h0, A_h.T
            for u_t in u.unbind(0):  # one C++ call makes every step's view
                h = u_t.addmm_(h, A_hT)
                if phi_ is not None:
                    phi_(h)
        ctx.mark_dirty(u)  # u now holds the states
        ctx.save_for_backward(h0, A_h, u)
        ctx.nonlinearity, ctx.lib = nonlinearity, lib
        return u

    @staticmethod
    @torch.autograd.function.once_differentiable  # the C loop is no graph: a second derivative must fail, loudly
    def backward(ctx, grad_states):
        h0, A_h, hs = ctx.saved_tensors
        T, B, H = hs.shape
        A_h = A_h.contiguous()
        delta = torch.empty_like(hs)
        with flush_denormals():
            if ctx.lib is not None:
                compiled.backward(ctx.lib, hs, grad_states, delta, A_h, ctx.nonlinearity)
            else:
                d, g_out = phi_prime_of_state(ctx.nonlinearity, hs), grad_states.contiguous()
                ds, deltas, gs = d.unbind(0), delta.unbind(0), g_out.unbind(0)
                g = gs[T - 1]
                for t in range(T - 1, 0, -1):
                    torch.mul(g, ds[t], out=deltas[t])
                    g = torch.addmm(gs[t - 1], deltas[t], A_h)
                torch.mul(g, ds[0], out=deltas[0])
            grad_A_h = gemm.outer_sum(delta[1:].view(-1, H), hs[:-1].view(-1, H)) + delta[0].T @ h0
            grad_h0 = delta[0] @ A_h if ctx.needs_input_grad[1] else None
        return delta, grad_h0, grad_A_h, None


def recurrence(u, h0, A_h, nonlinearity):
    """All states h_t = φ(u_t + A_h·h_{t-1}), (T, batch, hidden), from the drive u (T, batch, hidden), which it
    overwrites (hand it a fresh tensor, as F.linear or a lookup returns; a leaf that requires grad is copied)."""
    if not (isinstance(u, torch.Tensor) and u.dim() == 3 and u.is_floating_point()):
        raise ValueError(f"u must be a float tensor (T, batch, hidden), got {getattr(u, 'shape', type(u).__name__)}")
    T, B, H = u.shape
    if tuple(h0.shape) != (B, H) or tuple(A_h.shape) != (H, H):
        raise ValueError(f"h0 must have shape (batch, hidden) = {(B, H)} and A_h (hidden, hidden) = {(H, H)}, got "
                         f"{tuple(h0.shape)} and {tuple(A_h.shape)}")
    if u.is_leaf and u.requires_grad:
        u = u.clone()
    return _Recurrence.apply(u.contiguous(), h0, A_h, nonlinearity)


def _gates_in_place_of(ctx, u):
    """The gated loops write their gates over their drive u (a fresh tensor of the caller's, as F.linear returns),
    which saves a tensor of T·batch·gates·hidden and its first-touch page faults (a few ms a step): autograd is told
    so, and u, returned beside the states, carries no gradient. The backward never reads ∂L/∂gates, so none is
    built (no tensor of zeros), and a gradient that never reached the states arrives as None."""
    ctx.mark_dirty(u)
    ctx.mark_non_differentiable(u)
    ctx.set_materialize_grads(False)


def _gates_to_overwrite(gates):
    """The saved gates, for the backward to write their gradient over, where this backward pass frees the graph
    (no retain_graph: nothing reads them again), which saves another T·batch·gates·hidden tensor; else a copy, so
    that a second pass (rnnlab.explain takes several gradients of one forward) reads them intact."""
    keep_graph = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", lambda: True)
    return gates.clone() if keep_graph() else gates


class _LSTMRecurrence(torch.autograd.Function):
    r"""The LSTM's loop over steps in C given its input drive u_t = A_x·x_t + b (T, batch, 4·hidden), with BPTT
    written out, as _Recurrence for the SimpleRNN. Forward, with the gates z_t = u_t + A_h·h_{t-1} = [i; f; g; o]:

        c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g),      h_t = σ(o)⊙tanh(c_t)

    keeping c_t, and the activated gates in place of u. Backward, with dh_t = ∂L/∂h_t (from the output at t and
    dz_{t+1}·A_h) and dc_t = ∂L/∂c_t (from c_{t+1}) carried back, t = T-1 … 0:

        dc_t ← dc_t + dh_t⊙σ(o)⊙(1 − tanh²c_t)
        dz_t = [dc_t⊙tanh(g)⊙σ'(i); dc_t⊙c_{t-1}⊙σ'(f); dc_t⊙σ(i)⊙(1 − tanh²g); dh_t⊙tanh(c_t)⊙σ'(o)]
        dc_{t-1} = dc_t⊙σ(f),      dh_{t-1} = ∂L/∂h_{t-1} (output) + dz_t·A_h

    so that ∂L/∂u_t = dz_t, ∂L/∂A_h = Σ_t dz_tᵀ h_{t-1} (one GEMM over all steps), ∂L/∂h0 = dz_0·A_h and
    ∂L/∂c0 = dc_0⊙σ(f_0). LSTM.forward calls it only where the C kernel runs.
    """

    @staticmethod
    def forward(ctx, u, h0, c0, A_h, lib):
        T, B, G = u.shape
        cs, hs = u.new_empty(T, B, G // 4), u.new_empty(T, B, G // 4)
        compiled.lstm_forward(lib, u, h0, c0, A_h.T.contiguous(), cs, hs)
        _gates_in_place_of(ctx, u)
        ctx.save_for_backward(h0, c0, A_h, u, cs, hs)
        ctx.lib = lib
        return hs, u

    @staticmethod
    @torch.autograd.function.once_differentiable  # the C loop is no graph: a second derivative must fail, loudly
    def backward(ctx, grad_states, _):
        if grad_states is None:  # no gradient reached the states (set_materialize_grads(False))
            return None, None, None, None, None
        h0, c0, A_h, gates, cs, hs = ctx.saved_tensors
        H = hs.shape[2]
        dz, dh, dc = _gates_to_overwrite(gates), torch.empty_like(h0), torch.empty_like(c0)
        with flush_denormals():
            compiled.lstm_backward(ctx.lib, dz, cs, c0, grad_states, A_h.contiguous(), dh, dc)
            grad_A_h = gemm.outer_sum(dz[1:].view(-1, 4 * H), hs[:-1].view(-1, H)) + dz[0].T @ h0
        return dz, dh, dc, grad_A_h, None


class _GRURecurrence(torch.autograd.Function):
    r"""The GRU's loop over steps in C (reset_after) given its input drive u_t = A_x·x_t + b (T, batch, 3·hidden),
    with BPTT written out. Forward, with gh = A_h·h_{t-1} + b_h and u, gh split as [r; z; n]:

        r = σ(u_r + gh_r),   z = σ(u_z + gh_z),   n = tanh(u_n + r⊙gh_n),   h_t = (1 − z)⊙n + z⊙h_{t-1}

    keeping gh_n, and r, z, n in place of u. Backward, with dh_t = ∂L/∂h_t (from the output at t and from step
    t+1):

        dn = dh_t⊙(1 − z)⊙(1 − n²),   dz = dh_t⊙(h_{t-1} − n)⊙σ'(z),   dr = dn⊙gh_n⊙σ'(r)
        ∂L/∂u_t = [dr; dz; dn],   ∂L/∂gh_t = [dr; dz; dn⊙r]
        dh_{t-1} = ∂L/∂h_{t-1} (output) + dh_t⊙z + ∂L/∂gh_t·A_h

    so that ∂L/∂A_h = Σ_t (∂L/∂gh_t)ᵀ h_{t-1} and ∂L/∂b_h = Σ_t ∂L/∂gh_t (the two differ from ∂L/∂u_t in the n
    block, by r). GRU.forward calls it only where the C kernel runs.
    """

    @staticmethod
    def forward(ctx, u, h0, A_h, b_h, lib):
        T, B, G = u.shape
        ghn, hs = u.new_empty(T, B, G // 3), u.new_empty(T, B, G // 3)
        compiled.gru_forward(lib, u, h0, A_h.T.contiguous(), b_h.contiguous(), ghn, hs)
        _gates_in_place_of(ctx, u)
        ctx.save_for_backward(h0, A_h, u, ghn, hs)
        ctx.lib = lib
        return hs, u

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_states, _):
        if grad_states is None:
            return None, None, None, None, None
        h0, A_h, gates, ghn, hs = ctx.saved_tensors
        H = hs.shape[2]
        dgx, dgh, dh = _gates_to_overwrite(gates), torch.empty_like(gates), torch.empty_like(h0)
        with flush_denormals():
            compiled.gru_backward(ctx.lib, dgx, ghn, hs, h0, grad_states, A_h.contiguous(), dgh, dh)
            grad_A_h = gemm.outer_sum(dgh[1:].view(-1, 3 * H), hs[:-1].view(-1, H)) + dgh[0].T @ h0
            grad_b_h = dgh.view(-1, 3 * H).sum(0) if ctx.needs_input_grad[3] else None
        return dgx, dh, grad_A_h, grad_b_h, None


class _Lookup(torch.autograd.Function):
    """E[ids], with ∂L/∂E accumulated row by row by index_add_ (PyTorch's embedding backward sorts the ids first,
    which takes three times as long on the CPU for the lecture's batch)."""

    @staticmethod
    def forward(ctx, ids, weight):
        ctx.save_for_backward(ids)
        ctx.rows = weight.shape[0]
        return F.embedding(ids, weight)

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        dim = grad.shape[-1]
        return None, grad.new_zeros(ctx.rows, dim).index_add_(0, ids.reshape(-1), grad.reshape(-1, dim))


def _gates(w, order):
    """w (…, gates·hidden) with its blocks of columns taken in `order`: the gate reordering between two layouts."""
    blocks = w.chunk(len(order), dim=-1)
    return torch.cat([blocks[k] for k in order], dim=-1)


class _Recurrent(nn.Module):
    """What SimpleRNN, LSTM and GRU share: A = [A_h | A_x] with `gates` blocks of rows, and b. `kind` is the layer's
    name in RunConfig (its `cell`), LAYERS and rnnlab.kernel."""

    kind = "simple_rnn"
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, init="keras", spectral_radius=None, chrono_max=None):
        super().__init__()
        checks.integer("input_size", input_size)
        checks.integer("hidden_size", hidden_size)
        checks.choice("init", init, INITS)
        if init == "chrono":
            if self.gates == 1:
                raise ValueError(f"init='chrono' sets the bias of the gate that keeps the memory (the LSTM's f, the "
                                 f"GRU's z), which a {self.kind} has not: use it with an lstm or a gru (allowed "
                                 f"here: {', '.join(repr(i) for i in INITS if i != 'chrono')})")
            if chrono_max is None:
                raise ValueError("init='chrono' needs chrono_max, T_max (a number >= 2: the longest dependency the "
                                 "gates should start able to hold, e.g. the sequence length; SequenceClassifier "
                                 "passes its seq_len), got None")
            checks.number("chrono_max", chrono_max, 2)
        elif chrono_max is not None:
            raise ValueError(f"chrono_max applies to init='chrono' only, got chrono_max={chrono_max!r} with "
                             f"init={init!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        if spectral_radius is not None:
            if isinstance(spectral_radius, bool) or not isinstance(spectral_radius, (int, float)):
                raise TypeError(f"spectral_radius must be a number or None, got {spectral_radius!r}")
            if not (math.isfinite(spectral_radius) and spectral_radius > 0):
                raise ValueError(f"spectral_radius must be a finite number > 0, got {spectral_radius}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.init, self.spectral_radius, self.chrono_max = init, spectral_radius, chrono_max
        g, h = self.gates, hidden_size
        self.A = nn.Parameter(torch.empty(g * h, h + input_size))
        self.b = nn.Parameter(torch.empty(g * h)) if bias else None
        self.reset_parameters()

    @property
    def A_h(self):
        """The recurrent block of A, (gates·hidden, hidden)."""
        return self.A[:, : self.hidden_size]

    @property
    def A_x(self):
        """The input block of A, (gates·hidden, input)."""
        return self.A[:, self.hidden_size :]

    @torch.no_grad()
    def reset_parameters(self):
        h = self.hidden_size
        A_h, A_x = torch.empty(self.gates * h, h), torch.empty(self.gates * h, self.input_size)
        if self.init == "torch":  # nn.RNN / nn.LSTM / nn.GRU: every weight and bias U(-1/√h, 1/√h)
            k = 1.0 / math.sqrt(h)
            A_h.uniform_(-k, k), A_x.uniform_(-k, k)
            if self.b is not None:
                self.b.uniform_(-k, k)
        else:
            for gate in range(self.gates):
                rows = slice(gate * h, (gate + 1) * h)
                if self.init == "identity":  # IRNN (Le, Jaitly & Hinton, 2015): A_h = I, A_x ~ N(0, 0.001²)
                    A_h[rows] = torch.eye(h)
                    A_x[rows].normal_(0.0, 1e-3)
                elif self.init == "orthogonal":
                    nn.init.orthogonal_(A_h[rows]), nn.init.orthogonal_(A_x[rows])
                else:  # keras, chrono: orthogonal recurrent_kernel, glorot_uniform kernel over all gates at once
                    nn.init.orthogonal_(A_h[rows])
            if self.init in ("keras", "chrono"):
                glorot_uniform_(A_x)
            if self.b is not None:
                self.b.zero_()
                self._gate_bias()
        if self.spectral_radius is not None:  # each gate's (hidden, hidden) block of A_h gets that radius
            for gate in range(self.gates):
                block = A_h[gate * h : (gate + 1) * h]
                rho = spectral_radius(block)
                if rho == 0:
                    raise ValueError("spectral_radius cannot be set: the recurrent block A_h is all zeros")
                block *= self.spectral_radius / rho
        self.A.copy_(torch.cat([A_h, A_x], dim=1))

    # Weight interchange with PyTorch: weight_ih_l0 = A_x and weight_hh_l0 = A_h with the gates in the same order;
    # PyTorch adds two intercepts, bias_ih_l0 + bias_hh_l0, where rnnlab has one b (the GRU keeps both, see GRU).
    torch_class = nn.RNN
    torch_options = ()  # constructor arguments the two layers share beyond the sizes and bias

    @classmethod
    def from_torch(cls, module):
        """This layer with the weights of a one-layer, unidirectional `torch_class` (nn.RNN, nn.LSTM or nn.GRU), in
        its dtype. batch_first may be either: it orders only the module's input; this layer reads (batch, T, input)."""
        if not isinstance(module, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch takes a torch.nn.{cls.torch_class.__name__}, got "
                            f"{type(module).__name__}")
        if module.num_layers != 1 or module.bidirectional or module.proj_size:
            raise ValueError(f"{cls.__name__}.from_torch takes one layer, one direction and no projection, got "
                             f"num_layers={module.num_layers}, bidirectional={module.bidirectional}, "
                             f"proj_size={module.proj_size}")
        options = {name: getattr(module, name) for name in cls.torch_options}
        model = cls(module.input_size, module.hidden_size, bias=module.bias, **options).to(module.weight_hh_l0.dtype)
        with torch.no_grad():
            model.A.copy_(torch.cat([module.weight_hh_l0, module.weight_ih_l0], dim=1))
            if module.bias:
                model._set_intercepts(module.bias_ih_l0, module.bias_hh_l0)
        return model

    def to_torch(self):
        """An equivalent `torch_class(batch_first=True)` in this layer's dtype."""
        module = self.torch_class(self.input_size, self.hidden_size, bias=self.b is not None, batch_first=True,
                                  **{name: getattr(self, name) for name in self.torch_options}).to(self.A.dtype)
        with torch.no_grad():
            module.weight_ih_l0.copy_(self.A_x), module.weight_hh_l0.copy_(self.A_h)
            if self.b is not None:
                bias_ih, bias_hh = self._intercepts()
                module.bias_ih_l0.copy_(bias_ih), module.bias_hh_l0.copy_(bias_hh)
        return module

    # Weight interchange with Keras: kernel = A_xᵀ and recurrent_kernel = A_hᵀ, the gates along the columns in Keras'
    # order; keras_gates[k] is where our gate k sits there. One bias row, or two (input side, recurrent side) where
    # rnnlab keeps two intercepts (the GRU with reset_after=True).
    keras_gates = (0,)
    keras_bias_rows = 1

    @classmethod
    def from_keras(cls, kernel, recurrent_kernel, bias=None, **options):
        """This layer from Keras' weights, in the order of `layer.get_weights()`: kernel (input, gates·hidden),
        recurrent_kernel (hidden, gates·hidden), bias (gates·hidden,) or None (use_bias=False). Keras computes
        x_t·kernel + h_{t-1}·recurrent_kernel + bias, so A = [recurrent_kernelᵀ | kernelᵀ] with the gates reordered.
        options: the layer's other arguments (the SimpleRNN's nonlinearity, Keras' activation)."""
        kernel, recurrent_kernel = torch.as_tensor(kernel), torch.as_tensor(recurrent_kernel)
        g, hidden = cls.gates, recurrent_kernel.shape[0] if recurrent_kernel.dim() == 2 else 0
        if (kernel.dim() != 2 or tuple(recurrent_kernel.shape) != (hidden, g * hidden)
                or kernel.shape[1] != g * hidden or not kernel.is_floating_point()):
            raise ValueError(f"{cls.__name__}.from_keras needs float arrays kernel (input, {g}·hidden) and "
                             f"recurrent_kernel (hidden, {g}·hidden), got {tuple(kernel.shape)} {kernel.dtype} and "
                             f"{tuple(recurrent_kernel.shape)}")
        if bias is not None:
            bias = torch.as_tensor(bias)
            shape = (g * hidden,) if cls.keras_bias_rows == 1 else (cls.keras_bias_rows, g * hidden)
            if tuple(bias.shape) != shape:
                raise ValueError(f"bias must have shape {shape}, Keras' {cls.__name__}"
                                 f"{' with reset_after=True' if cls.keras_bias_rows == 2 else ''}, got "
                                 f"{tuple(bias.shape)}")
        model = cls(kernel.shape[0], hidden, bias=bias is not None, **options).to(kernel.dtype)
        order = cls.keras_gates
        with torch.no_grad():
            model.A.copy_(torch.cat([_gates(recurrent_kernel, order).T, _gates(kernel, order).T], dim=1))
            if bias is not None and cls.keras_bias_rows == 2:
                model._set_intercepts(*_gates(bias, order))
            elif bias is not None:
                model.b.copy_(_gates(bias, order))
        return model

    def to_keras(self):
        """[kernel, recurrent_kernel, bias] as NumPy arrays in Keras' layout (see from_keras), the order of
        `layer.get_weights()` / `layer.set_weights()`; no bias without b."""
        back = sorted(range(self.gates), key=self.keras_gates.__getitem__)
        weights = [self.A_x.T, self.A_h.T]
        if self.b is not None:
            weights.append(self.b if self.keras_bias_rows == 1 else torch.stack(self._intercepts()))
        return [_gates(w.detach(), back).numpy() for w in weights]

    def _set_intercepts(self, bias_ih, bias_hh):
        """b = bias_ih + bias_hh: the two intercepts only ever add (one rounding in float32)."""
        self.b.copy_(bias_ih + bias_hh)

    def _intercepts(self):
        """(bias_ih, bias_hh) = (b, 0)."""
        return self.b, torch.zeros_like(self.b)

    def _gate_bias(self):
        """The gate intercepts that init "keras" or "chrono" sets on b = 0 (the SimpleRNN has no gate)."""

    def _chrono_log_u(self):
        """log u, u ~ U(1, T_max − 1) per unit: Tallec & Ollivier's chrono bias of the gate that keeps the memory."""
        return torch.empty(self.hidden_size).uniform_(1.0, self.chrono_max - 1.0).log_()

    def _h0(self, x, h0):
        if h0 is None:
            return x.new_zeros(x.shape[0], self.hidden_size)
        return h0.to(x.dtype)

    def extra_repr(self):
        s = f"input_size={self.input_size}, hidden_size={self.hidden_size}, init={self.init!r}"
        if self.chrono_max is not None:
            s += f", chrono_max={self.chrono_max}"
        if self.spectral_radius is not None:
            s += f", spectral_radius={self.spectral_radius}"
        return s + ("" if self.b is not None else ", bias=False")


class SimpleRNN(_Recurrent):
    r"""The lecture's SimpleRNN (Keras `SimpleRNN`, PyTorch `nn.RNN` with one bias).

        h_t = φ(A · [h_{t-1}; x_t] + b) = φ(A_h·h_{t-1} + A_x·x_t + b),   t = 0 … T-1,   h_{-1} = h0 or 0

    Args:
        input_size: shape(x_t).
        hidden_size: shape(h_t).
        nonlinearity: φ, one of "tanh" (the lecture's), "relu", "linear".
        bias: whether to add b.
        init: "keras" (glorot_uniform A_x, orthogonal A_h, b = 0: the lecture's defaults), "torch" (PyTorch's
            U(-1/√h, 1/√h) everywhere), "orthogonal" (A_h and A_x orthogonal, b = 0) or "identity" (IRNN:
            A_h = I, A_x ~ N(0, 0.001²), b = 0).
        spectral_radius: if given, A_h is rescaled so that max|λ(A_h)| equals it.

    Parameters:
        A: (hidden_size, hidden_size + input_size), columns [A_h | A_x].
        b: (hidden_size,) or None.

    Shapes: forward(x (batch, T, input_size), h0 (batch, hidden_size) or None) -> (batch, T, hidden_size).
    """

    torch_options = ("nonlinearity",)

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True, init="keras", spectral_radius=None):
        checks.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias=bias, init=init, spectral_radius=spectral_radius)

    def phi(self, z):
        """φ(z), the elementwise nonlinearity."""
        return {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda v: v}[self.nonlinearity](z)

    def phi_prime(self, z):
        """φ'(z), used to carry Jacobians along the recurrence."""
        if self.nonlinearity == "tanh":
            return 1 - torch.tanh(z) ** 2
        if self.nonlinearity == "relu":
            return (z > 0).to(z.dtype)
        return torch.ones_like(z)

    def forward(self, x, h0=None):
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        h0 = self._h0(x, h0)
        if torch._C._are_functorch_transforms_active():  # torch.func (jacrev, jvp, vmap) needs plain autograd ops
            return self.loop(x, h0)
        u = gemm.affine(x.transpose(0, 1), self.A_x, self.b)  # u_t = A_x·x_t + b, time-major, in one GEMM
        return self.recur(u, h0)

    def recur(self, u, h0=None):
        """The states h_t (batch, T, hidden) from the drive u_t = A_x·x_t + b given time-major, (T, batch, hidden)
        (a fresh tensor: it is overwritten)."""
        h0 = u.new_zeros(u.shape[1], self.hidden_size) if h0 is None else h0.to(u.dtype)
        return recurrence(u, h0, self.A_h, self.nonlinearity).transpose(0, 1)

    def loop(self, x, h0=None):
        """The explicit recurrence h_t = φ(A·[h_{t-1}; x_t] + b), step by step: the oracle for `forward`."""
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        h, states = self._h0(x, h0), []
        for t in range(x.shape[1]):
            z = torch.cat([h, x[:, t]], dim=1) @ self.A.T
            h = self.phi(z + self.b if self.b is not None else z)
            states.append(h)
        return torch.stack(states, dim=1)

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"

    def to_torch(self):
        if self.nonlinearity == "linear":
            raise ValueError("nonlinearity='linear' has no torch.nn.RNN equivalent (it allows 'tanh' or 'relu')")
        return super().to_torch()


def _gated_kernel(layer, *tensors):
    """The C kernel for an LSTM's or GRU's loops over these tensors and the layer's A, or None where PyTorch's fused
    layer runs instead: no kernel (RNNLAB_KERNEL=torch, no compiler), a dtype or device it does not take, or inside
    torch.func (jacrev, jvp, vmap), which needs PyTorch's ops."""
    if torch._C._are_functorch_transforms_active():
        return None
    return compiled.for_cell(layer.kind, layer.A, *tensors)


class LSTM(_Recurrent):
    r"""LSTM with the same layout: A = [A_h | A_x] of shape (4·hidden, hidden + input), gates stacked as i, f, g, o.

        [i; f; g; o] = A·[h_{t-1}; x_t] + b
        c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g),    h_t = σ(o) ⊙ tanh(c_t)

    One intercept b (4·hidden,), as Keras counts it; init "keras" also sets the forget-gate bias to 1
    (Keras' unit_forget_bias). forward returns the states h_t, (batch, T, hidden).

    init "chrono" (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"): A as "keras", then per unit

        b_f = log u,   b_i = −b_f,   u ~ U(1, T_max − 1),   T_max = chrono_max

    With zero input the cell keeps σ(b_f) = u/(1 + u) of c_{t-1} a step: c forgets on a time constant
    1/(1 − σ(b_f)) = 1 + u, spread over [2, T_max] (see gate_time_constants), and lets in σ(b_i) = 1/(1 + u).
    """

    kind = "lstm"
    gates = 4
    torch_class = nn.LSTM
    keras_gates = (0, 1, 2, 3)  # Keras' i, f, c, o

    def _gate_bias(self):
        h = self.hidden_size
        if self.init == "keras":
            self.b[h : 2 * h] = 1.0
        elif self.init == "chrono":
            self.b[h : 2 * h] = self._chrono_log_u()
            self.b[:h] = -self.b[h : 2 * h]

    def forward(self, x, h0=None, c0=None):
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        if c0 is not None and tuple(c0.shape) != (x.shape[0], self.hidden_size):
            raise ValueError(f"c0 must have shape (batch, hidden) = {(x.shape[0], self.hidden_size)}, got "
                             f"{tuple(c0.shape)}")
        h0 = self._h0(x, h0)
        c0 = torch.zeros_like(h0) if c0 is None else c0.to(x.dtype)
        lib = _gated_kernel(self, x, h0, c0)
        if lib is not None:  # u_t = A_x·x_t + b, time-major, in one GEMM; the loop over steps and its BPTT in C
            u = gemm.affine(x.transpose(0, 1), self.A_x, self.b)  # a new contiguous tensor
            return _LSTMRecurrence.apply(u, h0.contiguous(), c0.contiguous(), self.A_h, lib)[0].transpose(0, 1)
        weights = [self.A_x, self.A_h] + ([self.b, torch.zeros_like(self.b)] if self.b is not None else [])
        states, _, _ = torch._VF.lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)), weights, self.b is not None,
                                      1, 0.0, self.training, False, True)
        return states

    def cell(self, x_t, h, c):
        """One step of the recurrence: (h_{t-1}, c_{t-1}, x_t) -> (h_t, c_t)."""
        z = torch.cat([h, x_t], dim=1) @ self.A.T
        if self.b is not None:
            z = z + self.b
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def loop(self, x, h0=None, c0=None):
        """The explicit recurrence, step by step: the oracle for `forward`."""
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        h = self._h0(x, h0)
        c = torch.zeros_like(h) if c0 is None else c0.to(x.dtype)
        states = []
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], h, c)
            states.append(h)
        return torch.stack(states, dim=1)


class GRU(_Recurrent):
    r"""GRU with the same layout: A = [A_h | A_x] of shape (3·hidden, hidden + input), gates stacked as r, z, n.

        [r; z] = σ(A_{rz}·[h_{t-1}; x_t] + b_{rz} + b_h,{rz})
        n = tanh(A_{n,x}·x_t + b_n + r ⊙ (A_{n,h}·h_{t-1} + b_h,n))
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    This is PyTorch's GRU and Keras' GRU with reset_after=True (its default), which both keep two intercepts:
    b (3·hidden,) on the input side and b_h (3·hidden,) on the recurrent side.

    z keeps h_{t-1} and 1 − z lets n in: z plays the LSTM's forget gate. init "chrono" (see LSTM) is "keras" for A,
    then b_z = log u, u ~ U(1, T_max − 1) per unit (+log u because z multiplies h_{t-1} here; a GRU written the
    other way round, h_t = (1 − z)·h_{t-1} + z·n, takes −log u), so that h starts to forget on a time constant
    1/(1 − σ(b_z)) = 1 + u.
    """

    kind = "gru"
    gates = 3
    torch_class = nn.GRU
    keras_gates = (1, 0, 2)  # Keras' z, r, h: our r is its second block, z its first
    keras_bias_rows = 2  # reset_after=True: (input side, recurrent side), our b and b_h

    def __init__(self, input_size, hidden_size, bias=True, init="keras", spectral_radius=None, chrono_max=None):
        super().__init__(input_size, hidden_size, bias=bias, init=init, spectral_radius=spectral_radius,
                         chrono_max=chrono_max)
        if bias:
            self.b_h = nn.Parameter(torch.zeros(3 * hidden_size))
            if init == "torch":
                with torch.no_grad():
                    self.b_h.uniform_(-1 / math.sqrt(hidden_size), 1 / math.sqrt(hidden_size))
        else:
            self.b_h = None

    def _gate_bias(self):
        if self.init == "chrono":
            self.b[self.hidden_size : 2 * self.hidden_size] = self._chrono_log_u()

    def _set_intercepts(self, bias_ih, bias_hh):
        """b = bias_ih, b_h = bias_hh: the n gate's b_h,n sits inside r ⊙ (…), so it cannot join b."""
        self.b.copy_(bias_ih), self.b_h.copy_(bias_hh)

    def _intercepts(self):
        """(bias_ih, bias_hh) = (b, b_h)."""
        return self.b, self.b_h

    def forward(self, x, h0=None):
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        h0 = self._h0(x, h0)
        lib = _gated_kernel(self, x, h0)
        if lib is not None:  # u_t = A_x·x_t + b in one GEMM, as the LSTM's
            u = gemm.affine(x.transpose(0, 1), self.A_x, self.b)  # a new contiguous tensor
            b_h = self.b_h if self.b_h is not None else u.new_zeros(3 * self.hidden_size)
            return _GRURecurrence.apply(u, h0.contiguous(), self.A_h, b_h, lib)[0].transpose(0, 1)
        weights = [self.A_x, self.A_h] + ([self.b, self.b_h] if self.b is not None else [])
        states, _ = torch._VF.gru(x, h0.unsqueeze(0), weights, self.b is not None, 1, 0.0, self.training,
                                  False, True)
        return states

    def cell(self, x_t, h):
        """One step of the recurrence: (h_{t-1}, x_t) -> h_t."""
        gx, gh = x_t @ self.A_x.T, h @ self.A_h.T
        if self.b is not None:
            gx, gh = gx + self.b, gh + self.b_h
        rx, zx, nx = gx.chunk(3, dim=1)
        rh, zh, nh = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(rx + rh), torch.sigmoid(zx + zh)
        n = torch.tanh(nx + r * nh)
        return (1 - z) * n + z * h

    def loop(self, x, h0=None):
        """The explicit recurrence, step by step: the oracle for `forward`."""
        checks.sequences(x, self.input_size, h0, self.hidden_size)
        h, states = self._h0(x, h0), []
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
            states.append(h)
        return torch.stack(states, dim=1)


LAYERS = {layer.kind: layer for layer in (SimpleRNN, LSTM, GRU)}  # one per name in CELLS, in its order


@torch.no_grad()
def gate_time_constants(layer):
    r"""Per unit, the time constant that the bias alone gives the gate keeping the memory, in steps, float64:

        τ = 1/(1 − σ(b_f)) = 1 + exp(b_f)

    b_f is the LSTM's forget-gate intercept, or the GRU's b_z + b_h,z (z keeps h_{t-1}); 0 without intercepts.
    With zero input and A_h·h_{t-1} = 0 the gate keeps σ(b_f) of the memory a step, so an old input fades as
    σ(b_f)^t ≈ exp(−t/τ) once τ ≫ 1. "keras" gives the LSTM τ = 1 + e ≈ 3.7, "chrono" τ = 1 + u ∈ [2, T_max].
    None for a SimpleRNN, which has no gate: its memory is set by A_h and φ′ (see rnnlab.memory).
    """
    if not isinstance(layer, _Recurrent):
        raise TypeError(f"layer must be a SimpleRNN, LSTM or GRU, got {type(layer).__name__}")
    if isinstance(layer, SimpleRNN):
        return None
    h = layer.hidden_size
    if layer.b is None:
        return torch.full((h,), 2.0, dtype=torch.float64)
    b_f = layer.b[h : 2 * h].double()
    if isinstance(layer, GRU):
        b_f = b_f + layer.b_h[h : 2 * h].double()
    return 1 + b_f.exp()  # = 1/(1 − σ(b_f)) without the cancellation of 1 − σ(b_f) ≈ 0 for long τ


class SequenceClassifier(nn.Module):
    r"""The lecture's model: [Embedding] → recurrent layer → [Flatten] → Dense.

        e_t = E[token_t]            (vocab_size given; else x_t are the raw float inputs)
        h_t = rnn(e_0 … e_t)        all states, (batch, T, hidden)
        y   = W·h_{T-1} + c         head="last"   (Keras return_sequences=False)
        y   = W·[h_0; …; h_{T-1}] + c  head="flatten" (needs seq_len)
        y_t = W·h_t + c,  t = 0 … T-1  head="each" (Keras return_sequences=True + Dense: an answer per step)

    num_classes=1: one logit, sigmoid and binary cross-entropy (the lecture's Dense(1, activation="sigmoid"));
    num_classes≥2: softmax and cross-entropy; regression=True: one real output and mean squared error.
    Embedding init is Keras' U(-0.05, 0.05); Dense init is glorot_uniform with zero bias. An LSTM or GRU with
    init="chrono" gets T_max = seq_len (chrono_max, unless given in cell_options).
    """

    def __init__(self, vocab_size=None, input_size=None, embedding_dim=32, hidden_size=32, cell="simple_rnn",
                 head="last", seq_len=None, num_classes=1, regression=False, **cell_options):
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("give exactly one of vocab_size (token ids in) or input_size (float vectors in), got "
                             f"vocab_size={vocab_size!r}, input_size={input_size!r}")
        checks.choice("cell", cell, CELLS)
        checks.choice("head", head, HEADS)
        checks.integer("num_classes", num_classes)
        chrono = cell != "simple_rnn" and cell_options.get("init") == "chrono"  # reads seq_len as T_max
        if head == "flatten" and seq_len is None:
            raise ValueError("head='flatten' needs seq_len (the number of states it flattens), got None")
        if seq_len is not None and (head == "flatten" or chrono):
            checks.integer("seq_len", seq_len)
        if regression and num_classes != 1:
            raise ValueError(f"regression=True has one output: num_classes must be 1, got {num_classes}")
        if cell != "simple_rnn" and "nonlinearity" in cell_options:
            raise ValueError(f"nonlinearity applies to cell='simple_rnn' only, got cell={cell!r}")
        self.vocab_size, self.cell, self.head, self.seq_len = vocab_size, cell, head, seq_len
        self.num_classes, self.regression = num_classes, regression
        if vocab_size is not None:
            checks.integer("vocab_size", vocab_size)
            checks.integer("embedding_dim", embedding_dim)
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            input_size = embedding_dim
        else:
            checks.integer("input_size", input_size)
            self.embedding = None
        self.input_size = input_size
        if chrono and seq_len is not None:
            # T_max = the training length; one step holds no dependency, and T_max = 2 gives b_f = log 1 = 0 there
            cell_options.setdefault("chrono_max", max(seq_len, 2))
        self.rnn = LAYERS[cell](input_size, hidden_size, **cell_options)
        features = hidden_size * (seq_len if head == "flatten" else 1)
        self.dense = nn.Linear(features, num_classes)
        with torch.no_grad():
            glorot_uniform_(self.dense.weight), self.dense.bias.zero_()

    @classmethod
    def from_torch(cls, embedding, rnn, dense, head="last", regression=False):
        """The model nn.Embedding → nn.RNN, nn.LSTM or nn.GRU → nn.Linear computes, with their weights, in the
        recurrent layer's dtype.

        embedding: an nn.Embedding (token ids in), or None (float vectors in). Its padding_idx row is copied as it
        is (zeros as PyTorch makes it) and trains like any other here. rnn: one layer, one direction, batch_first
        either way (see _Recurrent.from_torch). dense: the head on h_{T-1} (head="last"), on each h_t ("each") or
        on [h_0; …; h_{T-1}] ("flatten", seq_len = dense.in_features / hidden); num_classes = dense.out_features.
        """
        layer = next((layer for layer in LAYERS.values() if isinstance(rnn, layer.torch_class)), None)
        if layer is None:
            raise TypeError(f"rnn must be a torch.nn.RNN, LSTM or GRU, got {type(rnn).__name__}")
        if not isinstance(dense, nn.Linear):
            raise TypeError(f"dense must be a torch.nn.Linear, got {type(dense).__name__}")
        if embedding is not None:
            if not isinstance(embedding, nn.Embedding):
                raise TypeError(f"embedding must be a torch.nn.Embedding or None, got {type(embedding).__name__}")
            if embedding.max_norm is not None:
                raise ValueError(f"embedding.max_norm must be None (rnnlab's lookup does not renormalise rows), got "
                                 f"{embedding.max_norm}")
            if embedding.embedding_dim != rnn.input_size:
                raise ValueError(f"embedding.embedding_dim must equal rnn.input_size = {rnn.input_size}, got "
                                 f"{embedding.embedding_dim}")
        table = None if embedding is None else embedding.weight
        return cls._from_parts(table, layer.from_torch(rnn), dense.weight, dense.bias, head, regression,
                               ("dense.in_features", "rnn.hidden_size"))

    @classmethod
    def from_keras(cls, weights, cell="simple_rnn", head="last", embedding=True, regression=False, **cell_options):
        """The model Keras' [Embedding] → SimpleRNN, LSTM or GRU → [Flatten] → Dense computes, from the arrays of
        its `model.get_weights()`, in their dtype:

            [embeddings (vocab, dim)],  kernel, recurrent_kernel, [bias]  (see SimpleRNN.from_keras),  W (features,
            units), c (units,)

        so that the output is x·W + c, Dense's before its activation. embedding: whether the first array is an
        Embedding's (token ids in) or not (float vectors in); the recurrent layer has a bias unless the list is one
        array short (use_bias=False). head: "last" (return_sequences=False), "flatten" (return_sequences=True,
        Flatten; seq_len = features / hidden) or "each" (return_sequences=True, Dense on every step). The Dense
        activation is the loss's: sigmoid on one unit gives the logit (num_classes=1), softmax on several the class
        logits, linear on one unit regression=True. cell_options: the SimpleRNN's nonlinearity (Keras' activation).
        """
        checks.choice("cell", cell, CELLS)
        if not isinstance(embedding, bool):
            raise TypeError(f"embedding must be True or False, got {embedding!r}")
        weights = list(weights)
        recurrent = len(weights) - embedding - 2
        if recurrent not in (2, 3):
            raise ValueError(f"weights must be {'embeddings, ' if embedding else ''}kernel, recurrent_kernel, "
                             f"[bias], Dense kernel and bias: {4 + embedding} or {5 + embedding} arrays, got "
                             f"{len(weights)}")
        layer = LAYERS[cell].from_keras(*weights[embedding : embedding + recurrent], **cell_options)
        W, c = (torch.as_tensor(w) for w in weights[-2:])
        if W.dim() != 2 or tuple(c.shape) != (W.shape[1],):
            raise ValueError(f"the Dense kernel and bias must have shapes (features, units) and (units,), got "
                             f"{tuple(W.shape)} and {tuple(c.shape)}")
        table = torch.as_tensor(weights[0]) if embedding else None
        if table is not None and (table.dim() != 2 or table.shape[1] != layer.input_size):
            raise ValueError(f"embeddings must have shape (vocab, {layer.input_size}), the width the recurrent "
                             f"kernel reads, got {tuple(table.shape)}")
        return cls._from_parts(table, layer, W.T, c, head, regression, ("the Dense kernel's rows", "units"))

    def to_keras(self):
        """The arrays of Keras' `model.get_weights()` for this model (see from_keras), as NumPy arrays."""
        table = [] if self.embedding is None else [self.embedding.weight.detach().numpy()]
        return [*table, *self.rnn.to_keras(), self.dense.weight.detach().T.numpy(), self.dense.bias.detach().numpy()]

    @classmethod
    def _from_parts(cls, table, rnn, W, c, head, regression, names):
        """The model around a built recurrent layer, with an embedding table (vocab, dim) or None and the head
        y = W·h + c, W (classes, features), c (classes,) or None (zeros), in the recurrent layer's dtype. names:
        what the caller calls the features and the hidden size, for the error."""
        checks.choice("head", head, HEADS)
        hidden, features = rnn.hidden_size, W.shape[1]
        steps = features // hidden if head == "flatten" and features % hidden == 0 else None
        if features != hidden and steps is None:
            raise ValueError(f"{names[0]} must be {names[1]} = {hidden} for head={head!r}"
                             f"{' or a multiple of it' if head == 'flatten' else ''}, got {features}")
        sizes = (dict(input_size=rnn.input_size) if table is None
                 else dict(vocab_size=table.shape[0], embedding_dim=table.shape[1]))
        model = cls(**sizes, hidden_size=hidden, cell=rnn.kind, head=head, seq_len=steps, num_classes=W.shape[0],
                    regression=regression)
        model.rnn = rnn
        model = model.to(rnn.A.dtype)
        with torch.no_grad():
            if table is not None:
                model.embedding.weight.copy_(table)
            model.dense.weight.copy_(W)
            if c is not None:  # else the zeros it was built with
                model.dense.bias.copy_(c)
        return model

    @property
    def hidden_size(self):
        return self.rnn.hidden_size

    def _check_ids(self, x):
        if not isinstance(x, torch.Tensor) or x.dtype not in (torch.int64, torch.int32) or x.dim() != 2:
            raise TypeError(f"x must be token ids, an int64 (or int32) tensor of shape (batch, T), got "
                            f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size - 1}] (vocab_size={self.vocab_size}), "
                             f"got values in [{int(x.min())}, {int(x.max())}]")

    def embed(self, x):
        """The float inputs x_t the recurrent layer reads: E[token_t] for token ids, x itself otherwise."""
        if self.embedding is None:
            return x
        self._check_ids(x)
        if torch._C._are_functorch_transforms_active():
            return self.embedding(x)
        # Looked up time-major, (T, batch, dim), and handed on as a (batch, T, dim) view: the recurrent layer reads
        # it time-major with no copy.
        return _Lookup.apply(x.T, self.embedding.weight).transpose(0, 1)

    def states(self, x, last=False):
        """All states h_t, (batch, T, hidden); with last=True, where the C loop below runs, h_{T-1} alone, (batch, 1,
        hidden) (what head="last" reads).

        A SimpleRNN reading embeddings needs only its drive u_t = A_x·E[token_t] + b, a row of the projected table
        E·A_xᵀ + b. Once a batch holds at least as many tokens as the vocabulary has words, projecting the table (one
        row a word) costs no more than projecting every token, so the drive is looked up there (the same numbers up to
        rounding; autograd carries ∂L/∂u back through the lookup and the projection). Where no gradient is wanted
        (torch.no_grad, or no parameter requires it) the C loop reads the ids and the table itself: the same states
        bit for bit, with no (T, batch, hidden) drive written first, and for last=True no states but the last two.
        """
        rnn = self.rnn
        if (self.embedding is None or self.cell != "simple_rnn" or torch._C._are_functorch_transforms_active()
                or not torch.is_tensor(x) or x.numel() < self.vocab_size):
            return rnn(self.embed(x))
        self._check_ids(x)
        P = gemm.affine(self.embedding.weight, rnn.A_x, rnn.b)
        lib = None if P.requires_grad else compiled.for_cell("simple_rnn", P, rnn.A_h)
        if lib is None:
            return rnn.recur(_Lookup.apply(x.T, P))
        h0 = P.new_zeros(x.shape[0], rnn.hidden_size)
        hs = compiled.lookup_forward(lib, x.T, P, h0, rnn.A_h.T.contiguous(), rnn.nonlinearity, every=not last)
        return hs.unsqueeze(1) if last else hs.transpose(0, 1)

    def head_output(self, states):
        """The Dense layer on h_{T-1} ("last") or on all states flattened ("flatten"): (batch,) for one output, else
        (batch, classes); on each h_t ("each"): (batch, T) for one output, else (batch, T, classes)."""
        if self.head == "each":
            features = states
        elif self.head == "flatten":
            if states.shape[1] != self.seq_len:
                raise ValueError(f"head='flatten' was built for seq_len={self.seq_len}, got sequences of "
                                 f"length {states.shape[1]}")
            steps = states.transpose(0, 1)
            if steps.is_contiguous():  # time-major underneath (the SimpleRNN's): W·[h_0; …; h_{T-1}] = Σ_t W_t·h_t
                T, B, H = steps.shape  # as one batched product over t, with no copy of the states
                W_t = self.dense.weight.view(-1, T, H).permute(1, 2, 0)  # (T, H, classes)
                out = torch.bmm(steps, W_t).sum(0) + self.dense.bias
                return out.squeeze(-1) if self.num_classes == 1 else out
            features = states.reshape(states.shape[0], -1)
        else:
            features = states[:, -1]
        out = self.dense(features)
        return out.squeeze(-1) if self.num_classes == 1 else out

    def forward(self, x):
        """Logits (or the regression output): (batch,) when num_classes=1, else (batch, num_classes); head="each"
        answers at every step, (batch, T) or (batch, T, num_classes)."""
        return self.head_output(self.states(x, last=self.head == "last"))

    def loss(self, output, y):
        """The training loss, mean over the batch (and over the steps for head="each", y then (batch, T)): BCE on
        the logit, cross-entropy, or MSE for regression."""
        if self.regression:
            return F.mse_loss(output, y.to(output.dtype))
        if self.num_classes == 1:
            return F.binary_cross_entropy_with_logits(output, y.to(output.dtype))
        return F.cross_entropy(output.flatten(0, -2), y.long().flatten())

    def predict(self, output):
        """Predicted labels (or values for regression) from the forward output."""
        if self.regression:
            return output
        if self.num_classes == 1:
            return (output > 0).long()
        return output.argmax(dim=-1)
