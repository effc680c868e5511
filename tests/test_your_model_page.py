"""The "Your model" page through AppTest: a PyTorch state_dict uploaded as bytes is read into the session, shows its
layers and parameter counts, and is measured on State trajectories, Memory decay and Compare as the library and
PyTorch itself measure it; a file that is not a model is one error line, and nothing else breaks.

The oracles are PyTorch's own modules: their parameter count, their outputs, and ‖∂h_t/∂x_0‖ by torch.func.jacfwd
through nn.LSTM in float64.
"""
import html
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab import imdb, presets
from rnnlab.modelfile import MAX_BYTES, ModelFileError
from rnnlab.runs import RunConfig
from test_dashboard import app, chart, dashboard, find, metric, number, open_page, traced  # noqa: F401 (fixtures)
from tiny_imdb import tiny_reviews

VOCAB, DIM, HIDDEN = 50, 8, 16


class Lecture(nn.Module):
    """The lecture's model in PyTorch: Embedding → LSTM → Linear on the last state."""

    def __init__(self, vocab=VOCAB, dim=DIM, hidden=HIDDEN, cell=nn.LSTM):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(vocab, dim)
        self.rnn = cell(dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)


def saved(module):
    """The module's state_dict as the bytes of a .pt file."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def uploaded(at, data, name="lecture.pt"):
    """The page after uploading `data` as `name`."""
    at = open_page(at, "your_model")
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    return at


def choose_yours(at, page):
    """`page` with the sidebar's model set to the uploaded one."""
    at = open_page(at, page)
    radio = find(at.radio, "Model")
    assert radio.options[-1].startswith("Your model: PyTorch state_dict: Embedding(")
    radio.set_value(radio.options[-1]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_an_uploaded_lstm_state_dict_shows_its_layers_and_both_parameter_counts(app):
    """PyTorch's count is what the module holds; Keras' has one intercept b per gate instead of b_ih and b_hh:
    V·E + 4·(h·(h + E) + h) + (h + 1), the closed form."""
    module = Lecture()
    at = uploaded(app, saved(module))
    assert not at.error
    keras = VOCAB * DIM + 4 * (HIDDEN * (HIDDEN + DIM) + HIDDEN) + HIDDEN + 1
    assert number(metric(at, "Parameters (PyTorch's count)")) == sum(p.numel() for p in module.parameters())
    assert number(metric(at, "Parameters (Keras' count)")) == keras
    assert [s.value for s in at.subheader][0] == "lecture.pt"
    assert any(m.value == f"PyTorch state_dict: Embedding({VOCAB}, {DIM}) → LSTM({HIDDEN}) → Linear({HIDDEN}, 1)"
               for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table["Param # (Keras)"]) == [VOCAB * DIM, 4 * (HIDDEN * (HIDDEN + DIM) + HIDDEN), HIDDEN + 1]
    assert list(table["Param # (PyTorch)"]) == [p.numel() for p in (module.embedding.weight,)] + [
        sum(p.numel() for p in module.rnn.parameters()), sum(p.numel() for p in module.fc.parameters())]


def test_memory_decay_of_your_model_draws_the_influence_pytorch_computes(app):
    """The curve drawn is ‖∂h_t/∂x_0‖_F of the uploaded nn.LSTM, by forward-mode autograd through PyTorch's own
    module in float64 on the page's random review (the start token, then words of the model's vocabulary). Both sides
    compute in float64 from the same float32 weights, in other orders: over T = 100 steps of 16×16 products the
    rounding is of order T·h·2⁻⁵³ ≈ 2e−13 relatively; 1e−9 leaves room for cancellation inside a step."""
    module = Lecture()
    at = uploaded(app, saved(module))
    at = choose_yours(at, "memory_decay")
    find(at.select_slider, "Length T").set_value(100).run()
    assert not at.error and [s.value for s in at.subheader][0] == "Your model"

    review = RunConfig(task="imdb", num_symbols=VOCAB)  # the page's documented input: a random review
    x, _ = presets.sample_input(review, 100, 0)
    lstm, e = module.rnn.double(), module.embedding.double()(x)
    states = lambda e0: lstm(torch.cat([e0[None, None], e[:, 1:]], 1))[0][0]  # noqa: E731
    expected = torch.func.jacfwd(states)(e[0, 0]).detach().flatten(1).norm(dim=1).numpy()
    drawn = np.asarray(traced(chart(at, "Influence of x_0 on h_t"))["your model"]["y"], dtype=np.float64)
    assert expected[-1] < 1e-3 * expected[0]  # it decays: the test covers a curve, not a constant
    np.testing.assert_allclose(drawn, expected, rtol=1e-9, atol=0)



def test_the_lectures_keras_model_opens_and_memory_decay_draws_its_influence(app):
    """The lecture's model as Keras 3 saved it after training (tests/fixtures/models/keras_lecture.keras:
    Embedding → SimpleRNN → Dense(1, sigmoid), made by scripts/make_model_fixtures.py) opens, and Memory decay draws
    ‖∂h_t/∂x_0‖_F as the equations give it from the arrays Keras wrote, read here with h5py, not through rnnlab:

        h_t = tanh(x_t·W + h_{t-1}·U + b),   J_0 = diag(1 − h_0²)·Wᵀ,   J_t = diag(1 − h_t²)·Uᵀ·J_{t-1}

    Both in float64 from the same float32 weights: over T = 100 steps of 8×8 products the rounding is of order
    T·h·2⁻⁵³ ≈ 1e−13 relatively; 1e−9 leaves room for cancellation inside a step."""
    from test_modelfile import keras3_arrays  # the h5py reader of a .keras file's arrays

    path = Path(__file__).parent / "fixtures" / "models" / "keras_lecture.keras"
    at = uploaded(app, path.read_bytes(), name="lecture.keras")
    assert any(m.value.startswith("Keras 3 .keras: Embedding(200, 8) → SimpleRNN(8)") for m in at.markdown)
    at = open_page(at, "memory_decay")
    radio = find(at.radio, "Model")
    radio.set_value(radio.options[-1]).run()
    find(at.select_slider, "Length T").set_value(100).run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    E, W, U, b, _, _ = (a.astype(np.float64) for a in keras3_arrays(path, "simple_rnn"))
    x, _ = presets.sample_input(RunConfig(task="imdb", num_symbols=200), 100, 0)
    h, norms = np.zeros(8), []
    for t, token in enumerate(x[0].numpy()):
        h = np.tanh(E[token] @ W + h @ U + b)
        J = (1 - h**2)[:, None] * (W.T if t == 0 else U.T @ J)
        norms.append(np.linalg.norm(J))
    drawn = np.asarray(traced(chart(at, "Influence of x_0 on h_t"))["your model"]["y"], dtype=np.float64)
    assert max(norms) > 1.2 * min(norms)  # a curve that moves (trained, it does not fade in 100 steps)
    np.testing.assert_allclose(drawn, norms, rtol=1e-9, atol=0)


def test_your_imdb_shaped_model_reads_a_typed_review_with_the_imdb_vocabulary_of_its_size(app, tmp_path, monkeypatch):
    """An IMDB-shaped model (one output) reads a typed review with the IMDB vocabulary of its size: its steps are the
    words rnnlab.imdb encodes (out-of-vocabulary ones as <oov>), and its states are PyTorch's own nn.LSTM's on
    those ids."""
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(tiny_reviews(tmp_path / "imdb")))
    vocabulary = imdb.load(num_words=12, data_dir=tmp_path / "imdb", download=False, progress=False).vocabulary
    assert len(vocabulary.word_index) >= 12 - 4  # every id of the model names a word
    module = Lecture(vocab=12)
    at = choose_yours(uploaded(app, saved(module)), "trajectories")
    find(at.radio, "Input").set_value("Text I type").run()
    text = "the plot was great but the music awful"
    find(at.text_area, "A review").set_value(text).run()
    assert not at.error
    ids = vocabulary.encode(text)
    heatmap = chart(at, "Hidden state h_t, unit by unit")["data"][0]
    words = [html.unescape(w) for w in heatmap["text"][0]]  # the hover shows them as text, escaped
    assert words == [vocabulary.decode([i]) or imdb.RESERVED[i] for i in ids]
    assert "<oov>" in words and "plot" in words  # some words kept, some not
    # float32 on both sides, in other orders: 9 steps, each adding rounding of order h·2⁻²⁴ ≈ 1e−6 to |h_t| < 1
    with torch.no_grad():
        states = module.rnn(module.embedding(torch.tensor([ids])))[0][0]
    np.testing.assert_allclose(np.asarray(heatmap["z"]).T, states.numpy(), rtol=0, atol=1e-5)


def test_a_file_that_is_not_a_model_is_one_error_line_and_the_other_pages_still_run(app, tmp_path):
    """Random bytes and a pickle that would run code when unpickled (weights_only=True refuses it): one error line
    each, no exception, no model in the session, the marker file never written, every analysing page as before."""
    marker = tmp_path / "ran"
    payload = io.BytesIO()

    class Runs:
        def __reduce__(self):
            return Path.touch, (marker,)

    torch.save({"rnn.weight_ih_l0": Runs()}, payload)
    for name, data in (("random.pt", np.random.default_rng(0).bytes(4096)), ("payload.pt", payload.getvalue()),
                       ("empty.keras", b"")):
        at = uploaded(app, data, name)
        assert len(at.error) == 1 and at.error[0].value.startswith(f"{name}: "), [e.value for e in at.error]
        assert "\n" not in at.error[0].value and not at.metric
        assert [i.value for i in at.info] == ["No model yet: upload one above."]
    assert not marker.exists()
    for page in ("memory_decay", "trajectories", "compare"):
        at = open_page(at, page)
        assert not at.error and not any(r.label == "Model" and len(r.options) > 2 for r in at.radio)


def test_a_declared_size_above_the_limit_is_refused_before_the_file_is_read(dashboard):
    """The UploadedFile's size says too much: ModelFileError naming the file and the limit; read() never called."""
    import uploads

    class Huge:
        name, size = "huge.pt", MAX_BYTES + 1

        def getvalue(self):
            raise AssertionError("read a file larger than the limit")

        read = getvalue

    with pytest.raises(ModelFileError, match=r"^huge\.pt: a model file holds at most 64 MiB \(67,108,864 bytes\) here, "
                                             r"got 67,108,865 bytes$"):
        uploads.upload(Huge())


def test_a_model_the_pages_cannot_feed_is_refused_with_what_they_feed(app):
    """Three floats a step with one output: no task of the pages draws such inputs; the error names what it reads."""
    module = nn.Module()
    module.rnn, module.fc = nn.RNN(3, 8, batch_first=True), nn.Linear(8, 1)
    at = uploaded(app, saved(module), "floats.pt")
    assert len(at.error) == 1 and "this one reads 3 floats a step and has 1 outputs" in at.error[0].value


def test_the_session_keeps_your_model_across_pages_and_compare_measures_it(app):
    """Upload once, visit every page that measures a model, come back: the summary is still there with the uploader
    empty; Compare's column of it counts what rnnlab holds (Keras' count) and forgetting it takes it out of Compare."""
    module = Lecture()
    at = uploaded(app, saved(module))
    find(at.button, "Add to compare").click().run()
    for page in ("trajectories", "memory_decay", "compare", "your_model"):
        at = open_page(at, page)
        assert not at.error, [e.value for e in at.error]
    assert at.file_uploader[0].value is None and [s.value for s in at.subheader][0] == "lecture.pt"
    at = open_page(at, "compare")
    table = {row[""]: row for row in at.dataframe[0].value.to_dict("records")}
    keras = VOCAB * DIM + 4 * (HIDDEN * (HIDDEN + DIM) + HIDDEN) + HIDDEN + 1
    assert table["parameters"]["lecture.pt"] == f"{keras:,}" and table["weights measured"]["lecture.pt"] == "your model"
    at = open_page(at, "your_model")
    find(at.button, "Forget this model").click().run()
    assert [i.value for i in at.info] == ["No model yet: upload one above."]
    at = open_page(at, "compare")
    assert "lecture.pt" not in at.dataframe[0].value.columns
