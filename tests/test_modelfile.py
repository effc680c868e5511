"""rnnlab.load_model against files real Keras 3 and real PyTorch wrote (tests/fixtures/models, made by
scripts/make_model_fixtures.py) and the outputs those frameworks computed; hostile files made here are refused with
one ModelFileError line. Also SequenceClassifier.from_keras / to_keras and experiments.model_report."""
import io
import json
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn as nn

import rnnlab
from rnnlab import modelfile
from rnnlab.experiments import model_report
from rnnlab.modelfile import ModelFileError, load_model
from rnnlab.models import SequenceClassifier

FIXTURES = Path(__file__).parent / "fixtures" / "models"
ORIGINS = {
    "keras_lecture.keras": "Keras 3 .keras: Embedding(200, 8) → SimpleRNN(8) → Dense(1)",
    "keras_flatten.keras": "Keras 3 .keras: Embedding(200, 8) → SimpleRNN(8) → Flatten → Dense(1)",
    "keras_lstm.keras": "Keras 3 .keras: Embedding(200, 8) → LSTM(8) → Dense(3)",
    "keras_gru.keras": "Keras 3 .keras: Embedding(200, 8) → GRU(8) → Dense(1)",
    "keras_gru_legacy.h5": "Keras .h5: GRU(6) → Dense(2)",
    "torch_lstm.pt": "PyTorch state_dict: Embedding(200, 8) → LSTM(8) → Linear(8, 1)",
    "torch_gru.pt": "PyTorch state_dict: Embedding(200, 8) → GRU(8) → Linear(8, 3)",
    "torch_rnn_flatten.pt": "PyTorch state_dict: RNN(6) → Linear(120, 2)",
}
LECTURE = FIXTURES / "keras_lecture.keras"


def framework_output(model, name, x):
    """What the framework's model returned: Keras applies Dense's activation (sigmoid on one unit, softmax on
    several), PyTorch's Linear returns its outputs as they are."""
    with torch.no_grad():
        out = model(torch.as_tensor(x).long() if x.dtype.kind == "i" else torch.as_tensor(x))
    if name.startswith("keras"):
        out = torch.sigmoid(out) if model.num_classes == 1 else torch.softmax(out, dim=-1)
    return out.numpy()


@pytest.mark.parametrize("name", sorted(ORIGINS))
def test_each_file_computes_what_its_framework_computed_on_the_same_inputs(name):
    """The inputs hold Keras' padding zeros, and the models without a fixed length read 500 steps too.

    Tolerance: the frameworks and rnnlab run the same float32 recurrence, summed in other orders (and, against
    TensorFlow, with other tanh and sigmoid). A pre-activation sums n ≤ 17 terms a·v with |a·v| ≈ 0.2 typical (N(0,
    0.4²) weights), so the orders differ by about √n·u·Σ|a·v| ≈ 4·6e-8·3.4 ≈ 1e-6 a step. Every fixture contracts
    (Lyapunov exponent ≤ −0.015 a step, the trained lecture model's: see test_cli), so a step's rounding is amplified
    at most 1/(1 − e^−0.015) ≈ 67-fold over any number of steps: ≲ 7e-5 in h_t, less after Keras' sigmoid or
    softmax (slope ≤ 1/4). PyTorch's fixtures run the very ATen kernels rnnlab calls (observed 0 to 6e-8). atol 1e-4
    holds on any CPU; a wrong gate order, a transposed kernel or a dropped bias moves the outputs by O(0.1).
    """
    model = load_model(FIXTURES / name)
    saved = np.load(FIXTURES / f"{name}.npz")
    assert model.origin == ORIGINS[name]
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    inputs = [k for k in saved.files if k.startswith("x")]
    assert len(inputs) == (1 if "flatten" in name else 2)
    for key in inputs:
        expected = saved["y" + key[1:]]
        out = framework_output(model, name, saved[key]).reshape(expected.shape)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)


def keras3_arrays(path, rnn):
    """get_weights() of a .keras file, read here straight from its model.weights.h5 (layers/…/vars/i, an RNN's
    under cell/), layer by layer."""
    with zipfile.ZipFile(path) as z:
        h5 = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    arrays = []
    for group in ("embedding", f"{rnn}/cell", "dense"):
        vars_ = h5[f"layers/{group}/vars"]
        arrays += [vars_[str(i)][()] for i in range(len(vars_))]
    return arrays


@pytest.mark.parametrize("name, cell, shapes", [
    ("keras_lecture.keras", "simple_rnn", [(200, 8), (8, 8), (8, 8), (8,), (8, 1), (1,)]),
    ("keras_lstm.keras", "lstm", [(200, 8), (8, 32), (8, 32), (32,), (8, 3), (3,)]),
    ("keras_gru.keras", "gru", [(200, 8), (8, 24), (8, 24), (2, 24), (8, 1), (1,)]),  # reset_after: 2 bias rows
])
def test_to_keras_gives_back_the_arrays_keras_wrote_and_from_keras_rebuilds_the_model(name, cell, shapes):
    """Keras' gate order (LSTM i f c o, GRU z r h) goes out and back exactly: to_keras() equals what Keras wrote."""
    model = load_model(FIXTURES / name)
    written = keras3_arrays(FIXTURES / name, cell)
    ours = model.to_keras()
    assert [a.shape for a in ours] == [w.shape for w in written] == shapes
    for a, w in zip(ours, written):
        np.testing.assert_array_equal(a, w)
    again = SequenceClassifier.from_keras(written, cell=cell)
    x = torch.randint(0, 200, (3, 50), generator=torch.Generator().manual_seed(0))
    assert torch.equal(again(x), model(x))


def test_from_keras_on_float_inputs_without_biases_is_the_equation_written_out():
    """Keras: h_t = tanh(x_t·kernel + h_{t-1}·recurrent_kernel), y = h_{T-1}·W + c; the loop here is the oracle,
    in float64 where the two differ by rounding only (≤ 1e-13 over 12 steps of |values| ≤ 3)."""
    g = torch.Generator().manual_seed(1)
    kernel, recurrent = torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(5, 5, generator=g,
                                                                                         dtype=torch.float64) / 3
    W, c = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
    model = SequenceClassifier.from_keras([kernel, recurrent, W, c], embedding=False)
    assert model.rnn.b is None and model.num_classes == 2
    x = torch.randn(4, 12, 3, generator=g, dtype=torch.float64)
    h = torch.zeros(4, 5, dtype=torch.float64)
    for t in range(12):
        h = torch.tanh(x[:, t] @ kernel + h @ recurrent)
    torch.testing.assert_close(model(x), h @ W + c, rtol=0, atol=1e-13)
    back = model.to_keras()
    assert len(back) == 4 and all(np.array_equal(a, b.numpy()) for a, b in zip(back, [kernel, recurrent, W, c]))


@pytest.mark.parametrize("weights, words", [
    ([np.zeros((3, 4))] * 3, ["embeddings, kernel", "5 or 6 arrays", "got 3"]),
    ([np.zeros((10, 3)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4), np.zeros((5, 1)), np.zeros(1)],
     ["the Dense kernel's rows must be units = 4", "got 5"]),
    ([np.zeros((10, 2)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4), np.zeros((4, 1)), np.zeros(1)],
     ["embeddings", "(vocab, 3)", "(10, 2)"]),
])
def test_from_keras_refuses_arrays_that_do_not_fit_naming_them(weights, words):
    with pytest.raises(ValueError) as e:
        SequenceClassifier.from_keras(weights)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_a_path_str_bytes_and_a_file_object_give_the_same_model():
    data = LECTURE.read_bytes()
    x = torch.randint(0, 200, (2, 30), generator=torch.Generator().manual_seed(2))
    expected = load_model(LECTURE)(x)
    for source in (str(LECTURE), data, bytearray(data), io.BytesIO(data)):
        assert torch.equal(load_model(source)(x), expected)
    assert rnnlab.load_model is load_model and rnnlab.ModelFileError is ModelFileError


def test_the_format_is_read_off_the_content_not_the_name(tmp_path):
    (tmp_path / "model.pt").write_bytes(LECTURE.read_bytes())
    (tmp_path / "model.keras").write_bytes((FIXTURES / "torch_lstm.pt").read_bytes())
    assert load_model(tmp_path / "model.pt").origin.startswith("Keras 3 .keras")
    assert load_model(tmp_path / "model.keras").origin.startswith("PyTorch state_dict")


# ---------------------------------------------------------------------------------------------- PyTorch


class Net(nn.Module):
    def __init__(self, rnn, embedding=True, out_features=2, head_in=None):
        super().__init__()
        self.emb = nn.Embedding(30, rnn.input_size) if embedding else None
        self.rnn, self.fc = rnn, nn.Linear(head_in or rnn.hidden_size, out_features)


def saved(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_a_relu_rnn_and_a_head_on_every_step_come_from_the_mapping():
    """nn.RNN's nonlinearity and a Linear on every h_t are not in a state_dict: the mapping says them. Oracle: the
    PyTorch modules (float32, same kernels up to summation order: 1e-5 over 15 steps of values ≲ 10)."""
    torch.manual_seed(3)
    net = Net(nn.RNN(4, 6, nonlinearity="relu", batch_first=True))
    model = load_model(saved(net.state_dict()), mapping={"nonlinearity": "relu", "head": "each"})
    x = torch.randint(0, 30, (3, 15))
    with torch.no_grad():
        expected = net.fc(net.rnn(net.emb(x))[0])
    assert model.head == "each" and model.rnn.nonlinearity == "relu"
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-5)
    tanh = load_model(saved(net.state_dict()))
    assert tanh.rnn.nonlinearity == "tanh" and tanh.head == "last"


def test_a_linear_head_without_bias_is_found_through_the_mapping():
    """rnnlab finds a Linear by its weight beside a bias: without one, the mapping names it. Oracle: the PyTorch
    modules, float32 (same kernels up to summation order over 9 steps of 6 units: 1e-6)."""
    torch.manual_seed(4)
    net = Net(nn.GRU(6, 6, batch_first=True), out_features=1)
    state = {k: v for k, v in net.state_dict().items() if k != "fc.bias"}
    with pytest.raises(ModelFileError) as e:
        load_model(saved(state))
    assert "no Linear head" in str(e.value) and "mapping={'linear': key}" in str(e.value)
    model = load_model(saved(state), mapping={"linear": "fc.weight"})
    x = torch.randint(0, 30, (2, 9))
    with torch.no_grad():
        expected = net.rnn(net.emb(x))[0][:, -1] @ net.fc.weight.T
    assert torch.equal(model.dense.bias, torch.zeros(1))
    torch.testing.assert_close(model(x), expected.squeeze(-1), rtol=0, atol=1e-6)


def torch_case(kind):
    """A state_dict rnnlab must refuse, and the words its error must hold."""
    torch.manual_seed(5)
    state = Net(nn.LSTM(4, 5, batch_first=True)).state_dict()
    if kind == "two layers":
        return Net(nn.LSTM(4, 5, num_layers=2)).state_dict(), ["rnn.weight_ih_l1", "one layer"]
    if kind == "bidirectional":
        return Net(nn.LSTM(4, 5, bidirectional=True), head_in=10).state_dict(), ["_reverse", "one direction"]
    if kind == "extra module":
        return {**state, "norm.weight": torch.ones(5), "norm.bias": torch.zeros(5)}, ["norm.weight", "not part of"]
    if kind == "nan":
        state["rnn.weight_hh_l0"][3, 1] = float("nan")
        return state, ["rnn.weight_hh_l0", "finite", "nan"]
    if kind == "integer weights":
        state["fc.weight"] = torch.ones(2, 5, dtype=torch.int64)
        return state, ["fc.weight", "float", "int64"]
    if kind == "huge view of one number":  # 8M+1 values claimed over a storage of one float: refused unread
        state["emb.weight"] = torch.zeros(1).expand(2**23 + 1, 4)
        return state, ["emb.weight", "8,388,608", "(8388609, 4)"]
    if kind == "two heads":
        return {**state, "aux.weight": torch.ones(2, 5), "aux.bias": torch.ones(2)}, ["could be the linear",
                                                                                      "fc.weight, aux.weight"]
    if kind == "too wide to measure":
        return Net(nn.RNN(4, modelfile.MAX_HIDDEN + 1)).state_dict(), ["hidden size must be at most 1,024", "1,025"]
    if kind == "not a state_dict":
        return [torch.zeros(3)], ["state_dict", "list"]
    if kind == "a tensor of the wrong shape":
        state["rnn.bias_hh_l0"] = torch.zeros(7)
        return state, ["'rnn.'", "LSTM", "bias_hh_l0"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["two layers", "bidirectional", "extra module", "nan", "integer weights",
                                  "huge view of one number", "two heads", "too wide to measure", "not a state_dict",
                                  "a tensor of the wrong shape"])
def test_a_state_dict_rnnlab_cannot_read_is_refused_naming_the_key(kind):
    state, words = torch_case(kind)
    with pytest.raises(ModelFileError) as e:
        load_model(saved(state))
    message = str(e.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_that_runs_code_is_refused_by_weights_only_and_a_bare_pickle_before_loading(capfd):
    with pytest.raises(ModelFileError, match="weights_only"):
        load_model(saved({"rnn.weight_ih_l0": Payload()}))
    buffer = io.BytesIO()
    torch.save(Net(nn.GRU(4, 5)).state_dict(), buffer, _use_new_zipfile_serialization=False)
    with pytest.raises(ModelFileError, match="bare pickle"):
        load_model(buffer.getvalue())
    assert "pwned" not in capfd.readouterr().out


def rezipped(data, compression=zipfile.ZIP_STORED, change=None):
    """The zip `data` written again member by member, `change(name, bytes)` → bytes or None (left out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            member = src.read(info)
            member = member if change is None else change(info.filename, member)
            if member is not None:
                dst.writestr(info.filename, member)
    return out.getvalue()


def test_a_compressed_torch_zip_is_refused_before_torch_reads_it():
    data = rezipped((FIXTURES / "torch_lstm.pt").read_bytes(), zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="uncompressed"):
        load_model(data)


# ---------------------------------------------------------------------------------------------- hostile Keras


def keras_file(config=None, h5=None, source=LECTURE):
    """The lecture's .keras with config.json changed by config(dict) and model.weights.h5 by h5(h5py.File)."""
    def change(name, member):
        if name == "config.json" and config is not None:
            cfg = json.loads(member)
            config(cfg)
            return json.dumps(cfg).encode()
        if name == "model.weights.h5" and h5 is not None:
            buffer = io.BytesIO(member)
            with h5py.File(buffer, "r+") as f:
                h5(f)
            return buffer.getvalue()
        return member
    return rezipped(source.read_bytes(), change=change)


def layer(cfg, name):
    return next(entry for entry in cfg["config"]["layers"] if entry["config"]["name"] == name)


def replace_dataset(path, value, **options):
    def edit(f):
        del f[path]
        f.create_dataset(path, data=value, **options)
    return edit


def hostile_keras(kind, tmp_path):
    if kind == "unsupported layer":
        return keras_file(config=lambda c: layer(c, "dense").update(class_name="Conv1D")), ["'dense'", "Conv1D"]
    if kind == "gru without reset_after":
        return (keras_file(config=lambda c: layer(c, "gru")["config"].update(reset_after=False),
                           source=FIXTURES / "keras_gru.keras"), ["'gru'", "reset_after=False"])
    if kind == "mask_zero":
        return keras_file(config=lambda c: layer(c, "embedding")["config"].update(mask_zero=True)), ["mask_zero"]
    if kind == "going backwards":
        return (keras_file(config=lambda c: layer(c, "simple_rnn")["config"].update(go_backwards=True)),
                ["'simple_rnn'", "go_backwards=True"])
    if kind == "multi-label sigmoid":
        return (keras_file(config=lambda c: layer(c, "dense")["config"].update(units=3),
                           h5=lambda f: (replace_dataset("layers/dense/vars/0", np.ones((8, 3), np.float32))(f),
                                         replace_dataset("layers/dense/vars/1", np.ones(3, np.float32))(f))),
                ["'sigmoid' on 3 units"])
    if kind == "not one chain":
        def branch(c):
            layer(c, "dense_3")["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "embedding_3"
        return keras_file(config=branch, source=FIXTURES / "keras_gru.keras"), ["one chain", "'embedding_3'"]
    if kind == "deep json":
        return rezipped(LECTURE.read_bytes(), change=lambda n, m: b"[" * 100_000 if n == "config.json" else m), \
            ["config.json", "JSON"]
    if kind == "nan weight":
        nan = np.full((8, 8), np.nan, np.float32)
        return keras_file(h5=replace_dataset("layers/simple_rnn/cell/vars/1", nan)), ["recurrent_kernel", "finite"]
    if kind == "integer weight":
        return (keras_file(h5=replace_dataset("layers/dense/vars/0", np.ones((8, 1), np.int32))),
                ["/layers/dense/vars/0", "floats", "int32"])
    if kind == "huge declared shape":  # a chunked dataset never written: a few KB that claim 4 TB
        return (keras_file(h5=replace_dataset("layers/embedding/vars/0", None, shape=(2**20, 2**20),
                                              dtype=np.float32, chunks=(1, 1024))),
                ["at most 8,388,608", "(1048576, 1048576)"])
    if kind == "external link":
        target = tmp_path / "elsewhere.h5"
        with h5py.File(target, "w") as f:
            f["vars/0"] = np.ones((200, 8), np.float32)

        def link(f):
            del f["layers/embedding"]
            f["layers/embedding"] = h5py.ExternalLink(str(target), "/")
        return keras_file(h5=link), ["ExternalLink", "layers/embedding/vars"]
    if kind == "soft link":
        def link(f):
            del f["layers/dense/vars/0"]
            f["layers/dense/vars/0"] = h5py.SoftLink("/layers/embedding/vars/0")
        return keras_file(h5=link), ["SoftLink"]
    if kind == "external storage":
        secret = tmp_path / "secret.bin"
        secret.write_bytes(np.ones(64, np.float32).tobytes())
        return (keras_file(h5=replace_dataset("layers/simple_rnn/cell/vars/1", None, shape=(8, 8), dtype=np.float32,
                                              external=[(str(secret), 0, 256)])), ["outside the file"])
    if kind == "virtual dataset":
        def virtual(f):
            source = h5py.VirtualSource(str(tmp_path / "other.h5"), "data", shape=(8, 8), dtype=np.float32)
            del f["layers/simple_rnn/cell/vars/1"]
            lay = h5py.VirtualLayout(shape=(8, 8), dtype=np.float32)
            lay[:] = source
            f.create_virtual_dataset("layers/simple_rnn/cell/vars/1", lay)
        return keras_file(h5=virtual), ["outside the file"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["unsupported layer", "gru without reset_after", "mask_zero", "going backwards",
                                  "multi-label sigmoid", "not one chain", "deep json", "nan weight",
                                  "integer weight", "huge declared shape", "external link", "soft link",
                                  "external storage", "virtual dataset"])
def test_a_keras_file_rnnlab_cannot_read_is_refused_with_one_line_naming_why(kind, tmp_path):
    data, words = hostile_keras(kind, tmp_path)
    with pytest.raises(ModelFileError) as e:
        load_model(data)
    message = str(e.value)
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


def zip_of(members, compression=zipfile.ZIP_DEFLATED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def lying_zip():
    """config.json of 2 MiB of spaces whose headers declare 10 bytes: the reader stops at what it declared and the
    CRC (of all 2 MiB) does not match."""
    data = bytearray(zip_of({"config.json": b" " * 2**21, "model.weights.h5": b""}))
    size = (2**21).to_bytes(4, "little")
    for at in [i for i in range(len(data) - 4) if data[i : i + 4] == size]:
        data[at : at + 4] = (10).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("data, words", [
    (zip_of({"../config.json": b"{}"}), ["relative paths", "../config.json"]),
    (zip_of({f"{i}": b"" for i in range(300)} | {"config.json": b"{}"}), ["at most 256 members", "301"]),
    (zip_of({"config.json": b"{}", "model.weights.h5": b"\0" * (64 * 2**20 + 1)}), ["unpack to at most"]),
    (lying_zip(), ["config.json"]),
    (zip_of({"config.json": b"{" * 10, "x": b""}), ["config.json", "JSON"]),
    (zip_of({"notes.txt": b"hello"}), ["neither config.json", "notes.txt"]),
    (b"PK\x03\x04 not really a zip", ["not a readable zip"]),
    (b"\x89HDF\r\n\x1a\n and no more", ["HDF5"]),
    (b"hello, world", ["not a model file", "hello, w"]),
    (b"", ["not a model file"]),
])
def test_zip_and_byte_tricks_are_refused_before_anything_large_is_read(data, words):
    with pytest.raises(ModelFileError) as e:
        load_model(data)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_an_h5_of_weights_only_is_refused_and_so_is_a_mapping_that_does_not_apply(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f["model_weights/dense/kernel"] = np.ones((2, 2), np.float32)
    with pytest.raises(ModelFileError, match="no model_config"):
        load_model(path)
    with pytest.raises(ValueError, match="PyTorch state_dicts only"):
        load_model(LECTURE, mapping={"head": "each"})
    with pytest.raises(ValueError, match="a mapping key must be one of 'embedding', 'rnn', 'linear'"):
        load_model(LECTURE, mapping={"layers": 2})
    with pytest.raises(ValueError, match="mapping\\['head'\\] must be one of 'last'"):
        load_model(LECTURE, mapping={"head": "first"})
    with pytest.raises(TypeError, match="mapping\\['rnn'\\] must be a state_dict key"):
        load_model(LECTURE, mapping={"rnn": 3})
    with pytest.raises(ValueError, match="applies to nn.RNN only"):
        load_model(FIXTURES / "torch_lstm.pt", mapping={"nonlinearity": "relu"})


def test_a_file_above_max_bytes_is_refused_from_its_size_and_a_fifo_without_waiting(tmp_path, monkeypatch):
    big = tmp_path / "big.keras"
    with open(big, "wb") as f:
        f.truncate(modelfile.MAX_BYTES + 1)  # sparse: no disk, no memory
    with pytest.raises(ModelFileError, match=f"at most {modelfile.MAX_BYTES:,} bytes, got {modelfile.MAX_BYTES + 1:,}"):
        load_model(big)

    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    monkeypatch.setattr(modelfile, "MAX_BYTES", 1000)  # read() is asked for 1,001 bytes, never the endless rest
    with pytest.raises(ModelFileError, match="at most 1,000 bytes"):
        load_model(io.BufferedReader(Endless()))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="regular file"):
        load_model(fifo)
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(TypeError, match="binary mode"):
        load_model(io.StringIO("text"))
    with pytest.raises(TypeError, match="path, bytes or a binary file object"):
        load_model(3)


# ---------------------------------------------------------------------------------------------- model_report


def test_model_report_of_a_linear_rnn_gives_the_closed_form_influence():
    """φ = identity: h_t = A_h·h_{t-1} + A_x·x_t, so ∂h_t/∂x_0 = A_h^t·A_x exactly, whatever the input; the
    report runs in float64, where its recursion and the matrix powers differ by rounding (≤ 1e-12 relative over
    40 products of 6×6 matrices of norm < 1)."""
    torch.manual_seed(6)
    model = SequenceClassifier(input_size=3, hidden_size=6, nonlinearity="linear", spectral_radius=0.9)
    report = model_report(model, length=40, seed=2)
    A_h, A_x = model.rnn.A_h.detach().double(), model.rnn.A_x.detach().double()
    expected = [torch.linalg.matrix_norm(torch.linalg.matrix_power(A_h, t) @ A_x).item() for t in range(40)]
    np.testing.assert_allclose(report.influence, expected, rtol=1e-12)
    # A_h is stored in float32: its eigenvalues move by about u·κ ≈ 6e-8·(a few) from the 0.9 it was scaled to
    assert report.length == 40 and report.spectrum.spectral_radius == pytest.approx(0.9, rel=1e-6)


def test_model_report_reads_a_flatten_model_at_its_own_length_only_and_bounds_the_length():
    model = load_model(FIXTURES / "keras_flatten.keras")
    assert model_report(model).length == 20
    with pytest.raises(ValueError, match="length must be 20"):
        model_report(model, length=30)
    with pytest.raises(ValueError, match="length must be <= 100000"):
        model_report(load_model(LECTURE), length=100_001)
