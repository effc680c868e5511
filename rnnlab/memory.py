"""How far back a recurrent network remembers: measurements of the influence of x_0 on h_t.

The lecture's SimpleRNN, h_t = φ(A·[h_{t-1}; x_t] + b) = φ(z_t), forgets because the influence of the first input

    ∂h_t/∂x_0 = diag(φ'(z_t))·A_h · … · diag(φ'(z_1))·A_h · diag(φ'(z_0))·A_x

is a product of t Jacobians: if they shrink vectors it vanishes exponentially, if they stretch them it explodes
(Pascanu, Mikolov & Bengio, 2013). This module measures that product and what follows from it:

    influence_curve       ‖∂h_t/∂x_0‖ for every t, exact, in one forward pass (forward-mode, memory flat in T)
    perturbation_curve    ‖h_t(x) − h_t(x')‖ when only x_0 changes (finite, not infinitesimal)
    gradient_curve        ‖∂L/∂h_t‖ of the training loss, one backward pass
    saliency_curve        ‖∂L/∂x_t‖
    fit_decay             rate, time constant, half-life and horizon of any of those curves
    recurrent_spectrum    eigenvalues and singular values of A_h, and the bound σ_max(A_h)^t
    lyapunov_exponent     the average log growth per step of the tangent map along a trajectory
    state_trajectory      h_t's path in principal components, and saturated units (in rnnlab.trajectories)
    memory_profile        Jaeger's linear memory capacity: how well x_{t-k} can be read back from h_t

Every function takes a recurrent layer (SimpleRNN, LSTM, GRU; float inputs (batch, T, input)) or a
SequenceClassifier (its inputs, token ids (batch, T) or floats), and works in the model's dtype. The curves are
float64 arrays whatever that dtype: each norm is taken with LAPACK's scaling, ‖v‖ = s·‖v/s‖ with s = max|v_i|, so
that no square underflows or overflows, and is exact (to float precision) wherever the vector it measures is
representable in the model's dtype: entries between the smallest normal number and the largest, 1.2e-38 … 3.4e38
in float32, 2.2e-308 … 1.8e308 in float64. Entries below that range are flushed to 0 as they are computed, entries
above it overflow to inf (a RuntimeWarning says so): use float64 (model.double()) to widen the range.
"""
import dataclasses
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import checks, kernel
from rnnlab.models import (GRU, LSTM, SequenceClassifier, SimpleRNN, flush_denormals, phi_prime_of_state,
                           recurrence)
from rnnlab.train import check_labels
from rnnlab.trajectories import Trajectory, state_trajectory  # noqa: F401 (its own module; importable from here too)

NORMS = ("fro", "spectral")
FULL_LIMIT = 10**7  # elements of the Jacobians full=True may return
CHUNK_ELEMENTS = 2**21  # elements of the tangent buffer: bounds memory whatever T is


def _layer(model):
    """(classifier or None, recurrent layer)."""
    if isinstance(model, SequenceClassifier):
        return model, model.rnn
    if isinstance(model, (SimpleRNN, LSTM, GRU)):
        return None, model
    raise TypeError(f"model must be a SimpleRNN, LSTM, GRU or SequenceClassifier, got {type(model).__name__}")


def _inputs(model, x):
    """(classifier or None, recurrent layer, x_t as the layer reads them: (batch, T, input) in the model's dtype).

    For token ids x_t is the embedding vector E[token_t]; derivatives "with respect to x_0" are with respect to it.
    """
    clf, rnn = _layer(model)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if clf is not None:
        x = clf.embed(x)
    if x.is_floating_point():
        x = x.to(rnn.A.dtype)
    checks.sequences(x, rnn.input_size)
    return clf, rnn, x


def _numpy(t):
    return t.detach().cpu().numpy()


def _scaled(v, dim):
    """(v/s, s) in float64 with s = max|v| over dim (kept), or 1 where that is 0, inf or NaN, which v/s then keeps."""
    v = v.double()
    s = v.abs().amax(dim=dim, keepdim=True)
    s = torch.where((s > 0) & torch.isfinite(s), s, 1.0)
    return v / s, s


def _norm(v, dim):
    r"""‖v‖₂ over dim in float64, exact wherever float64 holds it: LAPACK's nrm2 scaling, ‖v‖ = s·‖v/s‖ with
    s = max|v_i|, so that no square underflows (|v_i| < 1.5e-154) or overflows (> 1.3e154); torch's vector_norm
    does neither. 0 stays 0, an inf gives inf, a NaN NaN."""
    u, s = _scaled(v, dim)
    return torch.linalg.vector_norm(u, dim=dim) * s.squeeze(dim)


def _mean(v, dim):
    """The mean over dim in float64, scaled as _norm is, so that a sum of values near 1.8e308 does not overflow."""
    u, s = _scaled(v, dim)
    return u.mean(dim) * s.squeeze(dim)


def _warn_if_not_finite(name, curve, dtype, stacklevel=3):
    """Overflow is reported, never hidden: the curve keeps its inf/NaN entries and a RuntimeWarning says where."""
    bad = np.flatnonzero(~np.isfinite(curve))
    if bad.size:
        hint = (" Run in float64 (model.double()) to push overflow back." if dtype != torch.float64
                else " Past float64's range (1.8e308): use a smaller spectral radius or a shorter sequence.")
        warnings.warn(f"{name}: {bad.size} of {len(curve)} values are inf/NaN, at t = {bad[0]} … {bad[-1]} "
                      f"({dtype} overflowed).{hint}", RuntimeWarning, stacklevel=stacklevel)


# ---------------------------------------------------------------------------------------------------------------
# Tangents: the Jacobian of h_t carried forward along the trajectory, chunk by chunk.
#
# A tangent is laid out (rows, batch, K): K directions per sequence, so that A_h @ tangent is one matmul
# (rows × hidden)·(hidden × batch·K) per step. Per chunk of steps the local derivatives (φ'(z_t), gate values) are
# computed from one fused forward pass, all steps at once; the loop then holds one matmul and a few elementwise ops.
# `step(i, tangent, drive, out)` maps the tangent of the state before step i (None: zero) and a tangent of the
# input side of step i (`drive`, (gates·hidden, 1 or batch, K), or None) to the tangent of the state after it,
# writing ∂h into `out` (hidden, batch, K). For the LSTM the state, and the tangent, is the pair (h, c).
# `step.coefficients` holds the local derivatives time-major, (steps, batch, width), as the C loops
# (rnnlab.kernel.tangent, gated_tangent) read them: the loop over steps runs there wherever the kernel is built.
# ---------------------------------------------------------------------------------------------------------------

def _steps_first(v):
    """(batch, C, rows) -> (C, rows, batch, 1), the layout of per-step coefficients."""
    return v.permute(1, 2, 0).unsqueeze(-1).contiguous()


def _per_step(v):
    """One step's coefficients (batch, rows), time-major, as (rows, batch, 1): a view that broadcasts over K."""
    return v.T.unsqueeze(-1)


def _prev(h0, states):
    """h_{t-1} for the steps of a chunk, time-major: (C, batch, hidden) from states (C, batch, hidden)."""
    return torch.cat([h0.unsqueeze(0), states[:-1]])


def _linearise_simple_rnn(rnn, x, state):
    r"""∂h_t = φ'(z_t) ⊙ (A_h·∂h_{t-1} + A_x·∂x_t).

    φ'(z_t) is read off h_t = φ(z_t): 1 − h_t² for tanh (what autograd uses too), 1[h_t > 0] for relu, 1 for linear.
    """
    (h0,) = state
    states = rnn(x, h0=h0)
    phi_prime = phi_prime_of_state(rnn.nonlinearity, states)
    d, A_h, H = _steps_first(phi_prime), rnn.A_h.detach().contiguous(), rnn.hidden_size

    def step(i, dh, drive, out):
        if dh is None:
            return torch.mul(drive, d[i], out=out)
        torch.mm(A_h, dh.view(H, -1), out=out.view(H, -1))
        if drive is not None:
            out += drive
        return out.mul_(d[i])

    step.coefficients = phi_prime.transpose(0, 1).contiguous()  # φ'(z_t), (steps, batch, hidden)
    return step, (states[:, -1],), states


def _cells(u, f, c0):
    """The LSTM's cell states c_t = u_t + f_t ⊙ c_{t-1} from c0, time-major (C, batch, hidden), in place of u: in
    the C loop where there is one, else step by step."""
    lib = kernel.for_cell("lstm", u)
    if lib is not None:
        kernel.lstm_cells(lib, f, u, c0.contiguous())
        return u
    c = c0
    for t in range(len(u)):
        c = torch.addcmul(u[t], f[t], c, out=u[t])
    return u


def _linearise_lstm(rnn, x, state):
    r"""The tangent of (h, c) with dz = A_h·∂h_{t-1} + A_x·∂x_t split into the gates [di; df; dg; do]:

        ∂c_t = σ(f)⊙∂c_{t-1} + σ'(i)·tanh(g)⊙di + σ'(f)·c_{t-1}⊙df + σ(i)·tanh'(g)⊙dg
        ∂h_t = σ'(o)·tanh(c_t)⊙do + σ(o)·tanh'(c_t)⊙∂c_t

    The cell states c_t, which the fused forward does not return, are recomputed from its gates. Coefficients per
    step: W = [σ'(i)·tanh(g); σ'(f)·c_{t-1}; σ(i)·tanh'(g); σ'(o)·tanh(c_t)], f = σ(f), k = σ(o)·tanh'(c_t).
    """
    h0, c0 = state
    states = rnn(x, h0=h0, c0=c0)
    z = F.linear(torch.cat([_prev(h0, states.transpose(0, 1)), x.transpose(0, 1)], dim=2), rnn.A.detach(),
                 None if rnn.b is None else rnn.b.detach())  # time-major, (C, batch, 4·hidden)
    i, f, g, o = z.chunk(4, dim=2)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    cells = _cells(i * g, f, c0)
    tc = torch.tanh(cells)
    coefficients = torch.cat([i * (1 - i) * g, f * (1 - f) * _prev(c0, cells), i * (1 - g * g), o * (1 - o) * tc,
                              f, o * (1 - tc * tc)], dim=2)  # [W | f | k], (C, batch, 6·hidden)
    A_h, H = rnn.A_h.detach().contiguous(), rnn.hidden_size
    W, f, k = coefficients[..., : 4 * H], coefficients[..., 4 * H : 5 * H], coefficients[..., 5 * H :]

    def step(t, tangent, drive, out):
        dh, dc = (None, None) if tangent is None else tangent
        dz = drive if dh is None else torch.mm(A_h, dh.view(H, -1)).view(4 * H, *dh.shape[1:])
        if dh is not None and drive is not None:
            dz = dz + drive
        di, df, dg, do = (dz * _per_step(W[t])).chunk(4)
        dc_new = di + df + dg
        if dc is not None:
            dc_new.addcmul_(_per_step(f[t]), dc)
        return torch.addcmul(do, _per_step(k[t]), dc_new, out=out), dc_new

    step.coefficients = coefficients
    return step, (states[:, -1], cells[-1]), states


def _linearise_gru(rnn, x, state):
    r"""With a_x = ∂(A_x·x_t) and a_h = A_h·∂h_{t-1}, each split into the gates [·_r; ·_z; ·_n], and
    n_h = A_{n,h}·h_{t-1} + b_{h,n}:

        dr = σ'·(a_{x,r} + a_{h,r}),  dz = σ'·(a_{x,z} + a_{h,z}),  dn = tanh'·(a_{x,n} + r⊙a_{h,n} + n_h⊙dr)
        ∂h_t = (1 − z)⊙dn + (h_{t-1} − n)⊙dz + z⊙∂h_{t-1}

    Coefficients per step: α = [a_r; a_z; (1 − z)·tanh'·r] on a_h, β = [a_r; a_z; (1 − z)·tanh'] on a_x, and z,
    with a_r = (1 − z)·tanh'·n_h·σ'(r) and a_z = (h_{t-1} − n)·σ'(z).
    """
    (h0,) = state
    states = rnn(x, h0=h0)
    prev = _prev(h0, states.transpose(0, 1))  # time-major, as everything below
    b, b_h = (None, None) if rnn.b is None else (rnn.b.detach(), rnn.b_h.detach())
    gx, gh = F.linear(x.transpose(0, 1), rnn.A_x.detach(), b), F.linear(prev, rnn.A_h.detach(), b_h)
    (rx, zx, nx), (rh, zh, nh) = gx.chunk(3, dim=2), gh.chunk(3, dim=2)
    r, z = torch.sigmoid(rx + rh), torch.sigmoid(zx + zh)
    n = torch.tanh(nx + r * nh)
    dn = (1 - z) * (1 - n * n)
    ar, az = dn * nh * r * (1 - r), (prev - n) * z * (1 - z)
    coefficients = torch.cat([ar, az, dn * r, z], dim=2)  # [α | z], (C, batch, 4·hidden)
    beta, A_h, H = torch.cat([ar, az, dn], dim=2), rnn.A_h.detach().contiguous(), rnn.hidden_size
    alpha, z = coefficients[..., : 3 * H], coefficients[..., 3 * H :]

    def step(t, dh, drive, out):
        w = None if dh is None else torch.mm(A_h, dh.view(H, -1)).view(3 * H, *dh.shape[1:]).mul_(_per_step(alpha[t]))
        if drive is not None:
            w = drive * _per_step(beta[t]) if w is None else w.addcmul_(drive, _per_step(beta[t]))
        wr, wz, wn = w.chunk(3)
        torch.add(wr, wz, out=out).add_(wn)
        return out if dh is None else out.addcmul_(_per_step(z[t]), dh)

    step.coefficients = coefficients
    return step, (states[:, -1],), states


_LINEARISE = {SimpleRNN: _linearise_simple_rnn, LSTM: _linearise_lstm, GRU: _linearise_gru}


def _linearisations(rnn, x, chunk):
    """Yield (s, step) for the chunks x[:, s : s + chunk], carrying the state from chunk to chunk.

    States that overflow make every later derivative meaningless (relu reads φ'(NaN) as 0, a tangent then looks
    like it vanished): a RuntimeWarning names the first such t, for the caller of the measurement.
    """
    h = x.new_zeros(x.shape[0], rnn.hidden_size)
    state, warned = ((h, h) if isinstance(rnn, LSTM) else (h,)), False
    for s in range(0, x.shape[1], chunk):
        step, state, states = _LINEARISE[type(rnn)](rnn, x[:, s : s + chunk], state)
        if not warned and not torch.isfinite(states).all():
            t = s + int((~torch.isfinite(states)).any(2).any(0).nonzero()[0, 0])
            warnings.warn(f"the states h_t overflow to inf/NaN from t = {t} ({x.dtype}): what is measured from "
                          "there on is meaningless. Use float64 (model.double()), a smaller spectral radius or a "
                          "shorter sequence.", RuntimeWarning, stacklevel=4)  # past the measurement and no_grad
            warned = True
        yield s, step


def _chunk(T, elements_per_step):
    return max(2, min(T, CHUNK_ELEMENTS // max(1, elements_per_step)))


def _parts(rnn):
    """How many parts a tangent has: 2 for the LSTM's (∂h, ∂c), 1 for ∂h."""
    return 2 if isinstance(rnn, LSTM) else 1


def _c_tangents(lib, rnn, coefficients, tangent, out, norms=None, renorm=False):
    """The tangents for the steps of `coefficients` (a step function's, time-major) in the C loop of rnn's cell
    (kernel.tangent, kernel.gated_tangent), from `tangent` (batch, parts, K, hidden) into out (steps, batch,
    parts, K, hidden), ‖∂h_t‖ into norms (steps, batch) float64 if given; renorm as in kernel.tangent."""
    A_hT = rnn.A_h.detach().unflatten(0, (-1, rnn.hidden_size)).transpose(1, 2).contiguous()  # per gate
    if type(rnn) is SimpleRNN:
        kernel.tangent(lib, coefficients, A_hT[0], tangent[:, 0], out[:, :, 0], norms, renorm)
    else:
        kernel.gated_tangent(lib, rnn.kind, coefficients, A_hT, tangent, out, norms, renorm)


def _influence_chunk(lib, rnn, step, tangent, out, norms=None):
    """influence_curve's chunk of steps through the C loops: J_t = ∂h_t/∂x_0 (and ∂c_t/∂x_0) for the steps of
    `step`, from the tangent before the chunk (batch, parts, input, hidden), None at t = 0 (then the first step,
    from ∂(A_x·x_0)/∂x_0, is the PyTorch step's), written into out (≥ steps, batch, parts, input, hidden), and
    ‖J_t‖_F into norms (steps, batch) float64 if given. Returns J (steps, batch, hidden, input) and the last
    tangent."""
    n, first = len(step.coefficients), 0
    if tangent is None:
        B, _, D, H = out.shape[1:]
        parts = step(0, None, rnn.A_x.detach().unsqueeze(1), out.new_empty(H, B, D))
        out[0] = torch.stack(parts if isinstance(parts, tuple) else (parts,)).permute(2, 0, 3, 1)
        tangent, first = out[0].clone(), 1
        if norms is not None:
            norms[0] = _norm(out[0, :, 0], (1, 2))
    if first < n:
        _c_tangents(lib, rnn, step.coefficients[first:], tangent, out[first:n],
                    None if norms is None else norms[first:n])
    return out[:n, :, 0].permute(0, 1, 3, 2), out[n - 1].clone()


@torch.no_grad()
def influence_curve(model, x, norm="fro", full=False):
    r"""How much x_0 still moves h_t: the batch mean of ‖∂h_t/∂x_0‖ for t = 0 … T−1, exact.

        J_0 = diag(φ'(z_0))·A_x,     J_t = diag(φ'(z_t))·A_h·J_{t-1}        (SimpleRNN, z_t = A·[h_{t-1}; x_t] + b)

    J_t (hidden × input per sequence) is carried forward in one pass — forward-mode differentiation, no autograd
    graph — so memory does not grow with T; LSTM and GRU carry the tangent of their (h, c) or h the same way.
    For a SequenceClassifier x_0 is the embedding vector of the first token.

    Args:
        model: SimpleRNN, LSTM, GRU or SequenceClassifier.
        x: (batch, T, input) floats, or (batch, T) token ids for a classifier with an embedding.
        norm: "fro" (Frobenius, the default) or "spectral" (largest singular value of J_t).
        full: return the Jacobians themselves, (T, batch, hidden, input), instead of the curve; only when
            T·batch·hidden·input ≤ 10⁷.

    Returns:
        (T,) float64 NumPy array, exact wherever the entries of J_t are representable in the model's dtype (see
        the module docstring), or the (T, batch, hidden, input) Jacobians in the model's dtype when full=True.
        Warns (RuntimeWarning) if the curve overflows to inf/NaN.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))}, got {norm!r}")
    _, rnn, x = _inputs(model, x)
    (B, T, D), H = x.shape, rnn.hidden_size
    if full and T * B * H * D > FULL_LIMIT:
        raise ValueError(f"full=True returns T·batch·hidden·input = {T}·{B}·{H}·{D} = {T * B * H * D} numbers, "
                         f"more than {FULL_LIMIT}: use full=False for the curve, or a shorter x")
    C = _chunk(T, _parts(rnn) * H * B * D)
    lib = kernel.for_cell(rnn.kind, x)
    buf = x.new_empty((C, H, B, D) if lib is None else (C, B, _parts(rnn), D, H))
    drive = rnn.A_x.detach().unsqueeze(1)  # ∂(A_x·x_0)/∂x_0 for every sequence, (gates·hidden, 1, input)
    out = np.empty((T, B, H, D), dtype=_numpy(x[:0]).dtype) if full else np.empty(T)
    tangent = None
    for s, step in _linearisations(rnn, x, C):
        n = min(C, T - s)
        if lib is not None:  # the whole chunk in one call of the cell's C loop, ‖J_t‖_F taken there too
            norms = None if full or norm != "fro" else torch.empty(n, B, dtype=torch.float64)
            J, tangent = _influence_chunk(lib, rnn, step, tangent, buf, norms)
            if norms is not None:
                out[s : s + n] = _numpy(_mean(norms, 1))
                continue
        else:
            with flush_denormals():  # a vanishing J_t would otherwise crawl through denormals, many times slower
                for i in range(n):
                    tangent = step(i, tangent, drive if s + i == 0 else None, buf[i])
            J = buf[:n].permute(0, 2, 1, 3)  # (steps, batch, hidden, input)
        if full:
            out[s : s + n] = _numpy(J)
            continue
        norms = _norm(J, (2, 3)) if norm == "fro" else torch.linalg.matrix_norm(J.double(), ord=2)
        out[s : s + n] = _numpy(_mean(norms, 1))
    _warn_if_not_finite("influence_curve", out, x.dtype, stacklevel=4)  # 4: past torch.no_grad's wrapper
    return out


@torch.no_grad()
def perturbation_curve(model, x, x0_alt):
    r"""The batch mean of ‖h_t(x) − h_t(x')‖₂, where x' is x with x_0 replaced by x0_alt.

    x0_alt is a float vector (input,) or batch (batch, input) for float inputs, a token id or (batch,) token ids
    for a classifier with an embedding. Both sequences run through the fused forward pass as one batch, in the
    model's dtype: below about eps·‖h_t‖ (6e-8 relative in float32, 1e-16 in float64) the difference is rounding,
    and the curve flattens there (fit_decay finds that floor). Returns a (T,) float64 array.
    """
    clf, rnn, inputs = _inputs(model, x)
    (B, _, D), alt_inputs = inputs.shape, inputs.clone()
    try:
        alt = torch.as_tensor(np.asarray(x0_alt) if not isinstance(x0_alt, torch.Tensor) else x0_alt)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"x0_alt must be a number, a vector or a tensor, got {x0_alt!r}") from None
    if alt.dtype == torch.bool or alt.is_complex() or not (alt.is_floating_point() or alt.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"x0_alt must hold real numbers, got {alt.dtype}")
    if clf is not None and clf.embedding is not None:
        if alt.is_floating_point() or tuple(alt.shape) not in ((), (B,)):
            raise ValueError(f"x0_alt must be a token id or {B} token ids (one per sequence), got "
                             f"{alt.dtype} of shape {tuple(alt.shape)}")
        alt_inputs[:, 0] = clf.embed(alt.to(x.dtype).expand(B).unsqueeze(1))[:, 0]
    else:
        alt = alt.to(inputs.dtype)
        if tuple(alt.shape) not in ((D,), (B, D)):
            raise ValueError(f"x0_alt must be a float vector of shape ({D},) or ({B}, {D}), got {tuple(alt.shape)}")
        if not torch.isfinite(alt).all():
            raise ValueError(f"x0_alt must be finite, got {alt.tolist()}")
        alt_inputs[:, 0] = alt
    states = rnn(torch.cat([inputs, alt_inputs]))
    curve = _numpy(_mean(_norm(states[:B] - states[B:], 2), 0))
    _warn_if_not_finite("perturbation_curve", curve, states.dtype, stacklevel=4)
    return curve


def _unrolled(rnn, x):
    """h_0 … h_{T-1} as separate tensors of one autograd graph, so that ∂L/∂h_t includes every later step.

    h_{-1} is a zero leaf that requires grad, so the graph exists even when the parameters are frozen.
    """
    h = x.new_zeros(x.shape[0], rnn.hidden_size).requires_grad_()
    c, states = torch.zeros_like(h), []
    if isinstance(rnn, SimpleRNN):
        u = F.linear(x, rnn.A_x, rnn.b)  # A_x·x_t + b for all t at once
        A_hT = rnn.A_h.T  # sliced once: a slice per step would cost an autograd node per step
    for t in range(x.shape[1]):
        if isinstance(rnn, SimpleRNN):
            h = rnn.phi(u[:, t] + h @ A_hT)
        elif isinstance(rnn, LSTM):
            h, c = rnn.cell(x[:, t], h, c)
        else:
            h = rnn.cell(x[:, t], h)
        states.append(h)
    return states


def _simple_rnn_state_gradients(clf, rnn, x, y, loss):
    """∂L/∂h_t (batch, T, hidden) of a SimpleRNN from one pass of its BPTT (rnnlab.models.recurrence), which gives
    δ_t = ∂L/∂u_t for the drive u_t: ∂L/∂h_t = ∂L/∂h_t|_direct + δ_{t+1}·A_h, the direct part from autograd."""
    A_h, b = rnn.A_h.detach(), None if rnn.b is None else rnn.b.detach()
    u = F.linear(x.transpose(0, 1), rnn.A_x.detach(), b).requires_grad_()  # (T, batch, hidden)
    states = recurrence(u, x.new_zeros(x.shape[0], rnn.hidden_size), A_h, rnn.nonlinearity)
    batch_major = states.transpose(0, 1).contiguous()  # what a loss= of the caller's may view or modify freely
    direct, delta = torch.autograd.grad(_loss(clf, batch_major, y, loss), [batch_major, u], allow_unused=True)
    g = torch.zeros_like(batch_major) if direct is None else direct.clone()
    if delta is not None:
        g[:, :-1] += (delta[1:] @ A_h).transpose(0, 1)
    return g


def _gated_state_gradients(lib, clf, rnn, x, y, loss):
    """∂L/∂h_t (batch, T, hidden) of an LSTM or GRU: the direct part from autograd on the states of one forward
    pass, the part through the later steps from the adjoint of its tangents, run backwards over the same
    coefficients in C (kernel.gated_adjoint)."""
    h = x.new_zeros(x.shape[0], rnn.hidden_size)
    with torch.no_grad():
        step, _, states = _LINEARISE[type(rnn)](rnn, x, (h,) * _parts(rnn))
    leaf = states.requires_grad_()
    batch_major = leaf.clone()  # what a loss= of the caller's may view or modify freely
    (direct,) = torch.autograd.grad(_loss(clf, batch_major, y, loss), [leaf], allow_unused=True)
    g = torch.zeros_like(states.transpose(0, 1)) if direct is None else direct.transpose(0, 1).contiguous()
    kernel.gated_adjoint(lib, rnn.kind, step.coefficients, rnn.A_h.detach().contiguous(), g)
    return g.transpose(0, 1)


def _loss(clf, states, y, loss):
    """L(states): `loss(states)` if given; a classifier's training loss on y; else ½‖h_{T-1}‖², batch mean."""
    if loss is not None:
        if not callable(loss):
            raise TypeError(f"loss must be a callable states (batch, T, hidden) -> scalar, got {loss!r}")
        L = loss(states)
    elif clf is not None:
        if y is None:
            raise ValueError("y (the labels) is required for a SequenceClassifier, got None")
        try:
            y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"y must be an array of labels, got {y!r}") from None
        check_labels(clf, y)
        if y.shape[0] != states.shape[0]:
            raise ValueError(f"y must hold one label per sequence, {states.shape[0]}, got {y.shape[0]}")
        L = clf.loss(clf.head_output(states), y)
    else:
        if y is not None:
            raise ValueError("a bare recurrent layer has no head, so y must be None (L = ½‖h_{T-1}‖², batch mean); "
                             "pass loss=callable(states) for another loss")
        L = 0.5 * states[:, -1].pow(2).sum(1).mean()
    if not isinstance(L, torch.Tensor) or L.numel() != 1:
        raise ValueError(f"the loss must be a scalar tensor, got {getattr(L, 'shape', L)!r}")
    return L.reshape(())


def gradient_curve(model, x, y=None, loss=None):
    r"""‖∂L/∂h_t‖_F over the batch for t = 0 … T−1: the gradient the training signal brings back to step t.

        ∂L/∂h_t = ∂L/∂h_t|_direct + (∂h_{t+1}/∂h_t)ᵀ·∂L/∂h_{t+1}        (one backward pass through the unrolled loop)

    L is the classifier's training loss on y (mean over the batch). With head="last" the gradient enters at h_{T-1}
    only and decays backwards in t; with head="flatten" every h_t gets its own share. A bare recurrent layer has no
    head: L = ½‖h_{T-1}‖² (batch mean), or pass loss=callable(states (batch, T, hidden)) -> scalar.
    For an LSTM, ∂L/∂h_t holds c_t fixed (its own path is counted in ∂L/∂c_t). Returns a (T,) float64 array, exact
    wherever the gradients are representable in the model's dtype (see the module docstring).
    """
    clf, rnn, x = _inputs(model, x)
    with torch.enable_grad(), flush_denormals():  # gradients sinking into denormals would crawl
        lib = kernel.for_cell(rnn.kind, x)
        if type(rnn) is SimpleRNN:
            grads = _simple_rnn_state_gradients(clf, rnn, x.detach(), y, loss)
        elif lib is not None:
            grads = _gated_state_gradients(lib, clf, rnn, x.detach(), y, loss)
        else:
            states = _unrolled(rnn, x.detach())
            grads = torch.autograd.grad(_loss(clf, torch.stack(states, dim=1), y, loss), states, allow_unused=True)
            grads = torch.stack([torch.zeros_like(h) if g is None else g for g, h in zip(grads, states)], dim=1)
    curve = _numpy(_norm(grads, (0, 2)))
    _warn_if_not_finite("gradient_curve", curve, x.dtype)
    return curve


def saliency_curve(model, x, y=None, loss=None):
    r"""‖∂L/∂x_t‖_F over the batch for t = 0 … T−1 (x_t the embedding vectors for token ids); L as in gradient_curve.
    Returns a (T,) float64 array."""
    clf, rnn, x = _inputs(model, x)
    x = x.detach().requires_grad_()
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(_loss(clf, rnn(x), y, loss), x)
    curve = _numpy(_norm(grad, (0, 2)))
    _warn_if_not_finite("saliency_curve", curve, x.dtype)
    return curve


FLOOR_MARGIN = 100.0  # the fit stops where the curve comes within this factor of the floor it flattens out at
R2_MIN = 0.9  # an exponential fit of lower r² (of log curve) describes no curve: "not exponential"
POWER_LAW_EVIDENCE = 10.0  # "power law": a log-log line leaves this many times less residual than the log-linear one
FLOOR_EVIDENCE = 3.0  # a floor: a line that turns flat leaves this many times less residual than a line in t or log t


@dataclasses.dataclass(frozen=True)
class DecayFit:
    """curve[t] ≈ amplitude·exp(−rate·t), fitted on [start, stop). See fit_decay."""

    rate: float  # per step; > 0 decays, < 0 grows
    time_constant: float  # 1/rate steps (e-folding time) if "vanishing", inf if "stable" or "exploding", else nan
    half_life: float  # ln 2 / rate steps if "vanishing", as time_constant otherwise
    horizon: int | None  # first t with curve[t]/curve[0] < threshold, None if never
    r2: float  # coefficient of determination of the fit of log curve[t]
    regime: str  # "vanishing", "stable", "exploding", "power law" or "not exponential"
    amplitude: float
    start: int
    stop: int
    floor: float | None = None  # the level the curve flattens out at, left out of the fit; None if it does not
    power_exponent: float = math.nan  # p of the log-log fit curve[t] ≈ c·(1 + t)^−p on the same window
    power_r2: float = math.nan  # its r², the evidence for "power law"

    def predict(self, t):
        """amplitude·exp(−rate·t) for an array of steps t."""
        t = np.asarray(t, dtype=float)
        if math.isinf(self.rate) and self.rate > 0:
            return np.where(t <= self.start, self.amplitude, 0.0)
        return self.amplitude * np.exp(-self.rate * t)


def _line(x, y):
    """(slope, intercept, residual sum of squares, r²) of the least-squares line y ≈ slope·x + intercept."""
    slope, intercept = np.polyfit(x, y, 1)
    residual, total = ((y - (slope * x + intercept)) ** 2).sum(), ((y - y.mean()) ** 2).sum()
    return float(slope), float(intercept), float(residual), float(1.0 - residual / total) if total > 0 else 1.0


def _floor(y):
    """The level a decaying curve y (positive values from its peak on) flattens out at, or None.

    log y is fitted three ways: a line in t (an exponential), a line in log(1 + t) (a power law), and a line in t
    that turns flat at some step k (an exponential that reaches a floor, k chosen by least squares, at least 8
    points flat). A floor is the flat part's level, when that third fit leaves FLOOR_EVIDENCE (3) times less
    residual than either of the others and the level lies FLOOR_MARGIN or more below the peak. The flat part takes
    rounding noise as it comes, drifting up and down with ‖h_t‖ or stepping down towards an exact 0.
    """
    n = y.size
    if n < 16:
        return None
    z, t = np.log(y), np.arange(n, dtype=np.float64)
    k = np.arange(4, n - 7)  # where the flat part starts: ≥ 4 points on the line before it

    def running(v):  # Σ v[:k] for every k
        return np.cumsum(v)[k - 1]

    St, Stt, Sz, Stz, Szz = running(t), running(t * t), running(z), running(t * z), running(z * z)
    line = Szz - Sz**2 / k - (Stz - St * Sz / k) ** 2 / (Stt - St**2 / k)  # residual of the line through z[:k]
    flat = (z * z).sum() - Szz - (z.sum() - Sz) ** 2 / (n - k)  # of the constant through z[k:]
    knee = int(k[np.argmin(line + flat)])  # those running sums cancel: the residuals compared are recomputed
    residual = _line(t[:knee], z[:knee])[2] + ((z[knee:] - z[knee:].mean()) ** 2).sum()
    level = math.exp(z[knee:].mean())
    others = min(_line(t, z)[2], _line(np.log1p(t), z)[2])
    return level if FLOOR_EVIDENCE * residual < others and FLOOR_MARGIN * level <= y[0] else None


def fit_decay(curve, threshold=1e-3, tol=None):
    r"""Fit curve[t] ≈ amplitude·exp(−rate·t) by least squares on log curve[t], over the part that decays, and say
    whether an exponential describes it at all.

    The fit window [start, stop) leaves out
      - the floor: a curve that flattens out (a noise floor; a float32 perturbation curve's rounding at ~1e-7 of
        ‖h_t‖; see _floor) is fitted only while it stays FLOOR_MARGIN (100) times above that level, which
        `floor` reports. A curve that falls to 0 or a subnormal number (underflow, or two trajectories that
        became the same floats, the values before being rounding) is fitted only while it stays FLOOR_MARGIN
        times above its last value before; one that overflows, up to its first inf;
      - a leading transient: a decaying curve starts at its maximum (skipping an initial rise), and the first tenth
        of what remains, where faster modes still die away, is left out.

    rate > tol: "vanishing", time_constant = 1/rate and half_life = ln2/rate steps. |rate| ≤ tol: "stable",
    rate < −tol: "exploding"; both have time_constant = half_life = inf (the curve does not decay). tol defaults
    to ln(1.1)/(stop − start − 1): "stable" means the fitted curve changes by less than 10% across its window.
    A curve that drops to the floor right after its start has rate = inf and time_constant = half_life = 0.
    A curve that decays or grows but not exponentially gets no time constant (time_constant = half_life = nan):
    "power law" when a line in log t, curve ≈ c·(1 + t)^−p, fits with r² ≥ R2_MIN (0.9) and leaves ≥ 10 times less
    residual than the exponential (power_exponent = p, power_r2 its r², the evidence), "not exponential" when the
    exponential's r² is below R2_MIN otherwise.

    horizon: the first t where curve[t]/curve[0] < threshold (None if never), read off the data, not the fit.

    An overflowed curve (inf from some t on, then perhaps NaN, as a float32 measurement leaves it) is fitted up to
    its first inf, with a RuntimeWarning saying so; a NaN before any inf is refused.
    """
    raw = np.asarray(curve)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"curve must hold real numbers, got {raw.dtype} values")
    if raw.ndim != 1 or raw.size < 2:
        raise ValueError(f"curve must be a 1-D array of at least 2 values, got shape {raw.shape}")
    y = raw.astype(np.float64)
    end = int(np.argmax(~np.isfinite(y))) if not np.isfinite(y).all() else y.size  # the first inf or NaN
    if end < y.size and np.isnan(y[end]):
        raise ValueError(f"curve must hold values >= 0 (norms), without NaN before any inf; got NaN at t = {end}")
    if (y[: end + 1] < 0).any():
        raise ValueError(f"curve must hold values >= 0 (norms); got min {y[: end + 1].min()}")
    if not (np.isfinite(y[0]) and y[0] > 0):
        raise ValueError(f"curve[0] must be finite and > 0 (it is the reference of the horizon), got {y[0]}")
    checks.number("threshold", threshold, 0, 1, low_open=True)
    if tol is not None:
        checks.number("tol", tol, 0)
    below = np.flatnonzero(y / y[0] < threshold)
    horizon = int(below[0]) if below.size else None

    if end < y.size:  # the NaN that usually follows an overflow (inf − inf, inf·0) is past the window too
        warnings.warn(f"fit_decay: the curve overflows to inf at t = {end}; the fit covers t < {end} only",
                      RuntimeWarning, stacklevel=2)
    tiny = np.finfo(raw.dtype if raw.dtype in (np.float16, np.float32) else np.float64).tiny
    peak = int(np.argmax(y[:end]))
    stop, floor = end, None
    if y[peak] >= tiny:  # else the whole curve is subnormal: fit what there is
        gone = np.flatnonzero(y[peak:end] < tiny)  # 0, or a subnormal number that has lost digits
        if gone.size:  # what comes just before an exact cancellation is rounding: a floor of sorts
            stop = peak + int(np.argmax(y[peak:] <= FLOOR_MARGIN * y[peak + gone[0] - 1]))
        floor = _floor(y[peak:stop])
        if floor is not None:
            stop = peak + int(np.argmax(y[peak:stop] <= FLOOR_MARGIN * floor))
    start = peak if y[stop - 1] < y[0] else 0
    start += (stop - start) // 10
    if stop - start < 2:  # too short to fit: the curve overflowed, or fell to the floor, right away
        if stop == end < y.size:
            return DecayFit(-math.inf, math.inf, math.inf, horizon, math.nan, "exploding", float(y[start]), start,
                            start + 1, floor)
        return DecayFit(math.inf, 0.0, 0.0, horizon, math.nan, "vanishing", float(y[start]), start, start + 1, floor)
    t = np.arange(start, stop, dtype=np.float64)
    t = t[y[start:stop] > 0]  # a growing curve may start from exact zeros
    log_y = np.log(y[t.astype(int)])
    slope, intercept, _, r2 = _line(t, log_y)
    power, _, _, power_r2 = _line(np.log1p(t), log_y)
    rate = -slope
    tol = math.log(1.1) / (stop - start - 1) if tol is None else tol
    if abs(rate) <= tol:
        regime, time_constant = "stable", math.inf
    elif rate > 0 and power_r2 >= R2_MIN and 1 - r2 > POWER_LAW_EVIDENCE * (1 - power_r2):
        regime, time_constant = "power law", math.nan
    elif r2 < R2_MIN:
        regime, time_constant = "not exponential", math.nan
    elif rate > 0:
        regime, time_constant = "vanishing", 1.0 / rate
    else:
        regime, time_constant = "exploding", math.inf
    amplitude = math.exp(intercept) if intercept < 709.0 else math.inf  # e^709.8 is float64's largest value
    return DecayFit(rate, time_constant, math.log(2.0) * time_constant, horizon, r2, regime, amplitude, start, stop,
                    floor, -power, power_r2)


@dataclasses.dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues and singular values of the recurrent block A_h. See recurrent_spectrum."""

    eigenvalues: np.ndarray  # complex, (gates·hidden,): each gate block's eigenvalues, concatenated
    singular_values: np.ndarray  # (gates·hidden,): each gate block's singular values, concatenated
    gates: np.ndarray  # (gates·hidden,) the block each value belongs to: "A_h", or "i f g o" (LSTM), "r z n" (GRU)
    spectral_radius: float  # max |λ| over the blocks
    sigma_max: float  # max σ over the blocks

    def bound(self, T, start=1.0):
        r"""start·σ_max^t for t = 0 … T−1: Pascanu, Mikolov & Bengio (2013) bound ‖∂h_t/∂h_0‖ ≤ (γ·σ_max(A_h))^t
        with γ = max|φ'| = 1 for tanh, relu and linear. With start = ‖∂h_0/∂x_0‖_F (an influence curve's first
        value) it bounds the influence curve itself, since ‖M·J‖_F ≤ ‖M‖_2·‖J‖_F. For a SimpleRNN only: LSTM and
        GRU are not bounded by it."""
        return start * self.sigma_max ** np.arange(T, dtype=np.float64)


GATES = {SimpleRNN: ("A_h",), LSTM: ("i", "f", "g", "o"), GRU: ("r", "z", "n")}


def recurrent_spectrum(model):
    r"""Eigenvalues λ and singular values σ of A_h, in float64.

    A_h of an LSTM (4·hidden × hidden) or GRU (3·hidden × hidden) is not square: its eigenvalues are those of each
    gate's (hidden × hidden) block, and the singular values too are per block, so that both line up with `gates`.
    """
    _, rnn = _layer(model)
    H, names = rnn.hidden_size, GATES[type(rnn)]
    blocks = rnn.A_h.detach().double().cpu().numpy().reshape(len(names), H, H)
    eig = np.concatenate([np.linalg.eigvals(m) for m in blocks]).astype(np.complex128)
    sv = np.concatenate([np.linalg.svd(m, compute_uv=False) for m in blocks])
    return Spectrum(eig, sv, np.repeat(names, H), float(np.abs(eig).max()), float(sv.max()))


@torch.no_grad()
def lyapunov_exponent(model, x, seed=0):
    r"""The largest Lyapunov exponent along the trajectory of x: the average log growth per step of a tangent.

        v_t = M_t·v_{t-1} / ‖M_t·v_{t-1}‖,    λ = 1/T · Σ_t log ‖M_t·v_{t-1}‖,    M_t = diag(φ'(z_t))·A_h (SimpleRNN)

    M_t is the Jacobian ∂h_t/∂h_{t-1} (∂(h_t, c_t)/∂(h_{t-1}, c_{t-1}) for the LSTM), v_{-1} a random unit vector
    (seeded). Renormalising every step — QR of a single column — keeps v finite. λ < 0: nearby trajectories
    converge and the network forgets; λ > 0: they diverge (chaos). For a batch, each sequence has its own
    trajectory and the result is the mean over sequences. A linear RNN gives log ρ(A_h) (as T grows); a tangent
    that becomes exactly zero (dead relu units) gives −inf.
    """
    checks.integer("seed", seed, 0)
    _, rnn, x = _inputs(model, x)
    (B, T, _), H = x.shape, rnn.hidden_size
    g = torch.Generator().manual_seed(int(seed))
    parts = _parts(rnn)
    v = torch.randn(parts, H, B, 1, generator=g, dtype=torch.float64).to(x.dtype)
    v /= torch.linalg.vector_norm(v, dim=(0, 1), keepdim=True)
    tangent = (v[0], v[1]) if parts == 2 else v[0]
    logs, out = x.new_empty(T, B), x.new_empty(2, H, B, 1)
    C = _chunk(T, 8 * H * B)
    lib = kernel.for_cell(rnn.kind, x)
    if lib is not None:  # v_t as (batch, parts, 1, hidden)
        tangent, buf = v.permute(2, 0, 3, 1).contiguous(), x.new_empty(C, B, parts, 1, H)
    for s, step in _linearisations(rnn, x, C):
        n = min(C, T - s)
        if lib is not None:  # the chunk in one call of the cell's C loop, which renormalises v_t each step
            norms = torch.empty(n, B, dtype=torch.float64)
            _c_tangents(lib, rnn, step.coefficients, tangent, buf[:n], norms, renorm=True)
            logs[s : s + n] = torch.log(norms)
            tangent = buf[n - 1].clone()
            continue
        for i in range(n):
            tangent = step(i, tangent, None, out[(s + i) % 2])
            vs = tangent if parts == 2 else (tangent,)
            growth = torch.sqrt(sum(u.square().sum(0) for u in vs))  # (batch, 1)
            torch.log(growth[:, 0], out=logs[s + i])
            for u in vs:
                u.div_(growth.clamp_min(torch.finfo(x.dtype).tiny))
    return float(logs.mean(0).mean())


@dataclasses.dataclass(frozen=True, eq=False)
class MemoryProfile:
    """r2[j]: how well x_{T-1-lags[j]} is linearly recalled from h_{T-1}, an unbiased estimate (it strays below 0
    or above 1 by its sampling error); capacity = Σ r2. See memory_profile."""

    lags: np.ndarray
    r2: np.ndarray
    capacity: float


@torch.no_grad()
def memory_profile(model, lags, n=2000, length=None, seed=0, ridge=1e-6, coordinate=0, test_fraction=0.25):
    r"""Jaeger's (2001) linear memory capacity: drive the network with i.i.d. random inputs and ask, for each lag k,
    how much of x_{T-1-k} the best linear read-out of h_{T-1} recovers:

        r²_k = max_w corr(wᵀ·h_{T-1}, x_{T-1-k})²,    capacity = Σ_k r²_k

    (at most hidden, which a linear RNN whose states span all hidden directions reaches over the lags k < T).

    n sequences of `length` steps (default max(lags) + 1) start from h = 0: i.i.d. N(0, 1) floats for a layer,
    uniformly random token ids for a classifier with an embedding. The recalled scalar x is coordinate `coordinate`
    of the input x_t the recurrent layer reads (for tokens: of the token's embedding vector). w_k is ridge
    regression (penalty ridge·tr(XᵀX)/hidden) on the first 1 − test_fraction of the sequences; on the held-out
    rest, with x̂ = w_kᵀ·h_{T-1} and x centred there, the estimate is

        r²_k ≈ Σ x̂·x / Σ x²,

    the part of x's variance the read-out explains through its covariance with x. w_k is fitted on other sequences,
    so its errors are independent of the held-out x and the estimate's expectation is r²_k: 0 at a lag the network
    does not remember, however many lags and sequences. corr(x̂, x)² is biased both ways: a read-out of pure noise
    scores ~1/n_held_out at every lag (a network without memory reached a capacity of 3 over 1,000 lags at
    n = 2,000), one fitted on few sequences loses ~hidden/n_train at every lag it partly remembers. The price: one
    estimate strays below 0 or above 1 by its sampling error, about √((r²_k + hidden/n_train)/n_held_out). A delay
    line (h_t = shift(h_{t-1}) + e_0·x_t) scores 1 for k < hidden and 0 beyond.
    """
    clf, rnn = _layer(model)
    lags = checks.lags(lags)
    length = int(lags.max()) + 1 if length is None else length
    if isinstance(length, bool) or not isinstance(length, int) or length <= lags.max():
        raise ValueError(f"length must be an int > max(lags) = {lags.max()}, got {length!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 8:
        raise ValueError(f"n (the number of sequences) must be an int >= 8, got {n!r}")
    checks.number("test_fraction", test_fraction, 0, 1, low_open=True)
    checks.number("ridge", ridge, 0)
    checks.integer("seed", seed, 0)
    if isinstance(coordinate, bool) or not (isinstance(coordinate, int) and 0 <= coordinate < rnn.input_size):
        raise ValueError(f"coordinate must be an int in [0, {rnn.input_size - 1}], got {coordinate!r}")
    tokens = clf is not None and clf.embedding is not None
    g = torch.Generator().manual_seed(int(seed))
    batch = max(1, CHUNK_ELEMENTS // (length * max(rnn.input_size, rnn.hidden_size)))
    final, targets = [], []
    for s in range(0, n, batch):
        m = min(batch, n - s)
        if tokens:
            x = clf.embed(torch.randint(clf.vocab_size, (m, length), generator=g))
        else:
            x = torch.randn(m, length, rnn.input_size, generator=g, dtype=torch.float64).to(rnn.A.dtype)
        final.append(rnn(x)[:, -1])
        targets.append(x[:, length - 1 - torch.from_numpy(lags), coordinate])
    X, Y = (torch.cat(v).double().cpu().numpy() for v in (final, targets))
    if not np.isfinite(X).all():
        raise ValueError(f"memory_profile: the states h_{{T-1}} overflowed to inf/NaN over {length} steps "
                         f"({rnn.A.dtype}): no read-out can be fitted; use float64 (model.double()), a smaller "
                         "spectral radius or a shorter length")
    n_train = n - max(2, round(n * test_fraction))
    X_mean, Y_mean = X[:n_train].mean(0), Y[:n_train].mean(0)
    Xc = X[:n_train] - X_mean
    gram = Xc.T @ Xc
    penalty = ridge * max(np.trace(gram) / gram.shape[0], np.finfo(np.float64).tiny)
    W = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), Xc.T @ (Y[:n_train] - Y_mean))
    P, Y = (X[n_train:] - X_mean) @ W, Y[n_train:]
    P, Y = P - P.mean(0), Y - Y.mean(0)
    variance = (Y**2).sum(0)  # 0 only for a constant embedding coordinate: nothing to recall
    r2 = np.where(variance > 0, (P * Y).sum(0) / np.where(variance > 0, variance, 1.0), 0.0)
    return MemoryProfile(lags, r2, float(r2.sum()))
