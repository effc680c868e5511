"""Models: the fused fast path against the explicit loop, inits, weight interchange, the classifier, bad input."""
import numpy as np
import pytest
import torch

from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN, spectral_radius


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
@pytest.mark.parametrize("bias", [True, False])
def test_simple_rnn_fast_path_equals_explicit_loop_in_float64(nonlinearity, bias):
    torch.manual_seed(0)
    model = SimpleRNN(3, 5, nonlinearity=nonlinearity, bias=bias, init="torch").double()
    x, h0 = rand(4, 30, 3), rand(4, 5, seed=1)
    torch.testing.assert_close(model(x, h0), model.loop(x, h0), rtol=0, atol=1e-6)
    torch.testing.assert_close(model(x), model.loop(x), rtol=0, atol=1e-6)


def test_simple_rnn_loop_is_the_lecture_equation_written_by_hand():
    """Oracle: h_t = tanh(A·[h_{t-1}; x_t] + b) in NumPy, one step at a time."""
    torch.manual_seed(1)
    model = SimpleRNN(2, 3, init="torch").double()
    x = rand(1, 6, 2)
    A, b, h = model.A.detach().numpy(), model.b.detach().numpy(), np.zeros(3)
    expected = []
    for t in range(6):
        h = np.tanh(A @ np.concatenate([h, x[0, t].numpy()]) + b)
        expected.append(h)
    np.testing.assert_allclose(model(x)[0].detach().numpy(), np.array(expected), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gated_fast_path_equals_explicit_loop_in_float64(cls):
    torch.manual_seed(0)
    model = cls(3, 5, init="torch").double()
    x = rand(2, 25, 3)
    torch.testing.assert_close(model(x), model.loop(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gated_layers_match_pytorch_modules_with_the_same_weights(cls):
    """Oracle: torch.nn.LSTM / nn.GRU given our A_x, A_h and intercepts."""
    torch.manual_seed(0)
    model = cls(3, 4, init="torch").double()
    ref = getattr(torch.nn, cls.__name__)(3, 4, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(model.A_x), ref.weight_hh_l0.copy_(model.A_h), ref.bias_ih_l0.copy_(model.b)
        ref.bias_hh_l0.copy_(model.b_h if cls is GRU else torch.zeros_like(model.b))
    x = rand(2, 9, 3)
    torch.testing.assert_close(model(x), ref(x)[0], rtol=0, atol=1e-12)


def test_keras_init_is_orthogonal_recurrent_glorot_input_zero_bias():
    torch.manual_seed(0)
    model = SimpleRNN(32, 32)
    A_h, A_x = model.A_h.detach().double(), model.A_x.detach()
    torch.testing.assert_close(A_h @ A_h.T, torch.eye(32, dtype=torch.float64), atol=1e-5, rtol=0)
    limit = (6 / (32 + 32)) ** 0.5
    assert A_x.abs().max() <= limit and A_x.abs().max() > 0.9 * limit
    assert torch.all(model.b == 0)


def test_lstm_keras_init_sets_forget_gate_bias_to_one():
    model = LSTM(3, 4)
    assert torch.all(model.b[4:8] == 1) and torch.all(model.b[:4] == 0) and torch.all(model.b[8:] == 0)


def test_identity_init_is_irnn():
    model = SimpleRNN(3, 6, init="identity", nonlinearity="relu")
    assert torch.equal(model.A_h.detach(), torch.eye(6))
    assert model.A_x.abs().max() < 0.01


@pytest.mark.parametrize("rho", [0.5, 1.0, 1.7])
def test_spectral_radius_rescales_the_recurrent_block(rho):
    """Oracle: the eigenvalues of A_h computed afresh."""
    torch.manual_seed(0)
    model = SimpleRNN(4, 16, init="torch", spectral_radius=rho)
    assert abs(np.abs(np.linalg.eigvals(model.A_h.detach().double().numpy())).max() - rho) < 1e-5
    lstm = LSTM(4, 8, spectral_radius=rho)
    for gate in range(4):
        assert abs(spectral_radius(lstm.A_h[gate * 8:(gate + 1) * 8]) - rho) < 1e-5


def test_torch_layout_round_trip_keeps_outputs():
    """Oracle: PyTorch's nn.RNN itself, whose two intercepts add up to our b."""
    torch.manual_seed(0)
    ref = torch.nn.RNN(3, 5, batch_first=True).double()
    model = SimpleRNN.from_torch(ref)
    x = rand(2, 11, 3)
    torch.testing.assert_close(model(x), ref(x)[0], rtol=0, atol=1e-12)
    back = model.to_torch()
    torch.testing.assert_close(back(x)[0], ref(x)[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(back.bias_ih_l0 + back.bias_hh_l0, ref.bias_ih_l0 + ref.bias_hh_l0)


def test_keras_layout_round_trip_keeps_outputs():
    """Oracle: Keras' SimpleRNN equation h_t = tanh(x_t·kernel + h_{t-1}·recurrent_kernel + bias) in NumPy."""
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = rng.normal(size=(3, 5)), rng.normal(size=(5, 5)) * 0.3, rng.normal(size=5)
    model = SimpleRNN.from_keras(kernel, recurrent, bias)
    x = rng.normal(size=(2, 7, 3))
    h, expected = np.zeros((2, 5)), []
    for t in range(7):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        expected.append(h)
    np.testing.assert_allclose(model(torch.tensor(x)).detach().numpy(), np.stack(expected, 1), atol=1e-12)
    for got, want in zip(model.to_keras(), [kernel, recurrent, bias]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("head,shape", [("last", (3,)), ("flatten", (3,))])
def test_classifier_reads_the_last_state_or_all_states(head, shape):
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=50, embedding_dim=4, hidden_size=6, head=head, seq_len=9).double()
    x = torch.randint(0, 50, (3, 9))
    out = model(x)
    assert out.shape == shape
    states = model.rnn(model.embedding(x))
    features = states[:, -1] if head == "last" else states.reshape(3, -1)
    torch.testing.assert_close(out, (features @ model.dense.weight.T + model.dense.bias).squeeze(-1))


def test_classifier_losses_match_their_definitions():
    torch.manual_seed(0)
    binary = SequenceClassifier(input_size=2, hidden_size=3).double()
    x, y = rand(5, 4, 2), torch.tensor([0, 1, 1, 0, 1])
    p = torch.sigmoid(binary(x))
    expected = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    torch.testing.assert_close(binary.loss(binary(x), y), expected)
    multi = SequenceClassifier(input_size=2, hidden_size=3, num_classes=4).double()
    logits = multi(x)
    expected = -torch.log_softmax(logits, -1)[torch.arange(5), y].mean()
    torch.testing.assert_close(multi.loss(logits, y), expected)
    assert torch.equal(multi.predict(logits), logits.argmax(-1))


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_size=0, hidden_size=3), "input_size must be >= 1, got 0"),
    (dict(input_size=2, hidden_size=-1), "hidden_size must be >= 1, got -1"),
    (dict(input_size=2, hidden_size=3, nonlinearity="sigmoid"), "nonlinearity must be one of"),
    (dict(input_size=2, hidden_size=3, init="xavier"), "init must be one of"),
    (dict(input_size=2, hidden_size=3, spectral_radius=-1.0), "spectral_radius must be a finite number > 0"),
])
def test_simple_rnn_rejects_bad_arguments_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimpleRNN(**kwargs)


def test_sizes_must_be_ints():
    with pytest.raises(TypeError, match="hidden_size must be an int, got 3.5"):
        SimpleRNN(2, 3.5)


def test_bad_inputs_are_named():
    model = SimpleRNN(2, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, T, 2\), got \(4, 5\)"):
        model(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="h0 must have shape"):
        model(torch.zeros(1, 5, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least one"):
        model(torch.zeros(0, 5, 2))


def test_classifier_rejects_bad_configurations_and_tokens():
    with pytest.raises(ValueError, match="head='flatten' needs seq_len"):
        SequenceClassifier(vocab_size=10, head="flatten")
    with pytest.raises(ValueError, match="exactly one of vocab_size"):
        SequenceClassifier()
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceClassifier(vocab_size=10, cell="transformer")
    with pytest.raises(ValueError, match="nonlinearity applies to cell='simple_rnn' only"):
        SequenceClassifier(vocab_size=10, cell="lstm", nonlinearity="relu")
    model = SequenceClassifier(vocab_size=10)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 9\]"):
        model(torch.tensor([[1, 10]]))
    flat = SequenceClassifier(vocab_size=10, head="flatten", seq_len=5)
    with pytest.raises(ValueError, match="seq_len=5"):
        flat(torch.zeros(1, 6, dtype=torch.long))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
@pytest.mark.parametrize("bias", [True, False])
def test_hand_written_bptt_equals_autograd_through_the_explicit_loop(nonlinearity, bias):
    """Oracle: autograd through `loop`, float64, a loss that reads every state (as the Flatten head does)."""
    torch.manual_seed(0)
    model = SimpleRNN(3, 5, nonlinearity=nonlinearity, bias=bias, init="torch").double()
    x, h0 = rand(4, 40, 3).requires_grad_(), rand(4, 5, seed=1).requires_grad_()
    weights = rand(4, 40, 5, seed=2)
    inputs = [x, h0] + list(model.parameters())
    fast = torch.autograd.grad((model(x, h0) * weights).sum(), inputs)
    slow = torch.autograd.grad((model.loop(x, h0) * weights).sum(), inputs)
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("hidden", [5, 32, 40])
def test_simple_rnn_forward_and_bptt_equal_autograd_through_the_loop_for_every_batch_size_to_nine(hidden):
    """The C loops take the rows of a state four, two or one at a time (four where they fit in the CPU's vector
    registers: hidden 5 and 32 on AVX-512, 5 on AVX2; 40 is no constant size the kernel unrolls): batches 1 … 9
    leave every remainder. Oracle: autograd through the explicit loop, float64; every state read by the loss."""
    torch.manual_seed(0)
    model = SimpleRNN(3, hidden, init="torch").double()
    for batch in range(1, 10):
        x, h0 = rand(batch, 12, 3, seed=batch).requires_grad_(), rand(batch, hidden, seed=1).requires_grad_()
        weights = rand(batch, 12, hidden, seed=2)
        inputs = [x, h0] + list(model.parameters())
        fast, slow = model(x, h0), model.loop(x, h0)
        # float64: the two paths round the same ≲ 12·(hidden + 3) products of magnitude ≲ 10 in other orders, so they
        # differ by ≲ 12·43·10·2^-53 ≈ 6e-13 at most (tanh's Jacobian ≤ 1 does not grow it); the gradients as above
        torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
        for got, want in zip(torch.autograd.grad((fast * weights).sum(), inputs),
                             torch.autograd.grad((slow * weights).sum(), inputs)):
            torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


def test_hand_written_bptt_passes_gradcheck_against_finite_differences():
    from rnnlab.models import recurrence
    torch.manual_seed(0)
    args = (rand(6, 2, 4).requires_grad_(), rand(2, 4, seed=1).requires_grad_(),
            (0.5 * rand(4, 4, seed=2)).requires_grad_())
    assert torch.autograd.gradcheck(lambda u, h0, A_h: recurrence(u, h0, A_h, "tanh"), args)  # u: a leaf, copied


def test_flush_denormals_restores_the_callers_setting():
    from rnnlab.models import flush_denormals
    tiny = torch.tensor([1e-39])
    for before in (False, True):
        torch.set_flush_denormal(before)
        with flush_denormals():
            assert (tiny * 1.0).item() == 0.0
        assert ((tiny * 1.0).item() == 0.0) == before
    torch.set_flush_denormal(False)


def test_finite_inputs_whose_sum_overflows_are_not_taken_for_infinite():
    x = torch.full((2, 3, 1), 3e38)  # finite, but their float32 sum is inf: the element-wise check clears them
    assert torch.isfinite(SimpleRNN(1, 2)(x)).all()


def test_nan_in_float_inputs_is_named_with_its_index():
    x = torch.zeros(2, 4, 3)
    x[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"x must be finite, got nan at index \(1, 2, 0\)"):
        SimpleRNN(3, 2)(x)
    with pytest.raises(ValueError, match="x must be finite"):
        SequenceClassifier(input_size=3)(x)


@pytest.mark.parametrize("vocab", [7, 500])
@pytest.mark.parametrize("head", ["last", "flatten"])
def test_classifier_states_and_gradients_equal_embedding_then_explicit_loop(vocab, head):
    """vocab 7 < batch·T tokens: the drive is looked up in the projected table E·A_xᵀ + b; vocab 500: every token
    is projected. Oracle: nn.Embedding, then autograd through the explicit loop, float64."""
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=vocab, embedding_dim=3, hidden_size=6, head=head, seq_len=20).double()
    with torch.no_grad():
        model.rnn.b.uniform_(-0.3, 0.3)
    x = torch.randint(0, vocab, (4, 20), generator=torch.Generator().manual_seed(1))
    y = torch.rand(4, dtype=torch.float64)
    fast_states = model.states(x)
    slow_states = model.rnn.loop(model.embedding(x))
    torch.testing.assert_close(fast_states, slow_states, rtol=0, atol=1e-12)
    fast = torch.autograd.grad(model.loss(model.head_output(fast_states), y), list(model.parameters()))
    slow = torch.autograd.grad(model.loss(model.head_output(slow_states), y), list(model.parameters()))
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_classes", [1, 5])
def test_each_head_applies_the_dense_layer_to_every_state_by_explicit_loop(cell, num_classes):
    """head="each": y_t = W·h_t + c at every t. Oracle: the states of the explicit loop, the Dense layer applied
    to one h_t at a time, float64."""
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=9, embedding_dim=3, hidden_size=4, cell=cell, head="each",
                               num_classes=num_classes).double()
    x = torch.randint(0, 9, (3, 7), generator=torch.Generator().manual_seed(1))
    out = model(x)
    assert out.shape == ((3, 7) if num_classes == 1 else (3, 7, num_classes))
    states = model.rnn.loop(model.embedding(x))
    W, c = model.dense.weight, model.dense.bias
    expected = torch.stack([states[:, t] @ W.T + c for t in range(7)], dim=1)
    torch.testing.assert_close(out, expected.squeeze(-1), rtol=0, atol=1e-12)


def test_each_head_loss_is_the_mean_cross_entropy_over_every_step_and_its_gradient_that_of_the_loop():
    """Oracle: −log softmax(y_t)[label] summed by an explicit double loop over examples and steps, divided by
    batch·T; the gradient through the fused SimpleRNN equals autograd through the explicit loop (float64)."""
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=6, embedding_dim=3, hidden_size=5, head="each", num_classes=4).double()
    x = torch.randint(0, 6, (3, 8), generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, 4, (3, 8), generator=torch.Generator().manual_seed(3))
    logits = model(x)
    expected = sum(-torch.log_softmax(logits[b, t], -1)[y[b, t]] for b in range(3) for t in range(8)) / 24
    torch.testing.assert_close(model.loss(logits, y), expected, rtol=1e-12, atol=0)
    assert torch.equal(model.predict(logits), logits.argmax(-1)) and model.predict(logits).shape == (3, 8)
    fast = torch.autograd.grad(model.loss(model(x), y), list(model.parameters()))
    slow_loss = model.loss(model.head_output(model.rnn.loop(model.embedding(x))), y)
    slow = torch.autograd.grad(slow_loss, list(model.parameters()))
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)
