"""Weight interchange. With PyTorch: rnnlab's SimpleRNN, LSTM, GRU and SequenceClassifier against nn.RNN, nn.LSTM,
nn.GRU (and nn.Embedding, nn.Linear) given the same weights; oracle: the PyTorch modules' own outputs. With Keras
(not installed here): LSTM and GRU against Keras 3's equations written out in NumPy from its layout."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN, gate_time_constants

LAYERS = [(SimpleRNN, nn.RNN), (LSTM, nn.LSTM), (GRU, nn.GRU)]
VOCAB, EMBEDDING, HIDDEN, T = 100, 16, 32, 500


def torch_states(module, x):
    """All h_t, (batch, T, hidden), of a PyTorch recurrent module whichever its batch_first."""
    if module.batch_first:
        return module(x)[0]
    return module(x.transpose(0, 1))[0].transpose(0, 1)


def padded_ids(seed=0):
    """Token ids (4, T) as Keras' pad_sequences leaves reviews of 500, 300, 40 and 1 words: zeros before them."""
    ids = torch.randint(1, VOCAB, (4, T), generator=torch.Generator().manual_seed(seed))
    for row, words in enumerate([T, 300, 40, 1]):
        ids[row, : T - words] = 0
    return ids


@pytest.mark.parametrize("ours, theirs", LAYERS)
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_from_torch_gives_the_modules_states_and_to_torch_gives_them_back(ours, theirs, batch_first, bias):
    """In float64 the two computations differ only by rounding: each pre-activation sums n = 5 + 3 + 2 terms with
    |a| ≤ 1/√5, |h| < 1, |x| ≲ 4, so by ≤ γ_n·Σ|a||v| ≈ 10·1.1e-16·13 ≈ 1.5e-14 a step; even added up over all 40
    steps with no contraction (the cells at PyTorch's init do contract) that is 6e-13 < 1e-12."""
    torch.manual_seed(0)
    ref = theirs(3, 5, bias=bias, batch_first=batch_first).double()
    model = ours.from_torch(ref)
    assert model.A.dtype == torch.float64 and (model.b is None) == (not bias)
    x = torch.randn(2, 40, 3, dtype=torch.float64)
    expected = torch_states(ref, x)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-12)
    back = model.to_torch()
    assert type(back) is theirs and back.batch_first
    torch.testing.assert_close(back(x)[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ours, theirs", LAYERS)
def test_interchange_puts_each_gate_and_intercept_where_pytorch_reads_it(ours, theirs):
    """The mapping itself: A = [weight_hh | weight_ih] with the gates in PyTorch's order; one b = bias_ih + bias_hh
    where they add (SimpleRNN, LSTM), both kept where they do not (the GRU's n gate: r ⊙ (A_{n,h}·h + b_h,n))."""
    torch.manual_seed(1)
    ref = theirs(3, 4)
    model = ours.from_torch(ref)
    assert torch.equal(model.A_x, ref.weight_ih_l0) and torch.equal(model.A_h, ref.weight_hh_l0)
    back = model.to_torch()
    assert torch.equal(back.weight_ih_l0, ref.weight_ih_l0) and torch.equal(back.weight_hh_l0, ref.weight_hh_l0)
    if ours is GRU:
        assert torch.equal(model.b, ref.bias_ih_l0) and torch.equal(model.b_h, ref.bias_hh_l0)
        assert torch.equal(back.bias_ih_l0, ref.bias_ih_l0) and torch.equal(back.bias_hh_l0, ref.bias_hh_l0)
    else:
        assert torch.equal(model.b, ref.bias_ih_l0 + ref.bias_hh_l0)
        assert torch.equal(back.bias_ih_l0, model.b) and not back.bias_hh_l0.any()


# Float32, 500 steps, padding zeros. The two computations are float32 roundings of the same function. Each
# pre-activation sums n = hidden + embedding + 2 = 50 terms a_j·v_j with |a_j| ≤ 1/√32 (PyTorch's init), |h| < 1
# and |e| ≲ 4 (N(0, 1) embeddings): Σ|a_j v_j| ≈ 2 on average. Rounding errors of that sum, of independent sign,
# add up to about u·√n·2 ≈ 6e-8·7·2 ≈ 1e-6 a step (the worst case, all of one sign, is 50× that, never met).
# At PyTorch's init the cells contract a state's error (σ(f) ≈ 1/2 keeps half of the LSTM's c, z ≈ 1/2 the GRU's
# h, ‖A_h‖ < 1 for the SimpleRNN), so an error stays within a few steps' worth, ~3e-6: 2e-5 on states in (-1, 1)
# leaves a margin over 5. The last head's logit W·h_{T-1} + c, |W| ≤ 1/√32, adds Σ|W_j| e ≤ √32·e: same bound.
FLOAT32_STATES = 2e-5


def _torch_classifier(theirs, batch_first, head):
    torch.manual_seed(2)
    features = HIDDEN * (T if head == "flatten" else 1)
    return (nn.Embedding(VOCAB, EMBEDDING, padding_idx=0), theirs(EMBEDDING, HIDDEN, batch_first=batch_first),
            nn.Linear(features, 1))


@pytest.mark.parametrize("ours, theirs", LAYERS)
@pytest.mark.parametrize("batch_first", [True, False])
def test_classifier_from_torch_answers_as_the_modules_over_500_padded_steps_in_float32(ours, theirs, batch_first):
    embedding, rnn, dense = _torch_classifier(theirs, batch_first, "last")
    model = SequenceClassifier.from_torch(embedding, rnn, dense)
    assert isinstance(model.rnn, ours) and model.rnn.A.dtype == torch.float32
    ids = padded_ids()
    with torch.no_grad():
        states = torch_states(rnn, embedding(ids))
        torch.testing.assert_close(model.states(ids), states, rtol=0, atol=FLOAT32_STATES)
        torch.testing.assert_close(model(ids), dense(states[:, -1]).squeeze(-1), rtol=0, atol=FLOAT32_STATES)


@pytest.mark.parametrize("ours, theirs", LAYERS)
def test_classifier_from_torch_with_a_flatten_head_answers_as_the_modules_in_float32(ours, theirs):
    """The flatten head's logit sums n = 16,000 terms W_j·h_j, |W_j| ≤ 1/√n. The states' errors (~3e-6, above) of
    random sign add about |W|·√n·3e-6 ≈ 2e-6; the sum's own rounding, of random sign, about u·√n·max|partial sum|
    ≈ 6e-8·126·1 ≈ 1e-5 (partial sums stay ≲ 1: a random walk of steps |W_j h_j| ≲ 0.008). 2e-4 leaves over 10×."""
    embedding, rnn, dense = _torch_classifier(theirs, True, "flatten")
    model = SequenceClassifier.from_torch(embedding, rnn, dense, head="flatten")
    assert model.head == "flatten" and model.seq_len == T
    ids = padded_ids(seed=1)
    with torch.no_grad():
        expected = dense(torch_states(rnn, embedding(ids)).reshape(len(ids), -1)).squeeze(-1)
        torch.testing.assert_close(model(ids), expected, rtol=0, atol=2e-4)


def test_classifier_from_torch_keeps_classes_per_step_answers_and_float_inputs():
    """head="each" on float inputs (no embedding), three classes, a Dense without intercept: logits (batch, T, 3)
    as nn.Linear on each h_t."""
    torch.manual_seed(3)
    rnn, dense = nn.GRU(4, 6, batch_first=True).double(), nn.Linear(6, 3, bias=False).double()
    model = SequenceClassifier.from_torch(None, rnn, dense, head="each")
    assert model.embedding is None and model.num_classes == 3
    x = torch.randn(2, 30, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), dense(rnn(x)[0]), rtol=0, atol=1e-12)


def test_a_wrong_mapping_would_be_caught_at_these_tolerances():
    """The float32 tolerance is no blanket: dropping the hidden intercept (keeping bias_ih alone, as a careless
    copy would) moves the states by far more than FLOAT32_STATES."""
    embedding, rnn, dense = _torch_classifier(nn.LSTM, True, "last")
    model = SequenceClassifier.from_torch(embedding, rnn, dense)
    with torch.no_grad():
        model.rnn.b.copy_(rnn.bias_ih_l0)
        ids = padded_ids()
        gap = (model.states(ids) - torch_states(rnn, embedding(ids))).abs().max()
    assert gap > 100 * FLOAT32_STATES


@pytest.mark.parametrize("build, error, words", [
    (lambda: LSTM.from_torch(nn.GRU(3, 4)), TypeError, ["LSTM.from_torch", "torch.nn.LSTM", "GRU"]),
    (lambda: GRU.from_torch(nn.GRU(3, 4, num_layers=2)), ValueError, ["num_layers=2"]),
    (lambda: SimpleRNN.from_torch(nn.RNN(3, 4, bidirectional=True)), ValueError, ["bidirectional=True"]),
    (lambda: LSTM.from_torch(nn.LSTM(3, 4, proj_size=2)), ValueError, ["proj_size=2"]),
    (lambda: SequenceClassifier.from_torch(None, nn.Linear(3, 4), nn.Linear(4, 1)), TypeError, ["rnn", "Linear"]),
    (lambda: SequenceClassifier.from_torch(None, nn.GRU(3, 4), nn.GRU(4, 1)), TypeError, ["dense", "GRU"]),
    (lambda: SequenceClassifier.from_torch(nn.Linear(3, 3), nn.GRU(3, 4), nn.Linear(4, 1)), TypeError,
     ["embedding", "Linear"]),
    (lambda: SequenceClassifier.from_torch(nn.Embedding(9, 5), nn.GRU(3, 4), nn.Linear(4, 1)), ValueError,
     ["embedding_dim", "input_size = 3", "5"]),
    (lambda: SequenceClassifier.from_torch(nn.Embedding(9, 3, max_norm=1.0), nn.GRU(3, 4), nn.Linear(4, 1)),
     ValueError, ["max_norm", "1.0"]),
    (lambda: SequenceClassifier.from_torch(None, nn.GRU(3, 4), nn.Linear(8, 1)), ValueError,
     ["in_features", "hidden_size = 4", "'last'", "8"]),
    (lambda: SequenceClassifier.from_torch(None, nn.GRU(3, 4), nn.Linear(10, 1), head="flatten"), ValueError,
     ["in_features", "multiple", "10"]),
    (lambda: SequenceClassifier.from_torch(None, nn.GRU(3, 4), nn.Linear(4, 1), head="first"), ValueError,
     ["head", "'first'", "'last'"]),
])
def test_from_torch_refuses_what_it_cannot_represent_naming_it(build, error, words):
    with pytest.raises(error) as e:
        build()
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------------------------------------------------- Keras

def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def keras_lstm(x, kernel, recurrent_kernel, bias):
    """Keras 3's LSTMCell: z = x_t·kernel + h·recurrent_kernel + bias split as i, f, c, o."""
    h = c = np.zeros((len(x), recurrent_kernel.shape[0]))
    states = []
    for t in range(x.shape[1]):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.stack(states, 1)


def keras_gru(x, kernel, recurrent_kernel, bias):
    """Keras 3's GRUCell with reset_after=True: blocks z, r, h; bias rows (input side, recurrent side)."""
    h, states = np.zeros((len(x), recurrent_kernel.shape[0])), []
    for t in range(x.shape[1]):
        x_z, x_r, x_h = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        h_z, h_r, h_h = np.split(h @ recurrent_kernel + bias[1], 3, axis=1)
        z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        states.append(h)
    return np.stack(states, 1)


@pytest.mark.parametrize("ours, equations, bias_shape", [(LSTM, keras_lstm, (16,)), (GRU, keras_gru, (2, 12))])
def test_from_keras_computes_keras_equations_and_to_keras_gives_the_weights_back(ours, equations, bias_shape):
    """float64 throughout: the two sides differ by rounding alone, ≤ γ_n·Σ|a||v| ≈ 9·1.1e-16·10 ≈ 1e-14 a step, and
    stay within 1e-12 over the 30 steps even without contraction."""
    rng = np.random.default_rng(0)
    gates = ours.gates
    kernel, recurrent = rng.normal(size=(3, gates * 4)) * 0.5, rng.normal(size=(4, gates * 4)) * 0.5
    bias = rng.normal(size=bias_shape)
    model = ours.from_keras(kernel, recurrent, bias)
    x = rng.normal(size=(2, 30, 3))
    np.testing.assert_allclose(model(torch.tensor(x)).detach().numpy(), equations(x, kernel, recurrent, bias),
                               rtol=0, atol=1e-12)
    for got, want in zip(model.to_keras(), [kernel, recurrent, bias], strict=True):
        np.testing.assert_array_equal(got, want)


def test_keras_gru_update_gate_is_pytorchs_z_not_its_r():
    """Keras' first block (z) lands on rnnlab's second (r, z, n): a bias on it sets gate_time_constants."""
    kernel, recurrent, bias = np.zeros((2, 9)), np.zeros((3, 9)), np.zeros((2, 9))
    bias[0, :3] = np.log(99.0)  # Keras' z: keeps 99/100 of h a step, a time constant of 100 steps
    model = GRU.from_keras(kernel, recurrent, bias)
    torch.testing.assert_close(model.b[3:6], torch.full((3,), np.log(99.0), dtype=torch.float64))
    torch.testing.assert_close(gate_time_constants(model), torch.full((3,), 100.0, dtype=torch.float64))


def test_keras_weights_without_bias_round_trip():
    rng = np.random.default_rng(1)
    kernel, recurrent = rng.normal(size=(3, 12)).astype(np.float32), rng.normal(size=(4, 12)).astype(np.float32)
    model = GRU.from_keras(kernel, recurrent)
    assert model.b is None and model.b_h is None and model.A.dtype == torch.float32
    got = model.to_keras()
    assert len(got) == 2 and got[0].dtype == np.float32
    np.testing.assert_array_equal(got[0], kernel), np.testing.assert_array_equal(got[1], recurrent)


@pytest.mark.parametrize("build, words", [
    (lambda: GRU.from_keras(np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)), ["bias", "(2, 12)",
                                                                                    "reset_after=True", "(12,)"]),
    (lambda: LSTM.from_keras(np.zeros((3, 12)), np.zeros((4, 12))), ["LSTM.from_keras", "4·hidden", "(3, 12)"]),
    (lambda: LSTM.from_keras(np.zeros((3, 16)), np.zeros((4, 16)), np.zeros((2, 16))), ["bias", "(16,)"]),
    (lambda: LSTM.from_keras(np.zeros((3, 16), dtype=np.int64), np.zeros((4, 16))), ["float", "int64"]),
])
def test_from_keras_refuses_a_layout_it_cannot_read_naming_it(build, words):
    with pytest.raises(ValueError) as e:
        build()
    for w in words:
        assert w in str(e.value)


def test_simple_rnn_with_a_linear_nonlinearity_has_no_torch_module():
    with pytest.raises(ValueError, match="'linear'"):
        SimpleRNN(3, 4, nonlinearity="linear").to_torch()
