"""Parameter counts: the lecture's numbers to the digit, formulas against what the models really hold."""
import pytest
import torch

from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN
from rnnlab.params import count_parameters, gru_params, lstm_params, simple_rnn_params, summary


def test_lecture_last_state_model_has_322113_parameters():
    s = summary(SequenceClassifier(vocab_size=10000, embedding_dim=32, hidden_size=32, seq_len=500))
    assert [(r.type, r.params) for r in s.rows] == [("Embedding", 320000), ("SimpleRNN", 2080), ("Dense", 33)]
    assert s.total == 322113
    assert "Total params: 322,113" in str(s)


def test_lecture_flatten_model_has_338081_parameters():
    s = summary(SequenceClassifier(vocab_size=10000, embedding_dim=32, hidden_size=32, seq_len=500, head="flatten"))
    assert [(r.type, r.output_shape, r.params) for r in s.rows] == [
        ("Embedding", (None, 500, 32), 320000), ("SimpleRNN", (None, 500, 32), 2080),
        ("Flatten", (None, 16000), 0), ("Dense", (None, 1), 16001)]
    assert s.total == 338081


def test_summary_prints_like_keras():
    text = str(summary(SequenceClassifier(vocab_size=10000, seq_len=500)))
    assert " simple_rnn (SimpleRNN)      (None, 32)                2080" in text.splitlines()
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text


def test_simple_rnn_formula_and_the_torch_convention():
    """Oracle: the parameters PyTorch's nn.RNN really allocates (two intercepts)."""
    assert simple_rnn_params(32, 32) == 2080
    assert simple_rnn_params(32, 32, convention="torch") == 2112 == count_parameters(torch.nn.RNN(32, 32))


@pytest.mark.parametrize("h,x", [(1, 1), (7, 3), (32, 32), (64, 10)])
@pytest.mark.parametrize("bias", [True, False])
def test_formulas_count_what_the_layers_hold(h, x, bias):
    assert simple_rnn_params(h, x, bias) == count_parameters(SimpleRNN(x, h, bias=bias))
    assert lstm_params(h, x, bias) == count_parameters(LSTM(x, h, bias=bias))
    assert gru_params(h, x, bias) == count_parameters(GRU(x, h, bias=bias))
    assert lstm_params(h, x, bias, convention="torch") == count_parameters(torch.nn.LSTM(x, h, bias=bias))
    assert gru_params(h, x, bias, convention="torch") == count_parameters(torch.nn.GRU(x, h, bias=bias))


def test_gru_without_reset_after_counts_one_intercept():
    assert gru_params(32, 32, reset_after=False) == 3 * (32 * 64 + 32)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("head", ["last", "flatten", "each"])
def test_summary_rows_add_up_to_the_model(cell, head):
    model = SequenceClassifier(vocab_size=123, embedding_dim=5, hidden_size=7, cell=cell, head=head, seq_len=11,
                               num_classes=3)
    s = summary(model)
    assert s.total == count_parameters(model) == sum(p.numel() for p in model.parameters())
    # the last row's shape is the model's output's, with None for the batch
    assert s.rows[-1].output_shape == (None,) + tuple(model(torch.zeros(2, 11, dtype=torch.long)).shape[1:])


def test_formula_text_substitutes_the_sizes():
    row = summary(SimpleRNN(32, 32)).rows[0]
    assert row.formula == "h·(h + x) + h = 32·(32 + 32) + 32 = 2,080"


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        simple_rnn_params(0, 3)
    with pytest.raises(ValueError, match="convention must be one of"):
        lstm_params(3, 3, convention="jax")
    with pytest.raises(TypeError, match="model must be an rnnlab"):
        summary(torch.nn.Linear(2, 2))
