"""Named configurations to start from, and a seeded model and input for each: nothing to download or prepare.

The lecture's SimpleRNN (h = 32, tanh, Keras' initialisation) and what it is usually compared with:

    lecture SimpleRNN   h_t = tanh(A·[h_{t-1}; x_t] + b), A_h orthogonal (ρ(A_h) = 1), A_x glorot_uniform, b = 0
    LSTM, GRU           the same state size h = 32, gates stacked along the rows of A
    IRNN                φ = relu, A_h = I, b = 0 (Le, Jaitly & Hinton, 2015)
    ρ = 0.9, ρ = 1.1    the lecture's SimpleRNN with A_h rescaled to spectral radius 0.9 (forgets) or 1.1

Every preset is a RunConfig on the lag_recall task, so it can be trained (`rnnlab train ...`, `runs.run`) as it is;
`cli_command(config)` prints the command line that trains it.
"""
from dataclasses import fields

import numpy as np
import torch

from . import imdb, tasks
from .runs import RunConfig

LECTURE = "Lecture SimpleRNN"
_BASE = RunConfig(hidden_size=32, embedding_dim=32)

PRESETS = {
    LECTURE: _BASE,
    "LSTM, same state size": _BASE.replace(cell="lstm"),
    "GRU, same state size": _BASE.replace(cell="gru"),
    "IRNN (relu, A_h = I)": _BASE.replace(nonlinearity="relu", init="identity"),
    "SimpleRNN, ρ = 0.9": _BASE.replace(spectral_radius=0.9),
    "SimpleRNN, ρ = 1.1": _BASE.replace(spectral_radius=1.1),
}


def preset(name):
    """The RunConfig of a preset by name (see PRESETS)."""
    if name not in PRESETS:
        raise ValueError(f"name must be one of {', '.join(map(repr, PRESETS))}, got {name!r}")
    return PRESETS[name]


def _check_config(config):
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")


def sample_input(config, length=None, seed=0, batch=1):
    """(x, y): `batch` sequences of config's task, as the model reads them, and their targets; no data needed.

    lag_recall: token ids int64 (batch, T) from tasks.lag_recall, the lag being config.lag when it fits in T, else
    T - 1 (recall x_0). adding: floats (batch, T, 2) in float32, like an untouched model. imdb: a random "review",
    the start token then words drawn uniformly from the vocabulary, with a random label 0/1 (a real review comes
    from text: see encode_text). length overrides config.length; a head="flatten" model reads exactly
    config.length steps.
    """
    _check_config(config)
    length = config.length if length is None else length
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an int >= 1 (or None for config.length), got {length!r}")
    return tasks.TASKS[config.task].sample(config, batch, length, seed)


def encode_text(config, vocabulary, text):
    """A typed review as one input row for an imdb model: (x int64 (1, T), its T words). Tokenised with the run's
    vocabulary (rnnlab.imdb: the start token, then one id per word, 2 for a word it does not know), never
    evaluated; padded in front or cut to config.length as in training when the model reads all states
    (head="flatten"), else as long as the text."""
    _check_config(config)
    if config.task != "imdb":
        raise ValueError(f"config.task must be 'imdb' to read text, got {config.task!r}")
    ids = vocabulary.encode(text)
    if config.head == "flatten":
        ids = imdb.pad_sequences([ids], config.length)[0].tolist()
    return torch.tensor([ids], dtype=torch.int64), [vocabulary.decode([i]) or imdb.RESERVED[i] for i in ids]


def alternative_first_input(config, x):
    """x_0 replaced by another valid input, for perturbation_curve: the next token id (mod num_symbols) for
    lag_recall and imdb; for adding, the value moved by 0.5 (mod 1) with the marker kept."""
    _check_config(config)
    return tasks.TASKS[config.task].perturb_first(config, x)


def build(config, length=None, seed=0, batch=1):
    """(model at initialisation in eval mode, x, y) for a RunConfig: config.build_model() (seeded by config.seed)
    and sample_input(config, length, seed, batch)."""
    _check_config(config)
    model = config.build_model().eval()
    x, y = sample_input(config, length, seed, batch)
    return model, x, y


def cli_command(config):
    """The `rnnlab train` command line that trains `config`: its fields that differ from RunConfig's defaults,
    as --field-name value."""
    _check_config(config)
    default = RunConfig()
    parts = ["rnnlab train"]
    for f in fields(RunConfig):
        value = getattr(config, f.name)
        if value != getattr(default, f.name):
            parts.append(f"--{f.name.replace('_', '-')} {_text(value)}")
    return " \\\n    ".join(parts) if len(parts) > 4 else " ".join(parts)


def _text(value):
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-") if 1e-4 <= abs(value) < 1e6 else repr(value)
    return str(value)


def parse_symbols(text, num_symbols):
    """Typed symbols, e.g. "3 1 4 1 5" (spaces or commas between them), as token ids int64 (1, T) for a lag_recall
    model: tokenised, never evaluated. Each symbol must be an integer in [0, num_symbols)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    words = text.replace(",", " ").split()
    if not words:
        raise ValueError("text must hold at least one symbol, got none")
    bad = [w for w in words if not (w.isascii() and w.isdigit() and int(w) < num_symbols)]
    if bad:
        raise ValueError(f"text must hold symbols 0 … {num_symbols - 1} separated by spaces, got {bad[0]!r}")
    return torch.tensor([[int(w) for w in words]], dtype=torch.int64)
