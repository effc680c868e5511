"""Where a training step of the lecture's model goes, each part as a ratio to the bare C loop, in one process.

Workload (issue 15 item 2): batch 32, 500 steps, Embedding(10000, 32) → SimpleRNN(32) → Dense(1) (head "last"),
RMSprop as rnnlab.fit builds it, binary cross-entropy. The floor is the C loop alone: the forward recurrence
h_t = φ(u_t + A_h·h_{t-1}) and its BPTT δ_t = (g_t + δ_{t+1}·A_h) ⊙ φ'(z_t) on buffers allocated once. Each part
of a full step is then timed on its own, as the step runs it, on the same tensors:

    table         E·A_xᵀ + b, one (10000 × 32)·(32 × 32) GEMM: the drive of every word (products through
                  rnnlab.gemm, as the library takes them)
    gather        u_t = table[token_t], time-major
    kernel fwd    the C forward through rnnlab's autograd Function
    head + loss   y = W·h_{T-1} + c, BCE
    backward      loss.backward(), whole; beneath it the parts it runs: the C backward, ∂L/∂A_h (one GEMM),
                  ∂L/∂table by index_add, ∂L/∂E = ∂L/∂table·A_x and ∂L/∂A_x = ∂L/∂tableᵀ·E, and what is left
                  of it, autograd's glue
    grad norm     fit's ‖g‖₂ (its divergence check)
    rmsprop       opt.step() over the 322,113 weights (320,000 of them the embedding's)
    zero_grad     opt.zero_grad()

and the whole step as fit takes it. Parts run interleaved, round after round, and medians are printed; on a shared
machine only these ratios mean anything (the load average is printed beside them).

    python benchmarks/profile_step.py [--rounds 200] [--threads 1]
"""
import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

import rnnlab
from rnnlab import gemm, kernel
from rnnlab.models import _Lookup, flush_denormals
from rnnlab.train import _gradient_norm, keep_freed_memory, make_optimizer

V, T, E, H, B = 10000, 500, 32, 32, 32


def parts():
    """{name: callable} for the floor, each part of a step and the whole step, all on one model and batch."""
    keep_freed_memory()  # as fit does
    torch.manual_seed(0)
    model = rnnlab.SequenceClassifier(vocab_size=V, embedding_dim=E, hidden_size=H)
    opt = make_optimizer("rmsprop", model.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, V, (B, T), generator=g)
    y = torch.randint(0, 2, (B,), generator=g).float()
    rnn, weight, lib = model.rnn, model.embedding.weight, kernel.load()
    if lib is None:
        raise SystemExit("the C kernel is unavailable (pip install ziglang): there is no floor to measure")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(model(x), y)
        loss.backward()
        _gradient_norm(model, exact=False)
        opt.step()

    step()  # every parameter now has a gradient and RMSprop its state
    with torch.no_grad():
        A_h, A_hT = rnn.A_h.contiguous(), rnn.A_h.T.contiguous()
        table = F.linear(weight, rnn.A_x, rnn.b)
        u0 = table[x.T]
    h0, states, delta = torch.zeros(B, H), torch.empty(T, B, H), torch.empty(T, B, H)
    grad_states = torch.zeros(T, B, H)
    grad_states[-1] = torch.randn(B, H)
    grad_table = torch.randn(V, H)

    def floor():
        states.copy_(u0)  # 2 MB, a few % of the loop: the forward overwrites its drive
        kernel.forward(lib, states, h0, A_hT, "tanh")
        kernel.backward(lib, states, grad_states, delta, A_h, "tanh")

    def projection():
        gemm.linear(weight, rnn.A_x, rnn.b)

    def gather():
        _Lookup.apply(x.T, table)

    def forward_kernel():
        u = u0.clone()
        start = time.perf_counter()
        rnn.recur(u)
        return time.perf_counter() - start

    def head_loss():
        model.loss(model.head_output(states_out), y)

    states_out = model.states(x).detach().requires_grad_()

    def backward():
        loss = model.loss(model(x), y)
        opt.zero_grad(set_to_none=True)  # as fit: autograd then writes each gradient rather than adding to it
        start = time.perf_counter()
        loss.backward()
        return time.perf_counter() - start

    def c_backward():
        kernel.backward(lib, states, grad_states, delta, A_h, "tanh")

    def grad_A_h():
        gemm.outer_sum(delta[1:].view(-1, H), states[:-1].view(-1, H))

    def grad_table_index_add():
        torch.zeros(V, H).index_add_(0, x.T.reshape(-1), delta.view(-1, H))

    def grad_E_A_x():
        gemm.linear(grad_table, rnn.A_x.detach().T), gemm.outer_sum(grad_table, weight.detach()), grad_table.sum(0)

    def grad_norm():
        _gradient_norm(model, exact=False)

    def rmsprop():
        opt.step()

    def zero_grad():
        grads = [p.grad for p in model.parameters()]
        opt.zero_grad(set_to_none=True)
        for p, g_ in zip(model.parameters(), grads):  # back for the next round of the other parts
            p.grad = g_

    return {"C loop (floor)": floor, "table E·A_xᵀ + b GEMM": projection, "gather u = table[ids]": gather,
            "kernel forward": forward_kernel, "head + loss": head_loss, "backward": backward,
            BACKWARD_PARTS[0]: c_backward, BACKWARD_PARTS[1]: grad_A_h, BACKWARD_PARTS[2]: grad_table_index_add,
            BACKWARD_PARTS[3]: grad_E_A_x, "grad norm (fit's check)": grad_norm, "rmsprop step": rmsprop,
            "zero_grad": zero_grad, "full step (fit's)": step}


BACKWARD_PARTS = ("  C backward", "  ∂L/∂A_h GEMM", "  ∂L/∂table index_add", "  ∂L/∂E, ∂L/∂A_x GEMMs, ∂L/∂b")


def measure(fns, rounds):
    """Median seconds of each callable, interleaved round after round; a callable that returns a number has timed
    itself (the part of it that counts)."""
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            own = fn()
            times[name].append(own if isinstance(own, float) else time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    with flush_denormals():
        medians = measure(parts(), args.rounds)
    floor = medians["C loop (floor)"]
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"{args.rounds} rounds, load average {load[0]:.2f} → {os.getloadavg()[0]:.2f}")
    print(f"{'part':<32} {'ms (median)':>12} {'÷ C loop':>9}")
    rows = {}
    for name, s in medians.items():
        rows[name] = s
        if name == BACKWARD_PARTS[-1]:
            rows["  autograd glue (the rest)"] = medians["backward"] - sum(medians[n] for n in BACKWARD_PARTS)
    whole = ("C loop (floor)", "full step (fit's)")
    rows["sum of the parts"] = sum(s for name, s in medians.items() if not name.startswith(" ") and name not in whole)
    for name, s in rows.items():
        print(f"{name:<32} {1000 * s:>12.3f} {s / floor:>9.2f}")


if __name__ == "__main__":
    main()
