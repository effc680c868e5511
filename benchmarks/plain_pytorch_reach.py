"""The lesson checked with plain PyTorch (nn.RNN, nn.LSTM, nn.GRU), independently of rnnlab's models and trainer.

On rnnlab.tasks.marked_recall data (the same arrays rnnlab trains on), each step's token s_t + K·m_t fed as a
one-hot vector of 2K, a cell of `--hidden` units, a Dense read-out of h_{T-1}, Adam, gradient norm clipped,
batch 32: the test accuracy at each lag. `--init chrono` sets an LSTM's forget-gate bias to log U(1, T_max − 1)
and its input-gate bias to the negative (Tallec & Ollivier 2018); for a GRU the update gate's bias the same way.

    python benchmarks/plain_pytorch_reach.py --cell lstm --init chrono --lags 20 50 100

Prints one line per lag: cell, init, lag, T, test accuracy, seconds. The README's table of reach is checked
against this script's figures (benchmarks/README.md).
"""
import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from rnnlab.tasks import marked_recall


def build(cell, hidden, inputs, classes, init, t_max, seed):
    torch.manual_seed(seed)
    rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](inputs, hidden, batch_first=True)
    if cell == "rnn":
        nn.init.orthogonal_(rnn.weight_hh_l0)
    if cell == "lstm":  # PyTorch's gate order i, f, g, o; two intercepts, summed
        with torch.no_grad():
            rnn.bias_ih_l0.zero_(), rnn.bias_hh_l0.zero_()
            if init == "chrono":
                b_f = torch.log(torch.empty(hidden).uniform_(1, t_max - 1))
                rnn.bias_hh_l0[hidden:2 * hidden] = b_f
                rnn.bias_hh_l0[:hidden] = -b_f
            else:  # Keras: unit_forget_bias
                rnn.bias_hh_l0[hidden:2 * hidden] = 1.0
    if cell == "gru" and init == "chrono":  # gate order r, z, n; h_t = (1 − z)·n + z·h_{t−1}: z keeps h
        with torch.no_grad():
            rnn.bias_hh_l0[hidden:2 * hidden] = torch.log(torch.empty(hidden).uniform_(1, t_max - 1))
    return rnn, nn.Linear(hidden, classes)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm")
    p.add_argument("--init", choices=("default", "chrono"), default="default")
    p.add_argument("--lags", type=int, nargs="+", default=[20, 50, 100])
    p.add_argument("--prefix", type=int, default=10, help="distractor steps before the marked one: T = lag + 1 + prefix")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--symbols", type=int, default=8)
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    K = a.symbols
    for lag in a.lags:
        T = lag + 1 + a.prefix
        start = time.perf_counter()
        x, y = marked_recall(a.n_train, T, lag, K, seed=a.seed)
        xt, yt = marked_recall(1000, T, lag, K, seed=a.seed + 1000)
        rnn, head = build(a.cell, a.hidden, 2 * K, K, a.init, T, a.seed)
        params = list(rnn.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=a.lr)
        X, Y = torch.nn.functional.one_hot(torch.from_numpy(x), 2 * K).float(), torch.from_numpy(y)
        g = torch.Generator().manual_seed(a.seed)
        for _ in range(a.epochs):
            for idx in torch.randperm(len(X), generator=g).split(32):
                out, _ = rnn(X[idx])
                loss = nn.functional.cross_entropy(head(out[:, -1]), Y[idx])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
        with torch.no_grad():
            out, _ = rnn(torch.nn.functional.one_hot(torch.from_numpy(xt), 2 * K).float())
            acc = (head(out[:, -1]).argmax(1) == torch.from_numpy(yt)).float().mean().item()
        print(f"{a.cell:<5} {a.init:<8} lag {lag:>4}  T {T:>4}  test accuracy {acc:.3f}  "
              f"{time.perf_counter() - start:6.1f} s", flush=True)


if __name__ == "__main__":
    main()
