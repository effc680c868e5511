"""Synthetic sequence tasks whose difficulty is one number: how far back the answer lies.

lag_recall — recall the symbol seen `lag` steps before the end:

    x_t ~ U{0, …, num_symbols-1} i.i.d.,  t = 0 … T-1,       y = x_{T-1-lag}

lag = 0 needs no memory at all (the answer is the last input); lag = T-1 asks for x_0 after T-1 further steps,
which is what the lecture says a SimpleRNN cannot do. Chance accuracy is 1/num_symbols.

adding — the adding problem (Hochreiter & Schmidhuber, 1997; Le, Jaitly & Hinton, 2015):

    x_t = [v_t, m_t],  v_t ~ U[0, 1],  m_t = 1 at one position in each half of the sequence, 0 elsewhere
    y   = Σ_t v_t·m_t  (the sum of the two marked values)

Always answering E[y] = 1 scores MSE Var(v_a + v_b) = 2·(1/12) = 1/6: the baseline a model has to beat.

Every generator is a pure function of its arguments: the same seed gives the same arrays on every machine
(NumPy's PCG64 through `np.random.default_rng`).
"""
import numpy as np

TASKS = ("lag_recall", "adding")
ADDING_BASELINE_MSE = 1.0 / 6.0


INT64_MAX = 2**63 - 1  # NumPy's sizes and symbols are int64


def _check_int(name, value, minimum, maximum=INT64_MAX):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= 2**63 - 1, got {value}")


def lag_recall(n, length, lag, num_symbols, seed=0):
    """n sequences of `length` symbols and the symbol `lag` steps before the last one.

    Returns x int64 (n, length), y int64 (n,) with y[i] = x[i, length-1-lag]. Symbols are uniform in
    [0, num_symbols). lag = 0 is the shortest dependency, lag = length-1 recalls x_0.
    """
    _check_int("n", n, 1)
    _check_int("length", length, 1)
    _check_int("lag", lag, 0)
    _check_int("num_symbols", num_symbols, 2)
    _check_int("seed", seed, 0, maximum=None)  # any size seeds PCG64
    if lag >= length:
        raise ValueError(f"lag must be < length (the answer must lie inside the sequence): got lag={lag}, "
                         f"length={length}, allowed 0 … {length - 1}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, num_symbols, size=(n, length), dtype=np.int64)
    return x, x[:, length - 1 - lag].copy()


def adding(n, length, seed=0):
    """n adding-problem sequences: x float64 (n, length, 2) = [value, marker], y float64 (n,) = sum of marked values.

    One marker lies uniformly in the first half [0, length//2), the other in the second half [length//2, length),
    so the two are distinct and the first one is on average ~3/4·length steps before the end.
    """
    _check_int("n", n, 1)
    _check_int("length", length, 2)
    _check_int("seed", seed, 0, maximum=None)  # any size seeds PCG64
    rng = np.random.default_rng(seed)
    half = length // 2
    values = rng.uniform(0.0, 1.0, size=(n, length))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    return x, values[rows, first] + values[rows, second]


def chance_level(task, num_symbols=None):
    """What guessing scores: accuracy 1/num_symbols for lag_recall, MSE 1/6 (always answering 1.0) for adding.

    Returns (metric, value) with metric "accuracy" (higher is better) or "mse" (lower is better).
    num_symbols is required for lag_recall and ignored for adding.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, got {task!r}")
    if task == "adding":
        return "mse", ADDING_BASELINE_MSE
    if num_symbols is None:
        raise ValueError("chance_level('lag_recall') needs num_symbols, got None")
    _check_int("num_symbols", num_symbols, 2)
    return "accuracy", 1.0 / num_symbols
