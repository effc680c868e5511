"""Inside a trained text classifier: what it predicts for a typed review, which words moved the prediction, and
how much of the decision the first and the last words carry.

For a SequenceClassifier reading token ids x_0 … x_{T-1} through embeddings e_t = E[x_t]:

    gradient × input      a_t = Σ_d (∂y/∂e_{t,d}) · e_{t,d}              (y the output logit)
    influence from the end  ι_t = ‖∂h_{T-1}/∂e_t‖_F                       (what the last state still knows of word t)
    window accuracy        accuracy when the model sees only the first k, or only the last k, words of each review

The lecture's claim, measured: a SimpleRNN that reads only h_{T-1} decides on the last few dozen words; ι_t
collapses for words far from the end, and keeping only the last k words loses little accuracy.
"""
from dataclasses import dataclass

import numpy as np
import torch

from .imdb import PAD, pad_sequences
from .models import SequenceClassifier


def _check_text_model(model):
    if not isinstance(model, SequenceClassifier) or model.embedding is None:
        raise TypeError(f"model must be a SequenceClassifier over token ids (vocab_size given), got {type(model).__name__}")
    if model.num_classes != 1 or model.regression:
        raise ValueError(f"model must have one sigmoid output (num_classes=1), got num_classes={model.num_classes}")


def _token_array(x, name, ndim):
    """x as a NumPy array of integer token ids with `ndim` dimensions, none of them empty."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got {a.dtype} values")
    if a.ndim != ndim or a.size == 0:
        shape = "(T,)" if ndim == 1 else "(n, T)"
        raise ValueError(f"{name} must be a non-empty array of token ids of shape {shape}, got shape {a.shape}")
    return a


def _ids(ids):
    return torch.as_tensor(_token_array(ids, "ids", 1), dtype=torch.int64)


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


@dataclass(frozen=True)
class Explanation:
    """One review, word by word: the tokens, their ids, P(positive), gradient × input and influence from the end."""
    tokens: list
    ids: np.ndarray
    probability: float
    attribution: np.ndarray
    influence: np.ndarray

    @property
    def label(self):
        return "positive" if self.probability >= 0.5 else "negative"


def predict_proba(model, x, batch_size=256):
    """P(positive) for each row of token ids x (n, T)."""
    _check_text_model(model)
    _check_int("batch_size", batch_size)
    x = torch.as_tensor(_token_array(x, "x", 2), dtype=torch.int64)
    model.eval()
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]).numpy()


def explain(model, ids, vocabulary=None):
    """Explanation of one review given as token ids (T,), padded as the model was trained; padding is dropped from
    the words shown but the model reads the whole row, as it did in training."""
    _check_text_model(model)
    ids = _ids(ids)
    model.eval()
    e = model.embed(ids[None]).detach().requires_grad_(True)
    states = model.rnn(e)
    logit = model.head_output(states)[0]
    (grad_e,) = torch.autograd.grad(logit, e, retain_graph=True)
    attribution = (grad_e * e).sum(-1)[0]
    # ‖∂h_{T-1}/∂e_t‖_F² = Σ_j ‖∂h_{T-1, j}/∂e_t‖²: one backward pass per state unit j
    squares = torch.zeros(ids.shape[0], dtype=e.dtype)
    for j in range(states.shape[-1]):
        (g,) = torch.autograd.grad(states[0, -1, j], e, retain_graph=True)
        squares += (g[0] ** 2).sum(-1)
    keep = (ids != PAD).numpy()
    words = vocabulary.id_to_word if vocabulary is not None else None
    tokens = [words[i] if words is not None and i < len(words) else str(i) for i in ids[keep].tolist()]
    return Explanation(tokens, ids[keep].numpy(), float(torch.sigmoid(logit.detach())), attribution.detach().numpy()[keep],
                       squares.sqrt().numpy()[keep])


def keep_window(x, k, side, maxlen=None):
    """Each row of x (pre-padded token ids) cut to its first or last k words (the start token counts as a word),
    re-padded on the left to maxlen (default: x's width)."""
    if side not in ("first", "last"):
        raise ValueError(f"side must be 'first' or 'last', got {side!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if maxlen is not None:
        _check_int("maxlen", maxlen)
    x = _token_array(x, "x", 2)
    rows = [row[row != PAD] for row in x]
    rows = [row[:k] if side == "first" else row[-k:] for row in rows]
    return pad_sequences(rows, maxlen or x.shape[1], padding="pre", truncating="pre")


def window_accuracy(model, x, y, ks, batch_size=256):
    """Accuracy when only the first k or only the last k words of each review are kept, for each k in ks.

    Returns {"k": ks, "first": accuracies, "last": accuracies, "full": accuracy on the untouched rows}."""
    x, y = _token_array(x, "x", 2), np.asarray(y)
    if y.shape != (len(x),) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"y must hold one label, 0 or 1, per row of x: shape ({len(x)},), got shape {y.shape}"
                         f"{'' if y.shape != (len(x),) else f' with values {np.unique(y)[:5].tolist()}'}")
    ks = list(ks) if isinstance(ks, (list, tuple, range, np.ndarray)) else ks
    if not isinstance(ks, list) or not ks:
        raise ValueError(f"ks must be a non-empty list of window sizes (ints >= 1), got {ks!r}")
    for k in ks:
        _check_int("each k in ks", k)
    ks = [int(k) for k in ks]
    acc = lambda rows: float(((predict_proba(model, rows, batch_size) >= 0.5) == y).mean())
    return {"k": ks, "first": [acc(keep_window(x, k, "first")) for k in ks],
            "last": [acc(keep_window(x, k, "last")) for k in ks], "full": acc(x)}
