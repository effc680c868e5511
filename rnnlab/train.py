"""Train and evaluate a SequenceClassifier, Keras `fit`-style, deterministically.

One step on a minibatch B:

    L(θ) = model.loss(model(x_B), y_B)          (mean over B: cross-entropy, BCE or MSE)
    g = ∇_θ L,   g ← g·min(1, clip/‖g‖₂)        (clip: max global gradient norm, optional)
    θ ← optimizer(θ, g)

The trainer knows only `model(x)`, `model.loss(output, y)` and `model.predict(output)`. Shuffling draws from a
torch.Generator seeded by `seed`, so the same model, data and seed give the same history and weights.

History reports per epoch, like Keras: `loss` and `accuracy` are averages over the epoch's minibatches (weighted by
their size) as the weights moved, `val_loss` and `val_accuracy` are measured after the epoch. Accuracy is None
for regression models (there are no classes to be right about) and val_* are None without validation data.

A model that answers at every step (SequenceClassifier(head="each"), output (batch, T, classes)) takes one label
per step, y of shape (n, T). Its loss is the mean over every step of every example; its accuracy counts only the
steps whose label is not 0, the blank that says "nothing to answer here" (copy_memory's first T + k steps, which a
memoryless model gets right for free): the fraction of the answers right, None when no step has one.
"""
import copy
import ctypes
import math
import os
import platform
import re
import sys
import time
from contextlib import contextmanager

import numpy as np
import torch

from . import checks
from .choices import OPTIMIZERS  # torch-free, for RunConfig
from .history import History  # torch-free, for reading the run store
from .models import flush_denormals

THREADS_ENV = "RNNLAB_THREADS"
MAX_THREADS = 1024  # far past any CPU's cores; bounds what a typed value can make torch start
SMALL_MODEL = 1_000_000  # parameters: below this, one intra-op thread trains faster than several


def env_threads():
    """The thread count RNNLAB_THREADS asks for, or None where it is unset or empty."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\+?\d{1,5}", text) or not 1 <= int(text) <= MAX_THREADS:
        raise ValueError(f"{THREADS_ENV} must be an int in [1, {MAX_THREADS}], got {text[:20]!r}")
    return int(text)


def threads_for(model, threads=None):
    """The intra-op thread count to train `model` with: `threads` if given, else RNNLAB_THREADS if set, else 1 for
    a model of fewer than SMALL_MODEL parameters, else None (keep the caller's setting).

    A small model's step is a chain of tiny matrix products: PyTorch's default, one thread per core, splits each
    across OpenMP workers that spin waiting on one another, and on a busy 2-core machine made the lecture's step
    380 ms instead of 9 ms."""
    if threads is not None:
        checks.integer("threads", threads, 1, MAX_THREADS)
        return threads
    threads = env_threads()
    if threads is not None:
        return threads
    return 1 if sum(p.numel() for p in model.parameters()) < SMALL_MODEL else None


@contextmanager
def torch_threads(threads):
    """torch.set_num_threads(threads) meanwhile (None: no change), then the caller's count again."""
    was = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(was)


class TrainingDiverged(ValueError):
    """The training loss, or the gradient norm ‖g‖₂, became NaN or ±inf; `epoch` and `step` (both from 1) say
    where. Raised before the step is taken, so the model keeps the last finite weights."""

    def __init__(self, epoch, step, loss, gradient_norm=None):
        self.epoch, self.step, self.loss, self.gradient_norm = epoch, step, loss, gradient_norm
        what = (f"the loss became {loss}" if gradient_norm is None
                else f"the gradient norm became {gradient_norm} (loss {loss:.4g})")
        super().__init__(f"training diverged: {what} at epoch {epoch}, step {step} "
                         "(try a smaller lr, gradient clipping, or a smaller spectral_radius)")


def _check_model(model):
    methods = all(callable(getattr(model, m, None)) for m in ("loss", "predict"))
    if not isinstance(model, torch.nn.Module) or not methods:
        raise TypeError(f"model must be a torch.nn.Module with loss(output, y) and predict(output), such as a "
                        f"SequenceClassifier, got {type(model).__name__}")
    if next(model.parameters(), None) is None:
        raise ValueError("model must have parameters to train, got none")


def _first(bad):
    """Where the first True of `bad` is: i for one label per example, (i, t) for one per step."""
    where = tuple(bad.nonzero()[0].tolist())
    return where[0] if len(where) == 1 else where


def check_labels(model, y, name="y"):
    """y as the model's loss reads it: one finite value per example for regression, else class ids in
    [0, num_classes) ({0, 1} for one sigmoid output), as ints or as floats that are whole numbers; one per step,
    (n, T), for a model with head="each"."""
    if getattr(model, "head", None) == "each":
        if y.dim() != 2:
            raise ValueError(f"{name} must hold one label per step of each example, shape (n, T), for a "
                             f"head='each' model, got {tuple(y.shape)}")
    elif y.dim() != 1:
        raise ValueError(f"{name} must hold one label per example, shape (n,), got {tuple(y.shape)}")
    if y.dtype == torch.bool or y.is_complex():
        raise TypeError(f"{name} must hold numbers, got {y.dtype}")
    if getattr(model, "regression", False):
        if not y.is_floating_point() or y.numel() == 0 or torch.isfinite(y).all():
            return
        i = _first(~torch.isfinite(y))
        raise ValueError(f"{name} must be finite, got {y[i].item()} at index {i}")
    classes = max(2, getattr(model, "num_classes", 2))
    if y.numel() == 0:
        return
    bad = (y < 0) | (y >= classes)
    if y.is_floating_point():
        bad |= ~torch.isfinite(y) | (y != y.round())
    if bad.any():
        i = _first(bad)
        raise ValueError(f"{name} must hold class ids 0 … {classes - 1} (num_classes={classes}), got "
                         f"{y[i].item()} at index {i}")


def _as_tensors(data, name, model):
    """(x, y) of NumPy arrays or tensors → tensors; floats take the model's dtype so float64 data just works."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be an (x, y) pair of arrays or tensors, got {type(data).__name__}")
    dtype = next(model.parameters()).dtype
    out = []
    for part, v in zip("xy", data):
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name}'s {part} must be a NumPy array or torch.Tensor, got {type(v).__name__}")
        out.append(v.to(dtype) if v.is_floating_point() else v)
    x, y = out
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example, got x of shape {tuple(x.shape)}")
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"{name}'s x and y must hold the same number of examples, got {x.shape[0]} and "
                         f"{y.shape[0] if y.dim() else 'a scalar'}")
    check_labels(model, y, f"{name}'s y")
    if y.dim() == 2 and y.shape[1] != x.shape[1]:
        raise ValueError(f"{name}'s y must hold one label per step of x: x has {x.shape[1]} steps, y "
                         f"{y.shape[1]}")
    return x, y


def make_optimizer(name, params, lr):
    """A torch optimizer by name; "adam" and "sgd" (no momentum) keep torch's defaults.

    "rmsprop" is torch's RMSprop with Keras' defaults ρ = 0.9 (torch's alpha) and ε = 1e-7 (torch: 0.99, 1e-8):
    v ← ρ·v + (1-ρ)·g²,  θ ← θ - lr·g/(√v + ε). Keras divides by √(v + ε) instead. The two agree while
    √v ≫ √ε ≈ 3e-4 (gradients above ~1e-3); for smaller gradients torch's steps are larger, up to ~lr·√(1/(1-ρ))
    on the first step, where Keras' shrink in proportion to g."""
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got {name!r}")


def _accuracy_hits(model, output, y):
    """(predictions right, labels counted), or None for a regression model. Per-step labels (n, T) count only
    the steps whose label is not the blank 0."""
    if getattr(model, "regression", False):
        return None
    pred = model.predict(output)
    right = pred == y.to(pred.dtype)
    if y.dim() == 1:
        return int(right.sum()), len(y)
    answers = y != 0
    return int((right & answers).sum()), int(answers.sum())


def _add_hits(hits, h):
    return None if h is None else (hits[0] + h[0], hits[1] + h[1])


def _accuracy(hits):
    return None if hits is None or hits[1] == 0 else hits[0] / hits[1]


@torch.no_grad()
def evaluate(model, data, batch_size=256):
    """Mean loss and accuracy of `model` on data = (x, y), in eval mode and without gradients.

    Returns {"loss": float, "accuracy": float or None (regression; per-step labels with no answer), "n": number
    of examples}.
    """
    _check_model(model)
    checks.integer("batch_size", batch_size)
    x, y = _as_tensors(data, "data", model)
    keep_freed_memory()  # a batch of 256 sequences of 500 steps allocates 16 MB of states
    was_training = model.training
    model.eval()
    total, hits = 0.0, (0, 0)
    try:
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            out = model(xb)
            total += float(model.loss(out, yb)) * len(xb)
            hits = _add_hits(hits, _accuracy_hits(model, out, yb))
    finally:
        model.train(was_training)
    n = len(x)
    return {"loss": total / n, "accuracy": _accuracy(hits), "n": n}


def _progress_reporter(progress, total_steps):
    """(update(step, message), close()) for a tqdm bar, a callable(fraction, message), or nothing."""
    if progress is None or progress is False:
        return (lambda step, msg: None), (lambda: None)
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, unit="step", disable=not sys.stderr.isatty(), leave=False)

        def update(step, msg):
            bar.update(step - bar.n)
            bar.set_description(msg, refresh=False)

        return update, bar.close
    if callable(progress):
        # A dashboard redraws on every call: report about a hundred times, not on every step.
        every = max(1, total_steps // 100)

        def update(step, msg):
            if step % every == 0 or step == total_steps:
                progress(step / total_steps, msg)

        return update, (lambda: None)
    raise TypeError(f"progress must be True, False, None or a callable(fraction, message), got {progress!r}")


def keep_freed_memory():
    """Have glibc's malloc keep freed blocks of up to 32 MB for reuse, and up to 64 MB of freed memory at the top
    of its heap, rather than hand them back to the kernel. Returns whether it could (glibc only; elsewhere a no-op).

    A step of the lecture's model allocates and frees ~10 MB of MB-sized tensors (states, δ, gradients of the
    embedding). glibc moves its thresholds with what the process happened to free before (from 128 kB up to these
    same ceilings), so in some processes it gave those pages back after every step and the next step faulted them
    in again, zeroed: 320–560 page faults and ~1.4 ms a step (30%), in others none. These are the ceilings of glibc's
    own adjustment, set from the start and kept: at most 64 MB more held by a process that trains."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 64 << 20))


def _gradient_norm(model, exact):
    """‖g‖₂ over the model's gradients, as a 0-d tensor: in float64 where `exact` (clipping scales by it) or where
    float32 gives no finite value, else in float32. The float32 norm tells finite from not as float64 does, at a
    third of the cost over the lecture's 322,113 gradients (0.03 ms against 0.09 ms): a finite float32 norm means
    every entry is finite, and where float32 overflows (entries past ~1e19 squared, or a norm past 3e38) float64
    decides, as it always did."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not exact:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        if torch.isfinite(norm):
            return norm
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads]))


def fit(model, train, val=None, epochs=3, batch_size=32, optimizer="rmsprop", lr=1e-3, clip=None,
        early_stopping=None, seed=0, progress=True, stop_at=None, on_epoch=None, threads=None):
    """Train `model` on train = (x, y) and return its History.

    Args:
        model: a SequenceClassifier (anything with forward, loss(output, y), predict(output) and parameters).
        train, val: (x, y) pairs of NumPy arrays or tensors; val is evaluated after every epoch.
        epochs, batch_size: the budget; the last minibatch of an epoch may be smaller.
        optimizer: "rmsprop" (Keras' defaults, see make_optimizer), "adam" or "sgd"; lr its learning rate.
        clip: if given, the global gradient norm ‖g‖₂ is clipped to it before each step.
        early_stopping: patience in epochs: stop once val_loss has not improved for that many epochs, and
            restore the weights of the best epoch (needs val).
        seed: seeds the shuffling; the same seed, data and initial weights give the same history and weights.
        stop_at: if given, stop after the first epoch whose training accuracy (over that epoch's minibatches) is at
            least this: a search over many configurations (experiments.reach) then pays only for what it learns.
        on_epoch: if given, called after each epoch as on_epoch(epoch, model, history), e.g. to measure the model
            as it learns or to draw the curves so far.
        progress: True for a tqdm bar on a terminal (silent when stderr is not a TTY), False/None for none,
            or a callable(fraction in [0, 1], message) to drive e.g. a dashboard's progress bar.
        threads: torch's intra-op threads while training (on_epoch included), the caller's count restored after;
            None: RNNLAB_THREADS if set, else 1 for a model under a million parameters (see threads_for).

    Raises TrainingDiverged (a ValueError) as soon as a minibatch loss or the gradient norm ‖g‖₂ is not finite,
    before the step is taken (clipping cannot rescue an infinite gradient). For the rest of the process, glibc's
    malloc keeps freed memory for reuse (keep_freed_memory; evaluate does the same).
    """
    _check_model(model)
    for name, value in (("epochs", epochs), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    checks.integer("batch_size", batch_size)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got {optimizer!r}")
    checks.positive("lr", lr)
    if clip is not None:
        checks.positive("clip", clip)
    if early_stopping is not None:
        if isinstance(early_stopping, bool) or not isinstance(early_stopping, int):
            raise TypeError(f"early_stopping must be a patience in epochs (int) or None, got {early_stopping!r}")
        if early_stopping < 1:
            raise ValueError(f"early_stopping must be >= 1 epoch, got {early_stopping}")
        if val is None:
            raise ValueError("early_stopping watches val_loss: give val=(x, y)")
    if stop_at is not None:
        checks.number("stop_at", stop_at, 0, 1, low_open=True, high_open=False)
    x, y = _as_tensors(train, "train", model)
    val = None if val is None else _as_tensors(val, "val", model)
    threads = threads_for(model, threads)
    keep_freed_memory()

    opt = make_optimizer(optimizer, model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    update, close = _progress_reporter(progress, epochs * steps_per_epoch)
    history = History()
    best_loss, best_state, since_best = math.inf, None, 0
    # Denormals are flushed to zero while training (in this thread; rnnlab's C loops flush their own), as TensorFlow
    # does: gradients that sink over hundreds of steps, and their squares in RMSprop, would otherwise land in floats
    # that x86 computes many times slower.
    with flush_denormals(), torch_threads(threads):
        try:
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                model.train()
                order = torch.randperm(n, generator=gen)
                total, hits = 0.0, (0, 0)
                for step in range(1, steps_per_epoch + 1):
                    idx = order[(step - 1) * batch_size : step * batch_size]
                    xb, yb = x[idx], y[idx]
                    out = model(xb)
                    loss = model.loss(out, yb)
                    if not torch.isfinite(loss):
                        raise TrainingDiverged(epoch, step, loss.item())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    norm = _gradient_norm(model, exact=clip is not None)
                    if not torch.isfinite(norm):
                        raise TrainingDiverged(epoch, step, loss.item(), gradient_norm=norm.item())
                    if clip is not None:
                        torch.nn.utils.clip_grads_with_norm_(model.parameters(), clip, norm)
                    opt.step()
                    total += loss.item() * len(idx)
                    hits = _add_hits(hits, _accuracy_hits(model, out, yb))
                    update((epoch - 1) * steps_per_epoch + step,
                           f"epoch {epoch}/{epochs} · loss {total / min(n, step * batch_size):.4f}")
                history.loss.append(total / n)
                history.accuracy.append(_accuracy(hits))
                if val is not None:
                    v = evaluate(model, val)
                    history.val_loss.append(v["loss"])
                    history.val_accuracy.append(v["accuracy"])
                else:
                    history.val_loss.append(None)
                    history.val_accuracy.append(None)
                history.seconds.append(time.perf_counter() - start)
                if early_stopping is not None:
                    if history.val_loss[-1] < best_loss:
                        best_loss, since_best, history.best_epoch = history.val_loss[-1], 0, epoch
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        since_best += 1
                        if since_best >= early_stopping:
                            break
                if on_epoch is not None:
                    on_epoch(epoch, model, history)
                if stop_at is not None and history.accuracy[-1] is not None and history.accuracy[-1] >= stop_at:
                    break
        finally:
            close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
