"""The lecture's own model at full size, trained by Keras 3 on the real IMDB reviews and saved by it as .keras
(scripts/lecture_keras_model.py writes lecture.keras and lecture.npz), read by rnnlab without TensorFlow.

Optional: runs where $RNNLAB_LECTURE_MODEL names the folder that script wrote (1.3 MB of weights and the reviews
are not part of the repository); skipped elsewhere. The oracle is Keras itself: its probabilities on the first
2,000 test reviews and its test accuracy, saved by the script from the model it loaded back from the file.
"""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab import load_model
from rnnlab.experiments import model_report
from test_dashboard import app, chart, find, open_page, traced  # noqa: F401 (fixtures)

FOLDER = os.environ.get("RNNLAB_LECTURE_MODEL", "")
pytestmark = pytest.mark.skipif(not FOLDER, reason="set RNNLAB_LECTURE_MODEL to scripts/lecture_keras_model.py's folder")


@pytest.fixture(scope="module")
def saved():
    return Path(FOLDER) / "lecture.keras", np.load(Path(FOLDER) / "lecture.npz")


def test_rnnlab_reads_the_trained_lecture_model_and_predicts_what_keras_predicted(saved):
    """Probabilities within 1e-4 of Keras' over 500 steps: both run float32 with other summation orders and tanh
    approximations, ~1e-7 relative a step; a trained state's Jacobian (‖∂h_t/∂h_{t-1}‖ near 1 for this model) lets
    the difference add up over the steps, 500·1e-7 = 5e-5 before the sigmoid (whose slope is ≤ 1/4)."""
    path, data = saved
    model = load_model(path)
    assert model.origin == "Keras 3 .keras: Embedding(10000, 32) → SimpleRNN(32) → Dense(1)"
    assert sum(p.numel() for p in model.parameters()) == 10000 * 32 + 32 * (32 + 32) + 32 + 33  # the lecture's 322,113
    with torch.no_grad():
        p = torch.sigmoid(model(torch.as_tensor(data["x"], dtype=torch.int64))).squeeze(-1).numpy()
    np.testing.assert_allclose(p, data["keras"].squeeze(-1), rtol=0, atol=1e-4)
    assert float(data["accuracy"]) > 0.75  # the lecture's ~84%: a trained model, not an untouched one
    assert ((p > 0.5) == data["y"]).mean() == pytest.approx(((data["keras"].squeeze(-1) > 0.5) == data["y"]).mean(),
                                                            abs=1 / 2000)


def test_its_memory_is_measured_and_the_dashboard_shows_it(saved, app):
    path, _ = saved
    report = model_report(load_model(path), 500, 0)
    assert len(report.influence) == 500 and np.isfinite(report.influence).all() and report.influence[0] > 0
    at = open_page(app, "your_model")
    at.file_uploader[0].set_value(("lecture.keras", path.read_bytes(), "application/octet-stream"))
    at.run()
    at = open_page(at, "memory_decay")
    radio = find(at.radio, "Model")
    radio.set_value(radio.options[-1]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    drawn = np.asarray(traced(chart(at, "Influence of x_0 on h_t"))["your model"]["y"], dtype=np.float64)
    assert len(drawn) > 1 and np.isfinite(drawn).all()
