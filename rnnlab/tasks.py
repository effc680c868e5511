"""Synthetic sequence tasks whose difficulty is one number: how far back the answer lies.

lag_recall — recall the symbol seen `lag` steps before the end:

    x_t ~ U{0, …, num_symbols-1} i.i.d.,  t = 0 … T-1,       y = x_{T-1-lag}

lag = 0 needs no memory at all (the answer is the last input); lag = T-1 asks for x_0 after T-1 further steps,
which is what the lecture says a SimpleRNN cannot do. Chance accuracy is 1/num_symbols. It measures memory mixed
with counting: nothing marks the step to keep, so the network must count steps back from the end; and x_0 is
written into the zero initial state, which makes lag T-1 easier than lags just below it. marked_recall measures
memory alone.

marked_recall — recall the one marked symbol: memory alone, nothing to count:

    x_t = (s_t, m_t),  s_t ~ U{0, …, K-1} i.i.d.,  m_t = 1 at exactly one step t* = T-1-d, else 0,   y = s_{t*}

with d = lag, or d ~ U{lag, …, lag + jitter} drawn per sequence so that no absolute position is special. The steps
before t* are distractors, as are the d steps after it. The model reads one token id per step, s_t + K·m_t
(vocabulary 2K), and answers one of K classes; chance accuracy is 1/K.

adding — the adding problem (Hochreiter & Schmidhuber, 1997; Le, Jaitly & Hinton, 2015):

    x_t = [v_t, m_t],  v_t ~ U[0, 1],  m_t = 1 at one position in each half of the sequence, 0 elsewhere
    y   = Σ_t v_t·m_t  (the sum of the two marked values)

Always answering E[y] = 1 scores MSE Var(v_a + v_b) = 2·(1/12) = 1/6: the baseline a model has to beat.

imdb — the sentiment of an IMDB review (rnnlab.imdb), the lecture's own task: its data come from a file.

copy_memory — the copy task (Arjovsky, Shah & Bengio, 2016): read k symbols, wait, reproduce them in order. With
T = length − 2k steps of waiting, K = num_symbols, blank 0 and delimiter K + 1, at every step t = 0 … T+2k-1:

    x_t = s_t ~ U{1, …, K} i.i.d. (t < k),   K + 1 (t = T+k-1),   0 otherwise
    y_t = s_{t-T-k}  (t ≥ T+k),   0 otherwise

so each symbol is asked for T + k steps after it was read, and the model answers at every step (head="each").
Without memory the best is blank for the first T + k steps and uniform over the K symbols for the last k: mean
cross-entropy k·log(K)/(T + 2k) per step (copy_memory_baseline), the line to beat; its accuracy, counted on the k
answer steps only, is 1/K.

Every generator is a pure function of its arguments: the same seed gives the same arrays on every machine
(NumPy's PCG64 through `np.random.default_rng`).

`TASKS` maps each task's name to a `Task`: everything the rest of rnnlab asks of a task (its data, one sample, how
guessing scores, what the model reads and answers, how to perturb x_0, its own rules for a RunConfig). RunConfig,
the CLI, sweeps, presets and the dashboard dispatch through it, so adding a task is one Task here (and its
tests); a name not in TASKS is refused everywhere.
"""
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import checks, imdb

ADDING_BASELINE_MSE = 1.0 / 6.0


def lag_recall(n, length, lag, num_symbols, seed=0):
    """n sequences of `length` symbols and the symbol `lag` steps before the last one.

    Returns x int64 (n, length), y int64 (n,) with y[i] = x[i, length-1-lag]. Symbols are uniform in
    [0, num_symbols). lag = 0 is the shortest dependency, lag = length-1 recalls x_0.
    """
    checks.integer("n", n, 1)
    checks.integer("length", length, 1)
    checks.integer("lag", lag, 0)
    checks.integer("num_symbols", num_symbols, 2)
    checks.integer("seed", seed, 0, maximum=None)  # any size seeds PCG64
    if lag >= length:
        raise ValueError(f"lag must be < length (the answer must lie inside the sequence): got lag={lag}, "
                         f"length={length}, allowed 0 … {length - 1}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, num_symbols, size=(n, length), dtype=np.int64)
    return x, x[:, length - 1 - lag].copy()


def marked_recall(n, length, lag, num_symbols, seed=0, jitter=0):
    """n sequences of `length` tokens with one marked symbol `lag` (to `lag + jitter`) steps before the end.

    Returns x int64 (n, length) of token ids s_t + num_symbols·m_t and y int64 (n,) = the marked symbol s_{t*},
    t* = length-1-d, d ~ U{lag, …, lag + jitter} per sequence (d = lag when jitter = 0).
    """
    checks.integer("n", n, 1)
    checks.integer("length", length, 1)
    checks.integer("lag", lag, 0)
    checks.integer("jitter", jitter, 0)
    checks.integer("num_symbols", num_symbols, 2)
    checks.integer("seed", seed, 0, maximum=None)  # any size seeds PCG64
    if lag + jitter >= length:
        raise ValueError(f"lag + jitter must be < length (the marked step must lie inside the sequence): got "
                         f"lag={lag}, jitter={jitter}, length={length}")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, num_symbols, size=(n, length), dtype=np.int64)
    marked = length - 1 - (lag + rng.integers(0, jitter + 1, size=n))
    rows = np.arange(n)
    x = symbols.copy()
    x[rows, marked] += num_symbols
    return x, symbols[rows, marked]


def _check_copy_length(length, copy_symbols, task=""):
    if length < 2 * copy_symbols + 1:
        raise ValueError(f"length must be >= 2·copy_symbols + 1 = {2 * copy_symbols + 1}{task} (k symbols, at least "
                         f"one step of waiting, k answers): got length={length}, copy_symbols={copy_symbols}")


def copy_memory(n, length, copy_symbols, num_symbols, seed=0):
    """n copy-task sequences (module docstring): x int64 (n, length), y int64 (n, length), k = copy_symbols.

    x: k symbols from {1, …, K}, T − 1 blanks (0), the delimiter K + 1, k blanks; y: blanks for the first T + k
    steps, then the k symbols. T = length − 2k ≥ 1 is the paper's T; the vocabulary is K + 2 ids, the targets
    K + 1 classes (the delimiter is never one).
    """
    checks.integer("n", n, 1)
    checks.integer("length", length, 1)
    checks.integer("copy_symbols", copy_symbols, 1)
    checks.integer("num_symbols", num_symbols, 2)
    checks.integer("seed", seed, 0, maximum=None)  # any size seeds PCG64
    _check_copy_length(length, copy_symbols)
    k = copy_symbols
    symbols = np.random.default_rng(seed).integers(1, num_symbols + 1, size=(n, k), dtype=np.int64)
    x = np.zeros((n, length), dtype=np.int64)
    y = np.zeros((n, length), dtype=np.int64)
    x[:, :k] = symbols
    x[:, length - k - 1] = num_symbols + 1
    y[:, length - k :] = symbols
    return x, y


def copy_memory_baseline(length, copy_symbols, num_symbols):
    """k·log(K)/(T + 2k) = k·log(K)/length: the mean cross-entropy per step of the memoryless answer to
    copy_memory (blank for the first T + k steps, uniform over the K symbols for the last k)."""
    return copy_symbols * math.log(num_symbols) / length


def adding(n, length, seed=0):
    """n adding-problem sequences: x float64 (n, length, 2) = [value, marker], y float64 (n,) = sum of marked values.

    One marker lies uniformly in the first half [0, length//2), the other in the second half [length//2, length),
    so the two are distinct and the first one is on average ~3/4·length steps before the end.
    """
    checks.integer("n", n, 1)
    checks.integer("length", length, 2)
    checks.integer("seed", seed, 0, maximum=None)  # any size seeds PCG64
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


@dataclass(frozen=True)
class Task:
    """What rnnlab needs to know of a task. Each callable takes the RunConfig (`c`) it serves.

    data(c, data_dir) -> ((x, y) train, (x, y) test) as NumPy arrays, c.n_train and c.n_test of them
    sample(c, batch, length, seed) -> (x, y) tensors as the model reads them; no data set needed
    perturb_first(c, x) -> another valid x_0 for these inputs (rnnlab.memory.perturbation_curve)
    chance(num_symbols) -> (metric, value) that guessing scores: "accuracy" (higher is better) or "mse"
    model(c) -> the SequenceClassifier options for the task's input and output
    check(c) -> raises ValueError naming the field when a RunConfig does not fit the task
    inputs: "symbols" (token ids a person may type), "values" (float vectors) or "words" (text)
    lagged: whether RunConfig.lag sets how far back the answer lies (dependency_profile and reach vary it)
    heads: the SequenceClassifier heads a RunConfig may pick: one answer per sequence ("last", "flatten") or one
        per step ("each")
    """

    name: str
    measures: str
    data: Callable
    sample: Callable
    perturb_first: Callable
    chance: Callable
    model: Callable
    check: Callable = lambda c: None
    inputs: str = "symbols"
    lagged: bool = False
    heads: tuple = ("last", "flatten")


def _seeds(seed):
    """Two seeds for the train and test splits, derived from one (NumPy's SeedSequence)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(2)]


def _generated(draw):
    """A Task.data that draws n_train and n_test sequences with draw(c, n, seed)."""
    def data(c, data_dir=None):
        return tuple(draw(c, n, s) for n, s in zip((c.n_train, c.n_test), _seeds(c.seed)))
    return data


def _tensors(x, y, float32=False):
    import torch  # here, not above: RunConfig reads TASKS, and `rnnlab runs` lists runs without torch
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    return (x.float(), y.float()) if float32 else (x, y)


def _symbol_chance(num_symbols):
    if num_symbols is None:
        raise ValueError("chance_level of a symbol task needs num_symbols, got None")
    checks.integer("num_symbols", num_symbols, 2)
    return "accuracy", 1.0 / num_symbols


def _next_symbol(c, x):
    return (x[:, 0] + 1) % c.num_symbols


def _symbol_model(c):
    return dict(vocab_size=c.num_symbols, num_classes=c.num_symbols, embedding_dim=c.embedding_dim)


def _moved_value(c, x):
    first = x[:, 0].clone()
    first[:, 0] = (first[:, 0] + 0.5) % 1.0
    return first


def _marked_sample(c, batch, length, seed):
    """marked_recall's sample at any length: the lag (and jitter) cut to fit, as lag_recall's is."""
    lag = min(c.lag, length - 1)
    return marked_recall(batch, length, lag, c.num_symbols, seed, min(c.jitter, length - 1 - lag))


def _next_marked_symbol(c, x):
    """x_0's symbol moved on by one (mod K), its marker kept."""
    K = c.num_symbols
    return (x[:, 0] % K + 1) % K + x[:, 0] // K * K


def _check_marked(c):
    if c.lag + c.jitter >= c.length:
        raise ValueError(f"lag + jitter must be < length for task='marked_recall' (the marked step must lie inside "
                         f"the sequence), got lag={c.lag}, jitter={c.jitter}, length={c.length}")


def _check_adding(c):
    if c.length < 2:
        raise ValueError(f"length must be >= 2 for task='adding' (one marker in each half), got {c.length}")


def _copy_sample(c, batch, length, seed):
    """A copy_memory batch of any length >= 3: as many of the config's k symbols as fit (k ≤ (length − 1)/2)."""
    if length < 3:
        raise ValueError(f"length must be >= 3 for task='copy_memory' (a symbol, the delimiter, its copy), "
                         f"got {length}")
    return _tensors(*copy_memory(batch, length, min(c.copy_symbols, (length - 1) // 2), c.num_symbols, seed=seed))


IMDB_SIZE = 25000  # reviews in each of IMDB's train and test splits


def _check_imdb(c):
    for name in ("n_train", "n_test"):
        if getattr(c, name) > IMDB_SIZE:
            raise ValueError(f"{name} must be <= {IMDB_SIZE} for task='imdb' (the reviews in a split), "
                             f"got {getattr(c, name)}")
    if c.num_symbols < imdb.INDEX_FROM + 1:
        raise ValueError(f"num_symbols must be >= {imdb.INDEX_FROM + 1} for task='imdb' (ids 0..3 are "
                         f"reserved), got {c.num_symbols}")


def _random_review(c, batch, length, seed):
    """The start token, then words drawn uniformly from the vocabulary, with a random label 0/1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(min(imdb.INDEX_FROM + 1, c.num_symbols - 1), c.num_symbols, size=(batch, length))
    x[:, 0] = imdb.START
    return _tensors(x, rng.integers(0, 2, size=batch))


TASKS = {
    "lag_recall": Task(
        name="lag_recall",
        measures="recall the symbol `lag` steps before the end: memory, mixed with counting steps from the end "
                 "(no marker says which step to keep); lag = T-1 recalls x_0, written into a zero state",
        data=_generated(lambda c, n, seed: lag_recall(n, c.length, c.lag, c.num_symbols, seed=seed)),
        sample=lambda c, batch, length, seed: _tensors(*lag_recall(batch, length, min(c.lag, length - 1),
                                                                   c.num_symbols, seed=seed)),
        perturb_first=_next_symbol, chance=_symbol_chance, model=_symbol_model, lagged=True),
    "marked_recall": Task(
        name="marked_recall",
        measures="recall the one marked symbol, `lag` steps (to lag + jitter) before the end: memory alone, a "
                 "marker says which step to keep and distractors surround it",
        data=_generated(lambda c, n, seed: marked_recall(n, c.length, c.lag, c.num_symbols, seed, c.jitter)),
        sample=lambda c, batch, length, seed: _tensors(*_marked_sample(c, batch, length, seed)),
        perturb_first=_next_marked_symbol,
        chance=_symbol_chance,
        model=lambda c: dict(vocab_size=2 * c.num_symbols, num_classes=c.num_symbols, embedding_dim=c.embedding_dim),
        check=_check_marked, lagged=True),
    "adding": Task(
        name="adding",
        measures="add the two marked values, one in each half: memory of a value ~3/4·T steps back, as an MSE",
        data=_generated(lambda c, n, seed: adding(n, c.length, seed=seed)),
        sample=lambda c, batch, length, seed: _tensors(*adding(batch, length, seed=seed), float32=True),
        perturb_first=_moved_value, chance=lambda num_symbols=None: ("mse", ADDING_BASELINE_MSE),
        model=lambda c: dict(input_size=2, regression=True), check=_check_adding, inputs="values"),
    "imdb": Task(
        name="imdb",
        measures="the sentiment of an IMDB review (the lecture's task); the reviews come from rnnlab.imdb",
        data=lambda c, data_dir=None: c.imdb_splits(c.load_imdb(data_dir)),
        sample=_random_review, perturb_first=_next_symbol,
        chance=lambda num_symbols=None: ("accuracy", 0.5),  # the test set is balanced: 12,500 reviews of each label
        model=lambda c: dict(vocab_size=c.num_symbols, embedding_dim=c.embedding_dim), check=_check_imdb,
        inputs="words"),
    "copy_memory": Task(
        name="copy_memory",
        measures="reproduce k symbols, in order, T + k steps after reading them (Arjovsky, Shah & Bengio, 2016); "
                 "accuracy on the k answers, cross-entropy over every step against k·log(K)/(T + 2k)",
        data=_generated(lambda c, n, seed: copy_memory(n, c.length, c.copy_symbols, c.num_symbols, seed=seed)),
        sample=_copy_sample, perturb_first=lambda c, x: x[:, 0] % c.num_symbols + 1, chance=_symbol_chance,
        model=lambda c: dict(vocab_size=c.num_symbols + 2, num_classes=c.num_symbols + 1,
                             embedding_dim=c.embedding_dim),
        check=lambda c: _check_copy_length(c.length, c.copy_symbols, " for task='copy_memory'"), heads=("each",)),
}


def task(name):
    """The Task registered under `name`; ValueError naming the allowed ones for anything else."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, got {name!r}")
    return TASKS[name]


def chance_level(task_name, num_symbols=None):
    """What guessing scores: accuracy 1/num_symbols for lag_recall, MSE 1/6 (always answering 1.0) for adding,
    accuracy 0.5 for imdb (balanced labels), accuracy 1/num_symbols on the k answer steps for copy_memory (the
    cross-entropy to beat there depends on length too: copy_memory_baseline).

    Returns (metric, value) with metric "accuracy" (higher is better) or "mse" (lower is better).
    num_symbols is required for the symbol tasks and ignored by the others.
    """
    return task(task_name).chance(num_symbols)
