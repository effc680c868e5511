"""Gates: chrono initialisation of LSTM and GRU, the time constants their biases give, the gates along a sequence
(against PyTorch's documented gate equations on the same weights), their figure, and the State trajectories page."""
import csv
import io
import math

import numpy as np
import pytest
import torch

from rnnlab import plots, presets
from rnnlab.cli import main
from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN, gate_time_constants
from rnnlab.runs import RunConfig
from rnnlab.trajectories import state_trajectory
from test_dashboard import app, chart, find, open_page  # noqa: F401 (app is a fixture)

H = 400  # units: enough draws of u ~ U(1, T_max − 1) to pin its range and mean


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def seeded(cls, seed=0, **options):
    torch.manual_seed(seed)
    return cls(3, H, **options)


@pytest.mark.parametrize("t_max", [2, 50, 1000])
def test_chrono_lstm_forget_bias_is_log_uniform_and_input_bias_its_negative(t_max):
    """Oracle: the definition b_f = log u, u ~ U(1, T_max − 1), b_i = −b_f, b_g = b_o = 0.

    b is float32: log u is rounded to |δ| ≤ 2⁻²⁴·|log u| ≤ 2⁻²⁴·7 < 5e-7, so exp(b_f) = u·(1 ± 5e-7): the range is
    checked with that slack. The mean of H draws lies within 5 standard errors (T_max − 2)/√(12·H) of T_max/2."""
    model = seeded(LSTM, init="chrono", chrono_max=t_max)
    b = model.b.detach().double()
    b_i, b_f, b_g, b_o = b.split(H)
    u = b_f.exp()
    assert u.min() >= 1 - 5e-7 and u.max() <= (t_max - 1) * (1 + 5e-7)
    assert abs(u.mean().item() - t_max / 2) <= 5 * (t_max - 2) / math.sqrt(12 * H) + 1e-6
    assert torch.equal(b_i, -b_f) and not b_g.any() and not b_o.any()


def test_chrono_gru_sets_the_update_gate_bias_only():
    """Oracle: the definition b_z = log u on the z rows of b, every other intercept 0 (as "keras")."""
    model = seeded(GRU, init="chrono", chrono_max=100)
    b_r, b_z, b_n = model.b.detach().double().split(H)
    u = b_z.exp()
    assert u.min() >= 1 - 5e-7 and u.max() <= 99 * (1 + 5e-7)  # float32 rounding of log u, as for the LSTM
    assert not b_r.any() and not b_n.any() and not model.b_h.any()


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_chrono_is_reproducible_with_the_seed_and_keeps_the_keras_weights(cls):
    """Oracle: the same layer drawn again, and the "keras" layer of the same seed (chrono draws its biases after the
    weights, so A is Keras' exactly)."""
    a, again = seeded(cls, 3, init="chrono", chrono_max=100), seeded(cls, 3, init="chrono", chrono_max=100)
    other = seeded(cls, 4, init="chrono", chrono_max=100)
    assert torch.equal(a.b, again.b) and not torch.equal(a.b, other.b)
    assert torch.equal(a.A, seeded(cls, 3, init="keras").A)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_chrono_gate_keeps_sigma_log_u_of_the_memory_a_step(cls):
    """Oracle: one step of the layer's own equations (cell) with A = 0 and x = 0: the LSTM's c_1 = σ(b_f)·c_0 (its
    input branch σ(b_i)·tanh(b_g) = 0 as b_g = 0), the GRU's h_1 = z·h_0 (n = tanh(0) = 0), and σ(log u) = u/(1 + u)
    = 1 − 1/τ with τ = gate_time_constants. float64 throughout: ~1e-16 relative."""
    model = seeded(cls, init="chrono", chrono_max=300).double()
    with torch.no_grad():
        model.A.zero_()
    x, memory = torch.zeros(1, 3, dtype=torch.float64), rand(1, H)
    if cls is LSTM:
        _, kept = model.cell(x, torch.zeros_like(memory), memory)
    else:
        kept = model.cell(x, memory)
    u = model.b.detach()[H : 2 * H].exp()
    torch.testing.assert_close(kept[0], memory[0] * u / (1 + u), rtol=1e-13, atol=0)
    torch.testing.assert_close(kept[0], memory[0] * (1 - 1 / gate_time_constants(model)), rtol=1e-13, atol=0)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gate_time_constants_are_one_over_one_minus_sigma_of_the_bias(cls):
    """Oracle: τ = 1/(1 − σ(b_f)) with σ from torch.sigmoid, b_f the forget (LSTM) or z (GRU, b_z + b_h,z) intercept,
    on "torch" biases in ±1/√h. float64: 1 − σ(b) ≥ 0.2 here, its rounding ε/0.2 ≈ 1e-15 relative."""
    model = seeded(cls, init="torch")
    b_f = model.b.detach().double()[H : 2 * H] + (model.b_h.detach().double()[H : 2 * H] if cls is GRU else 0)
    assert b_f.abs().max() > 0.5 / math.sqrt(H)  # the biases are drawn, not zero
    torch.testing.assert_close(gate_time_constants(model), 1 / (1 - torch.sigmoid(b_f)), rtol=1e-13, atol=0)
    assert torch.equal(gate_time_constants(cls(3, 5, bias=False)), torch.full((5,), 2.0, dtype=torch.float64))


def test_gate_time_constants_of_keras_chrono_and_simple_rnn():
    """Oracle: keras' b_f = 1 gives τ = 1 + e; chrono's τ = 1 + u lies in [2, T_max]; a SimpleRNN has no gate."""
    torch.testing.assert_close(gate_time_constants(LSTM(3, 4)), torch.full((4,), 1 + math.e, dtype=torch.float64))
    tau = gate_time_constants(seeded(GRU, init="chrono", chrono_max=100))
    assert tau.min() >= 2 - 1e-6 and tau.max() <= 100 * (1 + 5e-7)  # float32 log u, see above
    assert gate_time_constants(SimpleRNN(3, 4)) is None
    with pytest.raises(TypeError, match="layer must be a SimpleRNN, LSTM or GRU, got SequenceClassifier"):
        gate_time_constants(SequenceClassifier(input_size=3))


def test_chrono_takes_t_max_from_the_sequence_length():
    assert SequenceClassifier(input_size=3, cell="lstm", init="chrono", seq_len=80).rnn.chrono_max == 80
    assert SequenceClassifier(input_size=3, cell="gru", init="chrono", seq_len=1).rnn.chrono_max == 2
    assert SequenceClassifier(input_size=3, cell="gru", init="chrono", seq_len=80, chrono_max=7).rnn.chrono_max == 7
    assert RunConfig(cell="lstm", init="chrono", length=50).build_model().rnn.chrono_max == 50


@pytest.mark.parametrize("make, words", [
    (lambda: SimpleRNN(3, 4, init="chrono"), ["init='chrono'", "simple_rnn", "'keras', 'torch'"]),
    (lambda: LSTM(3, 4, init="chrono"), ["chrono_max", "got None"]),
    (lambda: SequenceClassifier(input_size=3, cell="lstm", init="chrono"), ["chrono_max", "seq_len", "got None"]),
    (lambda: GRU(3, 4, init="chrono", chrono_max=1.5), ["chrono_max", "[2, inf)", "1.5"]),
    (lambda: GRU(3, 4, init="chrono", chrono_max=math.nan), ["chrono_max", "nan"]),
    (lambda: LSTM(3, 4, chrono_max=100), ["chrono_max applies to init='chrono'", "init='keras'"]),
    (lambda: SequenceClassifier(input_size=3, cell="gru", init="chrono", seq_len=0), ["seq_len", ">= 1", "0"]),
])
def test_chrono_refuses_what_it_cannot_do_naming_the_field(make, words):
    with pytest.raises(ValueError) as error:
        make()
    assert all(w in str(error.value) for w in words), str(error.value)


def test_a_simple_rnn_run_with_chrono_is_refused_where_it_is_configured(capsys, tmp_path):
    """A RunConfig refuses it (so a sweep skips the combination), and `rnnlab train` exits 2 with one line."""
    with pytest.raises(ValueError, match="init='chrono' applies to cell='lstm' or 'gru' only"):
        RunConfig(init="chrono")
    with pytest.raises(SystemExit) as e:
        main(["train", "--init", "chrono", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "rnnlab: error: init='chrono'" in err
    assert list(tmp_path.iterdir()) == []


def torch_gates(model, x):
    """Oracle: h_t from the explicit loop, and the gates from PyTorch's documented nn.LSTM / nn.GRU equations on
    weight_ih = A_x, weight_hh = A_h, bias_ih = b, bias_hh = 0 (LSTM) or b_h (GRU), one step at a time:
    LSTM i = σ(W_ii·x + b_ii + W_hi·h + b_hi), f likewise with W_if, W_hf; GRU z = σ(W_iz·x + b_iz + W_hz·h + b_hz)."""
    ref = getattr(torch.nn, type(model).__name__)(model.input_size, model.hidden_size, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(model.A_x), ref.weight_hh_l0.copy_(model.A_h), ref.bias_ih_l0.copy_(model.b)
        ref.bias_hh_l0.copy_(model.b_h if isinstance(model, GRU) else torch.zeros_like(model.b))
    states = model.loop(x)[0].detach()
    W_i, W_h, b_i, b_h = (p.detach() for p in (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0))
    n = model.hidden_size
    names = {"i": 0, "f": 1} if isinstance(model, LSTM) else {"z": 1}  # PyTorch's row blocks: i f g o, r z n
    gates = {name: [] for name in names}
    h = torch.zeros(n, dtype=torch.float64)
    for t in range(x.shape[1]):
        for name, k in names.items():
            rows = slice(k * n, (k + 1) * n)
            gates[name].append(torch.sigmoid(W_i[rows] @ x[0, t] + b_i[rows] + W_h[rows] @ h + b_h[rows]))
        h = states[t]
    return states.numpy(), {name: torch.stack(g).numpy() for name, g in gates.items()}


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_trajectory_gates_are_pytorchs_gate_equations_on_the_loops_states(cls):
    """float64, T = 40: the fused states differ from the loop's by a few ulp a step, ~1e-14 at most; the gates
    inherit that through σ' ≤ 1/4 and ‖A_h‖ ≈ 1: 1e-12 is ample."""
    torch.manual_seed(0)
    model = cls(3, 6, init="torch").double()
    x = rand(2, 40, 3)
    traj = state_trajectory(model, x, index=1)
    states, gates = torch_gates(model, x[1:2])
    np.testing.assert_allclose(traj.states, states, rtol=0, atol=1e-12)
    assert traj.gates.keys() == gates.keys()
    for name in gates:
        assert traj.gates[name].shape == (40, 6)
        np.testing.assert_allclose(traj.gates[name], gates[name], rtol=0, atol=1e-12)


def test_trajectory_gates_of_a_token_classifier_read_the_embeddings():
    """Oracle: the gates of its LSTM on the embedding rows E[token_t] looked up by hand."""
    torch.manual_seed(1)
    model = SequenceClassifier(vocab_size=9, embedding_dim=3, hidden_size=5, cell="lstm", init="chrono",
                               seq_len=30).double()
    ids = torch.randint(0, 9, (2, 30), generator=torch.Generator().manual_seed(2))
    traj = state_trajectory(model, ids, index=1)
    _, gates = torch_gates(model.rnn, model.embedding.weight.detach()[ids[1]].unsqueeze(0))
    for name in ("i", "f"):
        np.testing.assert_allclose(traj.gates[name], gates[name], rtol=0, atol=1e-12)
    assert state_trajectory(SimpleRNN(3, 4), rand(1, 5, 3)).gates is None


def rows(fig):
    return list(csv.DictReader(io.StringIO(plots.figure_data(fig))))


def test_gates_figure_draws_every_gate_per_unit_and_its_mean():
    """Oracle: the trajectory's arrays as given, and their mean over units summed by hand; figure_data writes floats
    that read back exactly, the mean agrees to the rounding of a sum of 5 terms (1e-15)."""
    torch.manual_seed(0)
    traj = state_trajectory(LSTM(3, 5, init="chrono", chrono_max=20).double(), rand(1, 7, 3))
    fig = plots.gates_figure(traj)
    data = rows(fig)
    for name, label in (("i", "input gate σ(i_t)"), ("f", "forget gate σ(f_t)")):
        cells = [r for r in data if r["trace"] == label]
        assert len(cells) == 7 * 5
        for r in cells:
            assert float(r["z"]) == traj.gates[name][int(r["x"]), int(r["y"])]
        mean = [float(r["y"]) for r in data if r["trace"] == f"mean {label}"]
        by_hand = [sum(traj.gates[name][t]) / 5 for t in range(7)]
        np.testing.assert_allclose(mean, by_hand, rtol=1e-15, atol=0)
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert fig.layout.xaxis3.title.text == "time step t" and fig.layout.yaxis.title.text == "hidden unit i (index)"
    assert fig.layout.yaxis3.title.text == "mean gate (0 … 1)"


def test_gates_figure_of_a_gru_labels_its_steps_and_refuses_a_simple_rnn():
    torch.manual_seed(0)
    traj = state_trajectory(GRU(3, 4).double(), rand(1, 6, 3), tokens=list("abcdef"))
    fig = plots.gates_figure(traj)
    assert [t.name for t in fig.data] == ["update gate z_t (keeps h_{t−1})", "mean update gate z_t (keeps h_{t−1})"]
    assert [r["text"] for r in rows(fig)[:6]] == list("abcdef")
    assert fig.layout.xaxis2.title.text == "token at time step t"
    with pytest.raises(ValueError, match="a SimpleRNN has no gates"):
        plots.gates_figure(state_trajectory(SimpleRNN(3, 4), rand(1, 6, 3)))
    with pytest.raises(ValueError, match=r"one shape \(T, hidden\)"):
        plots.gates_figure({"i": np.zeros((3, 2)), "f": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="one word per time step, T = 6, got 2"):
        plots.gates_figure(traj, tokens=["a", "b"])


@pytest.mark.parametrize("name, gates", [("LSTM, same state size", ("i", "f")), ("GRU, same state size", ("z",))])
def test_trajectories_page_shows_the_gates_of_the_shown_input(app, name, gates):  # noqa: F811 (the fixture)
    """Oracle: state_trajectory of the preset at initialisation on the same sequence, called directly."""
    at = open_page(app, "trajectories")
    find(at.selectbox, "Preset configuration").set_value(name).run()
    find(at.select_slider, "Length T").set_value(50)
    find(at.number_input, "Random sequence (seed)").set_value(2)
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    config = presets.preset(name)
    traj = state_trajectory(config.build_model().eval(), presets.sample_input(config, 50, 2)[0])
    figure = chart(at, "Gates over time")
    heatmaps = [t for t in figure["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == len(gates)
    for trace, gate in zip(heatmaps, gates):
        # the page's own computation, on this machine: equal but for the JSON's encoding, which keeps float64
        np.testing.assert_allclose(np.asarray(trace["z"]), traj.gates[gate].T, rtol=1e-15, atol=0)


def test_trajectories_page_has_no_gates_for_a_simple_rnn(app):  # noqa: F811 (the fixture)
    at = open_page(app, "trajectories")
    titles = [f.proto.spec for f in at.get("plotly_chart")]
    assert titles and not any("Gates over time" in t for t in titles)
