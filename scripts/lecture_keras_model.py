"""Train the lecture's own Keras model on the real IMDB reviews and save it as Keras 3 saves it, for the optional
test that rnnlab reads a full-size trained .keras file (tests/test_lecture_model.py, run when
$RNNLAB_LECTURE_MODEL names the folder this script writes).

    Embedding(10000, 32) → SimpleRNN(32) → Dense(1, sigmoid), reviews cut or padded to 500 words,
    RMSprop lr 1e-3, batch 32, 3 epochs, 20% of the training reviews held out for validation

Not run by CI (it needs TensorFlow and Keras 3, and the reviews). Run it in a venv with tensorflow-cpu, keras 3 and
rnnlab's requirements, from the repository root:

    RNNLAB_IMDB_DIR=/path/to/imdb python scripts/lecture_keras_model.py OUT_DIR

Writes OUT_DIR/lecture.keras (model.save) and OUT_DIR/lecture.npz: the first 2,000 test reviews' ids, Keras'
probabilities for them (from the model loaded back from the file) and Keras' accuracy over all 25,000 test reviews.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from rnnlab import imdb  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else "lecture-model")
out.mkdir(parents=True, exist_ok=True)
data = imdb.load(num_words=10000, maxlen=500, download=False)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((500,), dtype="int32"), keras.layers.Embedding(10000, 32),
                          keras.layers.SimpleRNN(32), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["acc"])
model.fit(data.x_train, data.y_train, epochs=3, batch_size=32, validation_split=0.2, verbose=2)
model.save(out / "lecture.keras")
loaded = keras.saving.load_model(out / "lecture.keras")
_, accuracy = loaded.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
x = data.x_test[:2000]
np.savez_compressed(out / "lecture.npz", x=x, y=data.y_test[:2000], keras=loaded.predict(x, batch_size=256, verbose=0),
                    accuracy=accuracy)
print(f"test accuracy {accuracy:.4f}; wrote {out / 'lecture.keras'} and {out / 'lecture.npz'}")
