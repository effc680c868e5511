"""How long the lecture's own trained model remembers the first word of a review, measured with plain PyTorch only:
the arrays Keras 3 wrote into lecture.keras (read with h5py), copied into an nn.RNN, and ‖∂h_t/∂x_0‖_F by
torch.func.jacrev in float64, relative to t = 0. No rnnlab code is used, so the figures check rnnlab's.

    python benchmarks/plain_pytorch_lecture.py FOLDER    # FOLDER: what scripts/lecture_keras_model.py wrote

Three inputs, from the first 2,000 test reviews saved beside the model: the reviews as the model reads them, with
x_0 a padding zero for the reviews shorter than 500 words; the first word of a review of 100–400 words to the last
state h_499; and the first 300 words of the reviews that fill all 500 steps.
"""
import io
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "lecture-model")
with zipfile.ZipFile(folder / "lecture.keras") as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
    E = f["layers/embedding/vars/0"][()]
    W, U, b = (torch.tensor(f[f"layers/simple_rnn/cell/vars/{i}"][()], dtype=torch.float64) for i in range(3))
rnn = torch.nn.RNN(W.shape[0], W.shape[1], batch_first=True).double().requires_grad_(False)
rnn.weight_ih_l0.copy_(W.T), rnn.weight_hh_l0.copy_(U.T), rnn.bias_ih_l0.copy_(b), rnn.bias_hh_l0.zero_()
x_test = np.load(folder / "lecture.npz")["x"]
padding = (x_test == 0).sum(1)


def influence(ids):
    """‖∂h_t/∂x_0‖_F / ‖∂h_0/∂x_0‖_F for t = 0 … len(ids) − 1."""
    x = torch.tensor(E[ids], dtype=torch.float64)[None]
    J = torch.func.jacrev(lambda x0: rnn(torch.cat([x0[None, None], x[:, 1:]], 1))[0][0])(x[0, 0])
    n = J.flatten(1).norm(dim=1).numpy()
    return n / n[0]


print(f"ρ(A_h) = {np.abs(np.linalg.eigvals(U.numpy())).max():.4f}; padding zeros per review: median "
      f"{np.median(padding):.0f} of 500; reviews with none: {(padding == 0).sum()} of {len(x_test)}")
short = [i for i in range(len(x_test)) if 100 <= 500 - padding[i] <= 400][:40]
padded = np.array([influence(x_test[i]) for i in short[:10]])
print("x_0 = padding (10 reviews): median at t = 25, 50:", np.median(padded[:, [25, 50]], 0).round(6))
first = [influence(x_test[i][padding[i]:])[-1] for i in short]
print(f"first word → h_499 ({len(short)} reviews of 100–400 words): 10th, 50th, 90th percentiles",
      np.percentile(first, [10, 50, 90]).round(4))
full = np.array([influence(x_test[i][:300]) for i in range(len(x_test)) if padding[i] == 0][:40])
print(f"unpadded reviews ({len(full)}), first 300 words: median at t = 50, 100, 299:",
      np.median(full[:, [50, 100, 299]], 0).round(4), f"; below 1e-3 at t = 299: {(full[:, 299] < 1e-3).mean():.1%}")
