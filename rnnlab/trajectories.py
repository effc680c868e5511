"""The path of the hidden state h_0, h_1, … through its space: principal components, saturated units and gates.

A SimpleRNN forgets fast where its units saturate: |h| → 1 under tanh means φ'(z) = 1 − h² → 0, and the product
of Jacobians in rnnlab.memory loses a factor there at every step. `state_trajectory` shows where that happens.
An LSTM or GRU forgets where its gates let it: the gate that keeps the memory (LSTM f, GRU z) near 1 carries c_t
or h_t along unchanged, whatever φ′ does; `state_trajectory` returns those gates too.
"""
import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN

SATURATED = 0.99  # |h| above it: φ'(z) = 1 − h² < 0.02 for tanh


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """One sequence's states and their principal components. See state_trajectory."""

    states: np.ndarray  # (T, hidden): h_t
    pca: np.ndarray  # (T, n_components): h_t − mean, projected on the leading principal axes
    explained_variance_ratio: np.ndarray  # (n_components,)
    saturation: np.ndarray  # (T,): fraction of saturated (or, for relu, inactive) units at each t
    tokens: np.ndarray | None  # (T,): the tokens given, or the ids of a token model's sequence, or None
    gates: dict | None = None  # name → (T, hidden) in [0, 1]: LSTM "i", "f"; GRU "z"; None for a SimpleRNN


def _gates(rnn, x, h):
    """An LSTM's or GRU's gates at every step, (batch, T, hidden) each, from its inputs x_t and the states h_t it
    computed (the fused pass returns h_t, not its gates): LSTM.cell / GRU.cell's gate equations for all t at once,
    with h_{-1} = 0. LSTM: σ(i), σ(f) of [i; f; g; o] = A·[h_{t-1}; x_t] + b. GRU: z = σ(A_z·[h_{t-1}; x_t] + b_z +
    b_h,z), on the z rows of A and b."""
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
    if isinstance(rnn, LSTM):
        i, f, _, _ = (F.linear(h_prev, rnn.A_h) + F.linear(x, rnn.A_x, rnn.b)).chunk(4, dim=-1)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f)}
    _, zh, _ = F.linear(h_prev, rnn.A_h, rnn.b_h).chunk(3, dim=-1)
    _, zx, _ = F.linear(x, rnn.A_x, rnn.b).chunk(3, dim=-1)
    return {"z": torch.sigmoid(zx + zh)}


@torch.no_grad()
def state_trajectory(model, x, n_components=2, index=0, tokens=None):
    r"""The states h_t of sequence `index` of x, their principal components, their saturation, and the gates.

    pca: the centred states projected on the top n_components right singular vectors of (h_t − mean_t h_t), each
    axis signed so that its largest loading is positive; explained_variance_ratio = σ_i² / Σ σ².
    saturation[t]: the fraction of units where φ' is (nearly) zero, i.e. where the gradient stops: |h_t| > 0.99 for
    tanh, LSTM and GRU (their h lies in (−1, 1)); h_t = 0 for relu (inactive, φ' = 0); always 0 for a linear RNN.
    tokens: labels for the T steps (e.g. words); defaults to the token ids when the model reads token ids.
    gates: for an LSTM its input and forget gates σ(i_t), σ(f_t) ("i", "f"), for a GRU its update gate z_t ("z"),
    each (T, hidden), on the same inputs and states as h_t (see _gates); None for a SimpleRNN.
    """
    if isinstance(model, SequenceClassifier):
        clf, rnn = model, model.rnn
    elif isinstance(model, (SimpleRNN, LSTM, GRU)):
        clf, rnn = None, model
    else:
        raise TypeError(f"model must be a SimpleRNN, LSTM, GRU or SequenceClassifier, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise TypeError(f"x must be a torch.Tensor (batch, T, …), got {getattr(x, 'shape', type(x).__name__)}")
    B, T = x.shape[:2]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < B:
        raise ValueError(f"index must be an int in [0, {B - 1}] (the sequence of the batch), got {index!r}")
    k_max = min(T, rnn.hidden_size)
    if isinstance(n_components, bool) or not isinstance(n_components, int) or not 1 <= n_components <= k_max:
        raise ValueError(f"n_components must be an int in [1, min(T, hidden) = {k_max}], got {n_components!r}")
    if tokens is None and clf is not None and clf.embedding is not None:
        tokens = x[index].cpu().numpy()
    if tokens is not None:
        tokens = np.asarray(tokens)
        if tokens.shape != (T,):
            raise ValueError(f"tokens must hold one label per time step, shape ({T},), got {tokens.shape}")
    one = x[index : index + 1]
    one = one.to(rnn.A.dtype) if one.is_floating_point() else one
    if isinstance(rnn, SimpleRNN):
        states, gates = (clf.states(one) if clf is not None else rnn(one)), None
    else:
        inputs = clf.embed(one) if clf is not None else one
        states = rnn(inputs)
        gates = {name: g[0].double().cpu().numpy() for name, g in _gates(rnn, inputs, states).items()}
    h = states[0].double().cpu().numpy()
    if not np.isfinite(h).all():
        t = int(np.flatnonzero(~np.isfinite(h).all(1))[0])
        raise ValueError(f"the states h_t of sequence {index} overflow to inf/NaN from t = {t} ({rnn.A.dtype}), so "
                         "they have no principal components: use float64 (model.double()), a smaller spectral "
                         "radius or a shorter sequence")
    centred = h - h.mean(0)
    U, S, Vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(Vt[np.arange(n_components), np.abs(Vt[:n_components]).argmax(1)])
    signs[signs == 0] = 1.0
    pca = U[:, :n_components] * S[:n_components] * signs
    total = (S**2).sum()
    ratio = (S[:n_components] ** 2) / total if total > 0 else np.zeros(n_components)
    if isinstance(rnn, SimpleRNN) and rnn.nonlinearity == "relu":
        saturation = (h == 0).mean(1)
    elif isinstance(rnn, SimpleRNN) and rnn.nonlinearity == "linear":
        saturation = np.zeros(T)
    else:
        saturation = (np.abs(h) > SATURATED).mean(1)
    return Trajectory(h, pca, ratio, saturation, tokens, gates)
