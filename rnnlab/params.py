"""Parameter counts, by formula and by model, and a Keras-like summary table.

The lecture's SimpleRNN has one weight matrix A of shape (h, h + x) and one intercept b of shape (h,):

    params = h·(h + x) + h

Conventions differ on intercepts. Keras counts one b per gate; PyTorch's nn.RNN/nn.LSTM/nn.GRU keep two (b_ih and
b_hh), so nn.RNN(32, 32) has 2,112 parameters where Keras' SimpleRNN(32) has 2,080. Keras' GRU (reset_after=True,
its default) also keeps two, the same as PyTorch. rnnlab's layers follow Keras, and count_parameters(model) counts
what a model really holds.
"""
from dataclasses import dataclass

from . import checks
from .models import GRU, LSTM, SequenceClassifier, SimpleRNN

CONVENTIONS = ("keras", "torch")


def _check(hidden_size, input_size, convention):
    checks.integer("hidden_size", hidden_size)
    checks.integer("input_size", input_size)
    checks.choice("convention", convention, CONVENTIONS)


def simple_rnn_params(hidden_size, input_size, bias=True, convention="keras"):
    """h·(h + x) + h: A (h, h + x) and b (h,). convention="torch" counts nn.RNN's two intercepts: + 2h."""
    _check(hidden_size, input_size, convention)
    h, x = hidden_size, input_size
    return h * (h + x) + (h * (2 if convention == "torch" else 1) if bias else 0)


def lstm_params(hidden_size, input_size, bias=True, convention="keras"):
    """4·(h·(h + x) + h): four gates, each a SimpleRNN-sized block. convention="torch": 4·(h·(h + x) + 2h)."""
    _check(hidden_size, input_size, convention)
    return 4 * simple_rnn_params(hidden_size, input_size, bias, convention)


def gru_params(hidden_size, input_size, bias=True, convention="keras", reset_after=True):
    """3·(h·(h + x) + 2h): three gates with an input and a recurrent intercept each (Keras reset_after=True, its
    default, and PyTorch alike). reset_after=False (Keras' older GRU): 3·(h·(h + x) + h)."""
    _check(hidden_size, input_size, convention)
    h, x = hidden_size, input_size
    return 3 * (h * (h + x) + ((2 if reset_after or convention == "torch" else 1) * h if bias else 0))


def count_parameters(model, trainable_only=True):
    """The number of scalars in the model's parameters (those with requires_grad, unless trainable_only=False)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class Row:
    """One layer of a summary: name, type, output shape (None = batch), params and the formula that gives them."""
    layer: str
    type: str
    output_shape: tuple
    params: int
    formula: str


@dataclass(frozen=True)
class Summary:
    rows: tuple
    total: int

    def __str__(self):
        widths, width = (29, 26), 65  # Keras 2's column stops
        line = "_" * width
        lines = [line, f" {'Layer (type)':<{widths[0] - 1}}{'Output Shape':<{widths[1]}}Param #",
                 "=" * width]
        for r in self.rows:
            shape = "(" + ", ".join("None" if d is None else str(d) for d in r.output_shape) + ")"
            lines.append(f" {r.layer + ' (' + r.type + ')':<{widths[0] - 1}}{shape:<{widths[1]}}{r.params}")
        lines += ["=" * width, f"Total params: {self.total:,}", f"Trainable params: {self.total:,}",
                  "Non-trainable params: 0", line]
        return "\n".join(lines)


_TYPE = {SimpleRNN: "SimpleRNN", LSTM: "LSTM", GRU: "GRU"}
# (gates, intercepts per gate): params = gates·(h·(h + x) + intercepts·h)
_SHAPE = {SimpleRNN: (1, 1), LSTM: (4, 1), GRU: (3, 2)}


def _formula(gates, intercepts, h="h", x="x"):
    inner = f"{h}·({h} + {x})" + {0: "", 1: f" + {h}", 2: f" + 2·{h}"}[intercepts]
    return inner if gates == 1 else f"{gates}·({inner})"


def _rnn_row(rnn, shape):
    kind = type(rnn)
    gates, intercepts = _SHAPE[kind]
    intercepts = intercepts if rnn.b is not None else 0
    params = count_parameters(rnn)
    formula = _formula(gates, intercepts)
    filled = _formula(gates, intercepts, rnn.hidden_size, rnn.input_size)
    name = {SimpleRNN: "simple_rnn", LSTM: "lstm", GRU: "gru"}[kind]
    return Row(name, _TYPE[kind], shape, params, f"{formula} = {filled} = {params:,}")


def summary(model):
    """A Keras-like summary of a SequenceClassifier or a bare recurrent layer: .rows, .total, and str() as
    Keras' `model.summary()` prints it. Output shapes use None for the batch (and for T when it is not known)."""
    if isinstance(model, SequenceClassifier):
        T, h = model.seq_len, model.hidden_size
        rows = []
        if model.embedding is not None:
            v, e = model.embedding.num_embeddings, model.embedding.embedding_dim
            rows.append(Row("embedding", "Embedding", (None, T, e), v * e, f"vocab·dim = {v}·{e} = {v * e:,}"))
        if model.head == "flatten":
            rows.append(_rnn_row(model.rnn, (None, T, h)))
            rows.append(Row("flatten", "Flatten", (None, T * h), 0, "no parameters"))
            features = T * h
        else:
            rows.append(_rnn_row(model.rnn, (None, h) if model.head == "last" else (None, T, h)))
            features = h
        k = model.num_classes
        dense = features * k + k
        shape = (None, T, k) if model.head == "each" else (None, k)
        rows.append(Row("dense", "Dense", shape, dense,
                        f"features·units + units = {features}·{k} + {k} = {dense:,}"))
    elif isinstance(model, tuple(_TYPE)):
        rows = [_rnn_row(model, (None, None, model.hidden_size))]
    else:
        raise TypeError(f"model must be an rnnlab SequenceClassifier, SimpleRNN, LSTM or GRU, got {type(model).__name__}")
    total = sum(r.params for r in rows)
    if total != count_parameters(model):  # the formulas above must describe what the model really holds
        raise RuntimeError(f"summary rows add up to {total}, but the model holds {count_parameters(model)} parameters")
    return Summary(tuple(rows), total)
