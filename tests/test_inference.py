"""The SimpleRNN classifier's forward without gradients (kernel.lookup_forward): the C loop reads the token ids and
the projected table E·A_xᵀ + b itself. Oracles: the training path's states (the same sums in the same order, so
equal to the bit in float32) and the embedding then the explicit loop in float64."""
import copy

import pytest
import torch

from rnnlab import kernel
from rnnlab.models import SequenceClassifier

VOCAB = 11


def model_and_ids(hidden, batch, steps, head="each", nonlinearity="tanh", seed=0):
    """A classifier whose drive and recurrence are far from zero (b and E uniform in ±0.5, orthogonal A_h) and ids
    that hit both ends of the vocabulary; batch·steps ≥ VOCAB so that the drive is read from the projected table."""
    torch.manual_seed(seed)
    model = SequenceClassifier(vocab_size=VOCAB, embedding_dim=6, hidden_size=hidden, head=head, seq_len=steps,
                               num_classes=3, nonlinearity=nonlinearity,
                               init="orthogonal" if nonlinearity == "tanh" else "torch")
    with torch.no_grad():
        model.embedding.weight.uniform_(-0.5, 0.5)
        model.rnn.b.uniform_(-0.5, 0.5)
        if nonlinearity != "tanh":
            model.rnn.A[:, :hidden] *= 0.5  # relu and linear stay bounded over the steps
    ids = torch.randint(0, VOCAB, (batch, steps))
    ids.view(-1)[:2] = torch.tensor([0, VOCAB - 1])
    assert ids.numel() >= VOCAB
    return model, ids


def training_path(model, ids, states=True):
    """The states (or the outputs) as training computes them: with gradients on, through _Recurrence."""
    with torch.enable_grad():
        out = model.states(ids) if states else model(ids)
    assert out.grad_fn is not None
    return out.detach()


# B: 8-row, 4-row, 2-row and 1-row blocks and their remainders; H: specialised sizes and generic ones (5, 33)
@pytest.mark.parametrize("hidden, batch, steps", [(32, 256, 40), (32, 13, 9), (8, 11, 3), (16, 1, 12), (5, 7, 4),
                                                  (33, 3, 5), (64, 9, 2), (32, 12, 1), (128, 17, 1)])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
def test_inference_states_equal_the_training_paths_to_the_bit(hidden, batch, steps, nonlinearity):
    """Same rows P[id], same sums A_h·h_{t-1} added in the same order, same φ: the same float32 numbers exactly,
    for every state and, for the last head, for h_{T-1} alone."""
    model, ids = model_and_ids(hidden, batch, steps, nonlinearity=nonlinearity)
    want = training_path(model, ids)
    with torch.no_grad():
        every, last = model.states(ids), model.states(ids, last=True)
    assert torch.equal(every, want)
    assert last.shape == (batch, 1, hidden) and torch.equal(last[:, 0], want[:, -1])


@pytest.mark.parametrize("head", ["last", "flatten", "each"])
def test_inference_output_equals_the_training_paths_for_every_head(head):
    model, ids = model_and_ids(32, 13, 9, head=head)
    with torch.no_grad():
        got = model(ids)
    assert torch.equal(got, training_path(model, ids, states=False))


def test_parameters_that_need_no_gradient_take_the_lookup_even_with_gradients_on():
    model, ids = model_and_ids(32, 13, 9)
    model.requires_grad_(False)
    out = model.states(ids)
    assert out.grad_fn is None
    assert torch.equal(out, training_path(model.requires_grad_(True), ids))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_inference_in_float64_equals_the_embedding_then_the_explicit_loop(nonlinearity):
    """Oracle: E[token_t] into SimpleRNN.loop, h_t = φ(A·[h_{t-1}; x_t] + b) step by step. The two differ only in
    the order of float64 sums: each state is a dot product of H + K + 1 = 39 terms over ≤ 9 steps whose Jacobians
    have norm ≤ 1, so they agree to 9·39·eps ≈ 8e-14 of the largest value; 1e-12 leaves room and still catches a
    wrong row or step, which is off by the values themselves (~0.1)."""
    model, ids = model_and_ids(32, 13, 9, nonlinearity=nonlinearity)
    model = copy.deepcopy(model).double()
    with torch.no_grad():
        got, last = model.states(ids), model.states(ids, last=True)
        want = model.rnn.loop(model.embedding(ids))
    assert (got - want).abs().max() < 1e-12 and (last[:, 0] - want[:, -1]).abs().max() < 1e-12


def test_int32_ids_give_the_int64_states():
    model, ids = model_and_ids(16, 5, 7)
    with torch.no_grad():
        assert torch.equal(model.states(ids.int()), model.states(ids))


def test_ids_in_any_layout_are_read_in_place():
    """Batch-major ids seen time-major (the classifier's x.T), time-major ones, and a broadcast batch (stride 0)."""
    model, ids = model_and_ids(16, 5, 7)
    rnn, lib = model.rnn, kernel.load()
    with torch.no_grad():
        P = torch.nn.functional.linear(model.embedding.weight, rnn.A_x, rnn.b)
        h0, A_hT = P.new_zeros(5, 16), rnn.A_h.T.contiguous()
        want = kernel.lookup_forward(lib, ids.T.contiguous(), P, h0, A_hT, "tanh")
        assert torch.equal(kernel.lookup_forward(lib, ids.T, P, h0, A_hT, "tanh"), want)
        broadcast = kernel.lookup_forward(lib, ids[:1].T.expand(7, 5), P, h0, A_hT, "tanh")
        assert torch.equal(broadcast, want[:, :1].expand(7, 5, 16))
        assert torch.equal(broadcast, model.states(ids[:1].expand(5, 7)).transpose(0, 1))


@pytest.mark.parametrize("where", ["embedding", "A_h", "b"])
def test_a_nan_in_the_weights_comes_out_as_in_the_training_path(where):
    """A NaN in row 3 of E reaches the states from the first step holding token 3; one in A_h or b everything."""
    model, ids = model_and_ids(8, 11, 3)
    with torch.no_grad():
        {"embedding": model.embedding.weight[3], "A_h": model.rnn.A[2, 5:6], "b": model.rnn.b[1:2]}[where].fill_(
            float("nan"))
        got = model.states(ids)
    want = training_path(model, ids)
    assert got.isnan().any() and torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.nan_to_num(), want.nan_to_num())


def test_the_lookup_refuses_ids_it_would_read_past_the_table_for():
    lib, P, h0, A_hT = kernel.load(), torch.randn(4, 3), torch.zeros(2, 3), torch.eye(3)
    for bad in (-1, 4):
        ids = torch.tensor([[0, 1], [bad, 3]])
        with pytest.raises(ValueError, match=rf"ids must lie in \[0, 3\].*\[{min(bad, 0)}, {max(bad, 3)}\]"):
            kernel.lookup_forward(lib, ids, P, h0, A_hT, "tanh")
    with pytest.raises(ValueError, match="ids must be an int64 or int32 CPU tensor"):
        kernel.lookup_forward(lib, torch.zeros(2, 2), P, h0, A_hT, "tanh")
    with pytest.raises(ValueError, match="h0 must have shape"):
        kernel.lookup_forward(lib, torch.zeros(2, 3, dtype=torch.long), P, h0, A_hT, "tanh")
    with pytest.raises(ValueError, match="at least one step"):
        kernel.lookup_forward(lib, torch.zeros(0, 2, dtype=torch.long), P, h0, A_hT, "tanh", every=False)
    with pytest.raises(ValueError, match="C-contiguous CPU tensors of one dtype"):
        kernel.lookup_forward(lib, torch.zeros(2, 2, dtype=torch.long), P.double(), h0, A_hT, "tanh")
