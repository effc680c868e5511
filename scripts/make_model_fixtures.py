"""Make the model files tests/test_modelfile.py reads: small Keras 3 and PyTorch models saved by the frameworks
themselves, each beside an .npz of fixed inputs and the outputs the framework computed on them (Keras: the model
it loads back from the file).

Not run by CI (it needs TensorFlow and Keras 3). Run it once, from the repository root, in a venv with
tensorflow-cpu, keras 3, h5py and torch:

    python scripts/make_model_fixtures.py [tests/fixtures/models]

Every model reads token ids (or float vectors) of a fixed seed; the ids include the padding zeros that Keras'
pad_sequences puts in front, and the models without a fixed length also read two sequences of 500 steps, the
lecture's review length. Outputs are what the framework's own model returns: Keras' probabilities after the Dense
activation, PyTorch's Linear outputs. The lecture's model (Embedding → SimpleRNN → Dense(1, sigmoid)) is trained
for two epochs first, so that its weights are a trained model's; the others get random N(0, 0.4²) weights, so
that every bias and gate block differs from its initialisation.
"""
import os
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

VOCAB, EMBED, HIDDEN, LENGTH = 200, 8, 8, 20  # the lecture's 10000, 32, 32, 500, shrunk to keep the files small
rng = np.random.default_rng(0)


def token_inputs(length=LENGTH, batch=4):
    """Random ids, with the padding zeros of shorter reviews in front (batch row b has b·3 zeros)."""
    x = rng.integers(1, VOCAB, size=(batch, length))
    for b in range(batch):
        x[b, : 3 * b] = 0
    return x.astype(np.int32)


def float_inputs(length, batch, size=3):
    """N(0, 1) vectors rounded to eighths, so that their .npz compresses."""
    return (np.round(rng.normal(size=(batch, length, size)) * 8) / 8).astype(np.float32)


def randomise(model):
    model.set_weights([rng.normal(0.0, 0.4, w.shape).astype(w.dtype) for w in model.get_weights()])


def deflate(path):
    """The .keras zip rewritten with its members deflated: Keras stores them as they are, and HDF5's empty blocks
    make a tiny model's file 30 KB. Keras reads either."""
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            z.writestr(name, data)


def save_keras(model, out, name, inputs, as_written=False):
    """model saved as `name` (.keras, deflated unless as_written, or legacy .h5) and name.npz: every input x*
    beside the output y* of the model Keras loads back from the file."""
    model.save(out / name)
    if name.endswith(".keras") and not as_written:
        deflate(out / name)
    model = keras.saving.load_model(out / name)
    arrays = {}
    for key, x in inputs.items():
        arrays[key] = x
        arrays["y" + key[1:]] = np.asarray(model.predict(x, verbose=0), dtype=np.float32)
    np.savez_compressed(out / f"{name}.npz", **arrays)


def lecture(out):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED),
                              keras.layers.SimpleRNN(HIDDEN), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    x = rng.integers(1, VOCAB, size=(256, LENGTH))
    y = (x[:, -1] % 2).astype(np.float32)  # the parity of the last word: a SimpleRNN learns it in a few epochs
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    save_keras(model, out, "keras_lecture.keras", {"x": token_inputs(), "x_long": token_inputs(500, 2)},
               as_written=True)


def lecture_flatten(out):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(LENGTH,), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED),
                              keras.layers.SimpleRNN(HIDDEN, return_sequences=True), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    randomise(model)
    save_keras(model, out, "keras_flatten.keras", {"x": token_inputs()})


def lstm(out):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED),
                              keras.layers.LSTM(HIDDEN), keras.layers.Dropout(0.2),
                              keras.layers.Dense(3, activation="softmax")])
    randomise(model)
    save_keras(model, out, "keras_lstm.keras", {"x": token_inputs(), "x_long": token_inputs(500, 2)})


def gru_functional(out):
    keras.utils.set_random_seed(3)
    ids = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.GRU(HIDDEN)(keras.layers.Embedding(VOCAB, EMBED)(ids))  # reset_after=True, Keras' default
    model = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(h))
    randomise(model)
    save_keras(model, out, "keras_gru.keras", {"x": token_inputs(), "x_long": token_inputs(500, 2)})


def legacy_h5(out):
    """A float-input GRU in the legacy HDF5 format (model_config attribute, model_weights group)."""
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input(shape=(None, 3)), keras.layers.GRU(6),
                              keras.layers.Dense(2, activation="softmax")])
    randomise(model)
    save_keras(model, out, "keras_gru_legacy.h5", {"x": float_inputs(LENGTH, 4), "x_long": float_inputs(500, 2)})


class TokenModel(nn.Module):
    """Embedding → recurrent layer (batch_first=True) → Linear on its last state."""

    def __init__(self, rnn, classes):
        super().__init__()
        self.emb, self.rnn, self.fc = nn.Embedding(VOCAB, EMBED), rnn, nn.Linear(HIDDEN, classes)

    def forward(self, x):
        return self.fc(self.rnn(self.emb(x))[0][:, -1])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.gru = nn.Embedding(VOCAB, EMBED), nn.GRU(EMBED, HIDDEN)  # time-major


def save_torch(module, out, name, inputs, forward):
    torch.save(module.state_dict(), out / name)
    arrays = {}
    with torch.no_grad():
        for key, x in inputs.items():
            arrays[key] = x
            x = torch.as_tensor(x)
            arrays["y" + key[1:]] = forward(x.long() if x.dtype == torch.int32 else x).numpy()
    np.savez_compressed(out / f"{name}.npz", **arrays)


def torch_models(out):
    torch.manual_seed(0)
    model = TokenModel(nn.LSTM(EMBED, HIDDEN, batch_first=True), 1)
    save_torch(model, out, "torch_lstm.pt", {"x": token_inputs(), "x_long": token_inputs(500, 2)}, model)

    # nested names and a time-major GRU: encoder.embed.weight, encoder.gru.weight_ih_l0, …, classifier.weight
    gru = nn.Module()
    gru.encoder, gru.classifier = Encoder(), nn.Linear(HIDDEN, 3)
    save_torch(gru, out, "torch_gru.pt", {"x": token_inputs(), "x_long": token_inputs(500, 2)},
               lambda x: gru.classifier(gru.encoder.gru(gru.encoder.embed(x.T))[0][-1]))

    # float inputs, no embedding, a head on all 20 states flattened
    rnn = nn.Module()
    rnn.rnn, rnn.out = nn.RNN(3, 6, batch_first=True), nn.Linear(6 * LENGTH, 2)
    save_torch(rnn, out, "torch_rnn_flatten.pt", {"x": float_inputs(LENGTH, 4)},
               lambda x: rnn.out(rnn.rnn(x)[0].reshape(len(x), -1)))


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for make in (lecture, lecture_flatten, lstm, gru_functional, legacy_h5, torch_models):
        make(out)
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size:>8,}  {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent / "tests" / "fixtures" / "models")
