"""Inside a text classifier: attributions and influence from the end against independent oracles."""
import numpy as np
import pytest
import torch
from torch.func import jacrev

from rnnlab.explain import explain, keep_window, predict_proba, window_accuracy
from rnnlab.imdb import Vocabulary
from rnnlab.models import SequenceClassifier


def text_model(**kwargs):
    torch.manual_seed(0)
    options = dict(vocab_size=20, embedding_dim=4, hidden_size=5, init="torch")
    options.update(kwargs)
    return SequenceClassifier(**options).double()


def test_gradient_times_input_adds_up_to_the_logit_of_a_linear_model():
    """Oracle: a linear RNN with no intercepts is homogeneous of degree 1 in the embeddings, so by Euler's theorem
    Σ_t (∂y/∂e_t)·e_t = y − dense bias exactly."""
    model = text_model(nonlinearity="linear", bias=False)
    ids = torch.tensor([1, 5, 7, 3, 9, 2])
    result = explain(model, ids)
    logit = model(ids[None]).item()
    assert result.attribution.sum() == pytest.approx(logit - model.dense.bias.item(), rel=1e-10)
    assert result.probability == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-12)


@pytest.mark.parametrize("head", ["last", "flatten"])
def test_influence_from_the_end_equals_jacrev(head):
    """Oracle: torch.func.jacrev of h_{T-1} with respect to all embeddings (through the explicit loop)."""
    model = text_model(head=head, seq_len=7)
    ids = torch.tensor([0, 0, 1, 4, 6, 8, 2])
    e = model.embed(ids[None]).detach()
    jac = jacrev(lambda e: model.rnn(e)[0, -1])(e)[:, 0]  # (hidden, T, dim)
    expected = jac.pow(2).sum((0, 2)).sqrt().detach().numpy()[2:]  # padding dropped
    result = explain(model, ids)
    np.testing.assert_allclose(result.influence, expected, rtol=1e-10)
    assert result.ids.tolist() == [1, 4, 6, 8, 2]


def test_explanation_names_words_through_the_vocabulary():
    vocabulary = Vocabulary(["good", "bad", "film"], num_words=20)
    model = text_model()
    result = explain(model, [0, 1, 4, 6, 2])
    assert explain(model, [0, 1, 4, 6, 2], vocabulary).tokens == ["<start>", "good", "film", "<oov>"]
    assert result.tokens == ["1", "4", "6", "2"]


def test_keep_window_keeps_first_or_last_words_and_repads():
    x = np.array([[0, 0, 1, 5, 6, 7], [1, 2, 3, 4, 5, 6]])
    assert keep_window(x, 2, "first").tolist() == [[0, 0, 0, 0, 1, 5], [0, 0, 0, 0, 1, 2]]
    assert keep_window(x, 2, "last").tolist() == [[0, 0, 0, 0, 6, 7], [0, 0, 0, 0, 5, 6]]
    assert keep_window(x, 10, "last").tolist() == x.tolist()
    with pytest.raises(ValueError, match="side must be 'first' or 'last', got 'middle'"):
        keep_window(x, 2, "middle")
    with pytest.raises(ValueError, match="k must be an int >= 1, got 0"):
        keep_window(x, 0, "first")


def test_window_accuracy_counts_by_hand():
    """Oracle: predictions of the cut rows counted one by one."""
    model = text_model()
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 20, size=(40, 8)), rng.integers(0, 2, size=40)
    result = window_accuracy(model, x, y, [1, 3])
    for k, got in zip([1, 3], result["last"]):
        p = predict_proba(model, keep_window(x, k, "last"))
        assert got == sum(int(pi >= 0.5) == yi for pi, yi in zip(p, y)) / 40
    assert result["full"] == float(((predict_proba(model, x) >= 0.5) == y).mean())


def test_explain_refuses_models_without_token_ids():
    with pytest.raises(TypeError, match="SequenceClassifier over token ids"):
        explain(SequenceClassifier(input_size=3), [1, 2])
