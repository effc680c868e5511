"""Training-step speed of the lecture's model, rnnlab against its baselines, measured side by side in one process.

Workload (issue 6): batch 32, 500 steps, Embedding(10000, 32) → SimpleRNN(32) → Dense(1), RMSprop, binary
cross-entropy; forward + backward + optimizer step. Rows run interleaved, round after round, and the table reports
medians and each baseline's time divided by rnnlab's (> 1: rnnlab is faster). Also inference at batch 256.

Baselines: PyTorch's nn.RNN (fused forward, autograd backward) with its default settings and with denormals
flushed; a Python loop over steps; Keras 3 on TensorFlow with XLA, if tensorflow is installed
(`pip install tensorflow-cpu`), else it says so.

Then the same training step with an LSTM and a GRU (issue 15) at hidden 32 and 128: rnnlab (its loops and BPTT in
C) against nn.LSTM / nn.GRU and Keras' LSTM / GRU (reset_after=True, its default) with XLA.

    python benchmarks/bench_train.py [--rounds 15] [--threads 1] [--quick] [--cells simple_rnn,lstm,gru]

The row "rnnlab, products in torch's (MKL)" is the same step with rnnlab.gemm's oneDNN products switched off (as
RNNLAB_GEMM=torch does; the weight gradients are still summed in C).
"""
import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab import gemm, kernel
from rnnlab.models import flush_denormals
from rnnlab.train import keep_freed_memory

V, T, E, H, B = 10000, 500, 32, 32, 32


def rnnlab_step(head, x, y, cell="simple_rnn", hidden=H, onednn=True):
    """onednn=False: the same step with gemm's products in torch's (MKL on x86), gemm.ONEDNN off meanwhile."""
    keep_freed_memory()  # as fit and evaluate do (for the whole process: every row gets it)
    torch.manual_seed(0)
    model = rnnlab.SequenceClassifier(vocab_size=V, embedding_dim=E, hidden_size=hidden, head=head, seq_len=T,
                                      cell=cell)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)

    def step():  # as rnnlab.fit takes it: denormals flushed while training
        was, gemm.ONEDNN = gemm.ONEDNN, gemm.ONEDNN and onednn
        try:
            with flush_denormals():
                opt.zero_grad()
                model.loss(model(x), y).backward()
                opt.step()
        finally:
            gemm.ONEDNN = was

    def infer(xb):
        was, gemm.ONEDNN = gemm.ONEDNN, gemm.ONEDNN and onednn
        try:
            return model(xb)
        finally:
            gemm.ONEDNN = was
    return step, infer


TORCH_LAYERS = {"simple_rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def torch_rnn_step(head, x, y, flush=False, loop=False, cell="simple_rnn", hidden=H):
    torch.manual_seed(0)
    emb, rnn = torch.nn.Embedding(V, E), TORCH_LAYERS[cell](E, hidden, batch_first=True)
    dense = torch.nn.Linear(hidden * (T if head == "flatten" else 1), 1)
    params = [*emb.parameters(), *rnn.parameters(), *dense.parameters()]
    opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)

    def states(xb):
        e = emb(xb)
        if not loop:
            return rnn(e)[0]
        h, out = e.new_zeros(e.shape[0], hidden), []
        for t in range(e.shape[1]):
            h = torch.tanh(e[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
            out.append(h)
        return torch.stack(out, 1)

    def forward(xb):
        s = states(xb)
        return dense(s[:, -1] if head == "last" else s.reshape(s.shape[0], -1)).squeeze(-1)

    def step():
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(forward(x), y).backward()
        if flush:
            with flush_denormals():
                opt.step()
        else:
            opt.step()
    if flush:
        def flushed():
            with flush_denormals():
                step()
        return flushed, forward
    return step, forward


def keras_step(head, x, y, cell="simple_rnn", hidden=H):
    try:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras
        import tensorflow as tf
    except ImportError:
        return None
    if not keras_step.threads_set:  # the same number of threads as torch; possible once, before TF's first op
        tf.config.threading.set_intra_op_parallelism_threads(torch.get_num_threads())
        tf.config.threading.set_inter_op_parallelism_threads(1)
        keras_step.threads_set = True
    recurrent = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    layers = [keras.layers.Embedding(V, E), recurrent(hidden, return_sequences=head == "flatten")]
    if head == "flatten":
        layers.append(keras.layers.Flatten())
    model = keras.Sequential(layers + [keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", jit_compile=True)
    xn, yn = x.numpy(), y.numpy()
    model.train_on_batch(xn[:B], yn[:B])  # compile outside the timing
    return (lambda: model.train_on_batch(xn, yn)), (lambda xb: model.predict_on_batch(xb.numpy()))


keras_step.threads_set = False


def compile_seconds():
    """A cold build of rnnlab's C kernel (no cache of ours or Zig's): what the first call on a new machine pays."""
    cc = kernel.compilers()
    if not cc:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ZIG_GLOBAL_CACHE_DIR"] = os.environ["ZIG_LOCAL_CACHE_DIR"] = tmp
        try:
            start = time.perf_counter()
            kernel.build(cc[0], tmp)
            return time.perf_counter() - start
        finally:
            del os.environ["ZIG_GLOBAL_CACHE_DIR"], os.environ["ZIG_LOCAL_CACHE_DIR"]


def median_ms(samples):
    return 1000 * float(np.median(samples))


def measure(steps, rounds):
    """Medians over rounds, every row once a round. Each round starts one row later, so that every row follows
    every other equally often: a row run right after Keras' step finds the caches filled with Keras' data (the
    SimpleRNN's step, ~4 ms, took 1.2–1.6× as long there)."""
    times = {name: [] for name in steps}
    for name, step in steps.items():  # warm-up
        step()
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    return {name: median_ms(t) for name, t in times.items()}


def table(title, medians, ours="rnnlab"):
    print(f"\n{title}")
    print(f"{'implementation':<40} {'ms (median)':>12} {'÷ rnnlab':>9}")
    for name, ms in medians.items():
        print(f"{name:<40} {ms:>12.2f} {ms / medians[ours]:>9.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5 rounds, no Python loop")
    parser.add_argument("--cells", default="simple_rnn,lstm,gru", help="the layers to time, comma-separated")
    args = parser.parse_args()
    cells = args.cells.split(",")
    rounds = 5 if args.quick else args.rounds
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    seconds = compile_seconds()
    print("rnnlab's C kernel: " + ("no compiler (pip install ziglang): PyTorch loops" if seconds is None else
          f"{seconds:.1f} s to compile cold (once per machine), loaded: {kernel.load() is not None}"))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, V, (B, T), generator=g)
    y = torch.randint(0, 2, (B,), generator=g).float()
    x_infer = torch.randint(1, V, (256, T), generator=g)
    for head in ("last", "flatten") if "simple_rnn" in cells else ():
        builders = {"rnnlab": rnnlab_step(head, x, y),
                    "rnnlab, products in torch's (MKL)": rnnlab_step(head, x, y, onednn=False),
                    "nn.RNN (default)": torch_rnn_step(head, x, y),
                    "nn.RNN, denormals flushed": torch_rnn_step(head, x, y, flush=True)}
        if not args.quick:
            builders["Python loop over steps"] = torch_rnn_step(head, x, y, loop=True)
        keras = keras_step(head, x, y)
        if keras is None:
            print("\n(tensorflow/keras not installed: `pip install tensorflow-cpu` adds Keras+XLA to the table)")
        else:
            builders["Keras 3 + TensorFlow, XLA"] = keras
        table(f"training step, head={head!r}, batch {B}, {T} steps",
              measure({k: v[0] for k, v in builders.items()}, rounds))
        with torch.no_grad():
            table(f"inference, head={head!r}, batch 256, {T} steps",
                  measure({k: (lambda f=v[1]: f(x_infer)) for k, v in builders.items()}, rounds))
    for cell in (c for c in ("lstm", "gru") if c in cells):
        name = TORCH_LAYERS[cell].__name__
        for hidden in (32, 128):
            builders = {"rnnlab": rnnlab_step("last", x, y, cell, hidden),
                        "rnnlab, products in torch's (MKL)": rnnlab_step("last", x, y, cell, hidden, onednn=False),
                        f"nn.{name} (default)": torch_rnn_step("last", x, y, cell=cell, hidden=hidden),
                        f"nn.{name}, denormals flushed": torch_rnn_step("last", x, y, True, cell=cell, hidden=hidden)}
            keras = keras_step("last", x, y, cell, hidden)
            if keras is not None:
                builders[f"Keras 3 {name} + TensorFlow, XLA"] = keras
            table(f"training step, {cell}, hidden {hidden}, head='last', batch {B}, {T} steps",
                  measure({k: v[0] for k, v in builders.items()}, rounds))


if __name__ == "__main__":
    main()
