"""Argument checks shared by the library: each raises TypeError or ValueError naming the argument, the value and
what is allowed, so that a bad value is reported where it enters, not deep inside torch."""
import math
import numbers

import numpy as np

INT64_MAX = 2**63 - 1  # torch's and NumPy's sizes, seeds and ids are int64


def integer(name, value, minimum=1, maximum=INT64_MAX):
    """An int (or a NumPy integer, not a bool) in [minimum, maximum]; maximum None: any size."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {'2**63 - 1' if maximum == INT64_MAX else maximum}, got {value}")


def positive(name, value):
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def number(name, value, low, high=math.inf, low_open=False, high_open=True):
    """A finite real number in [low, high) (or (low, …) when low_open, (…, high] when not high_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}{', finite' if high == math.inf else ''}, got {value}")


def choice(name, value, allowed):
    """One of `allowed` (any container; its items are listed in the message)."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def sequences(x, input_size, h0=None, hidden_size=None):
    """x a float tensor (batch, T, input_size) of finite values with batch, T ≥ 1, and h0 None or (batch, hidden)."""
    import torch  # here, not above: RunConfig's checks, and so `rnnlab runs`, need no torch (seconds to import)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (batch, T, {input_size}), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[2] != input_size:
        raise ValueError(f"x must have shape (batch, T, {input_size}), got {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must hold at least one sequence of at least one step, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {x.dtype}")
    # Data handed in by a user is checked; inside a model (an embedding's output, which requires grad) a NaN means
    # the weights diverged, which training reports as such.
    if not x.requires_grad and not torch.isfinite(x.sum()):  # one pass; a sum that overflowed is looked at closer
        bad = (~torch.isfinite(x)).nonzero()
        if len(bad):
            bad = tuple(bad[0].tolist())
            raise ValueError(f"x must be finite, got {x[bad].item()} at index {bad} (batch, t, feature)")
    if h0 is not None and tuple(h0.shape) != (x.shape[0], hidden_size):
        raise ValueError(f"h0 must have shape (batch, hidden) = {(x.shape[0], hidden_size)}, got {tuple(h0.shape)}")


def lags(values, name="lags"):
    """A non-empty 1-D sequence of ints >= 0, as int64 NumPy."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu" or (arr < 0).any():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of ints >= 0, got {values!r}")
    return arr.astype(np.int64)


def short(value):
    """A value as an error quotes it: at most ~40 characters, a list or object only by its size (its repr could be
    megabytes, or nested too deep to print)."""
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'JSON object'} of {len(value):,}"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"
