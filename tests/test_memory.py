"""Memory measurements against independent oracles, in float64: closed forms of linear RNNs, torch.func.jacrev and
per-step backward passes through the explicit `loop`, and numpy's linear algebra."""
import math
import time
import warnings

import numpy as np
import pytest
import torch

import rnnlab.memory as memory
from rnnlab.memory import (R2_MIN, fit_decay, gradient_curve, influence_curve, lyapunov_exponent,
                           memory_profile, perturbation_curve, recurrent_spectrum, saliency_curve)
from rnnlab.models import GRU, LSTM, SequenceClassifier, SimpleRNN
from rnnlab.trajectories import state_trajectory

D, H = 3, 5


def layer(kind, seed=0, **options):
    torch.manual_seed(seed)
    make = {"tanh": lambda: SimpleRNN(D, H, init="torch", **options),
            "relu": lambda: SimpleRNN(D, H, nonlinearity="relu", init="torch", **options),
            "lstm": lambda: LSTM(D, H, init="torch", **options),
            "gru": lambda: GRU(D, H, init="torch", **options)}
    return make[kind]().double()


def linear_rnn(a, input_size=D, hidden=H, A_h=None):
    """h_t = A_h·h_{t-1} + A_x·x_t with A_h = a·I unless given."""
    torch.manual_seed(1)
    rnn = SimpleRNN(input_size, hidden, nonlinearity="linear", bias=False).double()
    with torch.no_grad():
        rnn.A[:, :hidden] = a * torch.eye(hidden, dtype=torch.float64) if A_h is None else A_h
    return rnn


def classifier(cell="simple_rnn", head="last", num_classes=1, T=6):
    torch.manual_seed(2)
    return SequenceClassifier(vocab_size=11, embedding_dim=D, hidden_size=H, cell=cell, head=head, seq_len=T,
                              num_classes=num_classes, init="torch").double()


def tokens(B=3, T=6, seed=3):
    return torch.randint(11, (B, T), generator=torch.Generator().manual_seed(seed))


def floats(B=3, T=7, seed=4):
    return torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def loop_states(rnn, x):
    """(h_t, c_t) for every t by the explicit cell step (c_t = None except for the LSTM)."""
    h, c, out = x.new_zeros(x.shape[0], rnn.hidden_size), x.new_zeros(x.shape[0], rnn.hidden_size), []
    for t in range(x.shape[1]):
        if isinstance(rnn, LSTM):
            h, c = rnn.cell(x[:, t], h, c)
        else:
            h = rnn.loop(x[:, t : t + 1], h0=h)[:, 0]
        out.append((h, c if isinstance(rnn, LSTM) else None))
    return out


def jacrev_influence(rnn, x):
    """∂h_t/∂x_0 per sequence, (T, batch, hidden, input), by reverse mode through the explicit loop."""
    J = torch.func.jacrev(lambda x0: rnn.loop(torch.cat([x0[:, None], x[:, 1:]], dim=1)))(x[:, 0])
    return torch.stack([J[b, :, :, b] for b in range(x.shape[0])], dim=1).detach().numpy()


MODELS = ["tanh", "relu", "lstm", "gru", "gru_nobias", "lstm_nobias", "classifier_tokens", "classifier_lstm_tokens",
          "classifier_floats"]


def model_and_oracle(name):
    """(model, x, the recurrent layer, the float inputs x_t it reads)."""
    if name.startswith("classifier_floats"):
        torch.manual_seed(5)
        model = SequenceClassifier(input_size=D, hidden_size=H, cell="gru", init="torch").double()
        x = floats()
        return model, x, model.rnn, x
    if name.startswith("classifier"):
        model = classifier("lstm" if "lstm" in name else "simple_rnn")
        x = tokens()
        return model, x, model.rnn, model.embed(x).detach()
    kind, _, nobias = name.partition("_")
    model = layer(kind, bias=not nobias)
    x = floats()
    return model, x, model, x


# ------------------------------------------------------------------------------------------------ influence

@pytest.mark.parametrize("a", [0.9, -0.8, 1.05])
def test_influence_of_linear_rnn_decays_as_a_to_the_t(a):
    rnn = linear_rnn(a)
    curve = influence_curve(rnn, floats(T=40))
    expected = abs(a) ** np.arange(40) * torch.linalg.matrix_norm(rnn.A_x).item()
    np.testing.assert_allclose(curve, expected, rtol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_influence_jacobians_match_jacrev_through_the_loop(name):
    model, x, rnn, inputs = model_and_oracle(name)
    J = jacrev_influence(rnn, inputs)
    np.testing.assert_allclose(influence_curve(model, x, full=True), J, rtol=1e-8, atol=1e-14 * np.abs(J).max())
    np.testing.assert_allclose(influence_curve(model, x), np.linalg.norm(J, axis=(2, 3)).mean(1), rtol=1e-8)
    np.testing.assert_allclose(influence_curve(model, x, norm="spectral"),
                               np.linalg.norm(J, ord=2, axis=(2, 3)).mean(1), rtol=1e-8)


@pytest.mark.parametrize("name", ["tanh", "relu", "lstm", "gru", "classifier_tokens"])
def test_influence_is_unchanged_when_split_into_many_chunks(name, monkeypatch):
    """Chunks of 2 steps carry h (and c) across chunk borders: the same Jacobians as jacrev."""
    model, x, rnn, inputs = model_and_oracle(name)
    monkeypatch.setattr(memory, "CHUNK_ELEMENTS", 1)
    np.testing.assert_allclose(influence_curve(model, x, full=True), jacrev_influence(rnn, inputs), rtol=1e-8,
                               atol=1e-15)


def test_influence_over_20000_steps_matches_closed_form_and_takes_seconds():
    """A·x rotates and shrinks: A_h = a·Q with Q orthogonal gives ‖∂h_t/∂x_0‖_F = a^t·‖A_x‖_F exactly."""
    T, hidden, a = 20_000, 32, 0.9995
    Q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=torch.Generator().manual_seed(0),
                                       dtype=torch.float64))
    rnn = linear_rnn(a, input_size=4, hidden=hidden, A_h=a * Q)
    x = torch.randn(1, T, 4, dtype=torch.float64)
    expected = a ** np.arange(T) * torch.linalg.matrix_norm(rnn.A_x).item()
    np.testing.assert_allclose(influence_curve(rnn, x), expected, rtol=1e-9)
    tanh = SimpleRNN(4, hidden)
    start = time.perf_counter()
    curve = influence_curve(tanh, x.float())
    assert time.perf_counter() - start < 30
    np.testing.assert_allclose(curve[:50], influence_curve(tanh, x[:, :50].float()), rtol=1e-6)


def test_influence_warns_about_float32_overflow_and_suggests_float64():
    rnn = linear_rnn(2.0).float()
    with pytest.warns(RuntimeWarning, match="float64"):
        curve = influence_curve(rnn, floats(T=200).float())
    assert not np.isfinite(curve[-1]) and np.isfinite(curve[:100]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(influence_curve(rnn.double(), floats(T=200))).all()


def test_influence_rejects_bad_arguments():
    rnn = layer("tanh")
    with pytest.raises(ValueError, match="norm must be one of 'fro', 'spectral', got 'l1'"):
        influence_curve(rnn, floats(), norm="l1")
    with pytest.raises(ValueError, match="full=True.*10000000"):
        influence_curve(rnn, torch.zeros(1, 10**6, D, dtype=torch.float64), full=True)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, T, 3\)"):
        influence_curve(rnn, torch.zeros(1, 4, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="model must be"):
        influence_curve(torch.nn.Linear(3, 3), floats())
    with pytest.raises(TypeError, match="token ids"):
        influence_curve(classifier(), floats())


def test_influence_is_bounded_by_sigma_max_to_the_t():
    """Pascanu et al.: ‖J_t‖_F ≤ σ_max(A_h)^t·‖A_x‖_F for tanh (|φ'| ≤ 1), with equality for none of the steps."""
    rnn = layer("tanh", seed=7)
    curve = influence_curve(rnn, floats(T=30))
    bound = recurrent_spectrum(rnn).bound(30) * torch.linalg.matrix_norm(rnn.A_x).item()
    assert (curve <= bound * (1 + 1e-12)).all()


# ------------------------------------------------------------------------------------------------ perturbation

@pytest.mark.parametrize("name", MODELS)
def test_perturbation_curve_matches_two_explicit_loops(name):
    model, x, rnn, inputs = model_and_oracle(name)
    B = x.shape[0]
    if x.is_floating_point():
        alt = torch.randn(B, D, dtype=torch.float64)
        alt_inputs = inputs.clone()
        alt_inputs[:, 0] = alt
    else:
        alt = (x[:, 0] + 1) % 11
        alt_inputs = model.embed(torch.cat([alt[:, None], x[:, 1:]], dim=1)).detach()
    with torch.no_grad():
        expected = torch.linalg.vector_norm(rnn.loop(inputs) - rnn.loop(alt_inputs), dim=2).mean(0).numpy()
    np.testing.assert_allclose(perturbation_curve(model, x, alt), expected, rtol=1e-10, atol=1e-15)


def test_perturbation_of_linear_rnn_is_a_to_the_t_times_A_x_delta():
    rnn, x = linear_rnn(0.7), floats(B=1, T=20)
    delta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    expected = 0.7 ** np.arange(20) * torch.linalg.vector_norm(rnn.A_x @ delta).item()
    np.testing.assert_allclose(perturbation_curve(rnn, x, x[0, 0] + delta), expected, rtol=1e-10)


def test_perturbation_rejects_a_wrong_replacement():
    with pytest.raises(ValueError, match=r"x0_alt must be a float vector of shape \(3,\) or \(3, 3\)"):
        perturbation_curve(layer("tanh"), floats(), torch.zeros(4))
    with pytest.raises(ValueError, match="x0_alt must be a token id or 3 token ids"):
        perturbation_curve(classifier(), tokens(), 1.5)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\]"):
        perturbation_curve(classifier(), tokens(), 11)


# ------------------------------------------------------------------------------------------------ gradients

def restarted_gradients(rnn, inputs, loss):
    """∂L/∂h_t for every t by T backward passes: h_t becomes a leaf and the explicit loop restarts from it."""
    states, grads = loop_states(rnn, inputs), []
    for t, (h, c) in enumerate(states):
        leaf = h.detach().requires_grad_()
        before = [s[0].detach() for s in states[:t]]
        if t + 1 < inputs.shape[1]:
            extra = {"c0": c.detach()} if c is not None else {}
            after = rnn.loop(inputs[:, t + 1 :], h0=leaf, **extra)
            all_states = torch.cat([torch.stack(before + [leaf], 1), after], dim=1)
        else:
            all_states = torch.stack(before + [leaf], 1)
        (g,) = torch.autograd.grad(loss(all_states), leaf)
        grads.append(torch.linalg.vector_norm(g).item())
    return np.array(grads)


@pytest.mark.parametrize("name", ["tanh", "relu", "lstm", "gru"])
def test_gradient_curve_of_a_layer_matches_one_backward_pass_per_step(name):
    model, x, rnn, inputs = model_and_oracle(name)
    expected = restarted_gradients(rnn, inputs, lambda s: 0.5 * s[:, -1].pow(2).sum(1).mean())
    np.testing.assert_allclose(gradient_curve(model, x), expected, rtol=1e-10)


@pytest.mark.parametrize("cell, head, num_classes", [("simple_rnn", "last", 1), ("simple_rnn", "flatten", 4),
                                                     ("lstm", "flatten", 1), ("gru", "last", 3)])
def test_gradient_curve_of_a_classifier_matches_one_backward_pass_per_step(cell, head, num_classes):
    model, x = classifier(cell, head, num_classes), tokens()
    y = torch.tensor([0, 1, 0]) if num_classes > 1 else torch.tensor([0.0, 1.0, 1.0])
    expected = restarted_gradients(model.rnn, model.embed(x).detach(), lambda s: model.loss(model.head_output(s), y))
    curve = gradient_curve(model, x, y)
    np.testing.assert_allclose(curve, expected, rtol=1e-10)
    if head == "last":  # the gradient enters at h_{T-1} and comes back through A_h only: it shrinks
        assert curve[-1] > curve[0]


def test_gradient_of_linear_rnn_shrinks_by_a_per_step_backwards():
    a = 0.8
    curve = gradient_curve(linear_rnn(a), floats(T=25))
    np.testing.assert_allclose(curve[:-1] / curve[1:], a, rtol=1e-12)


def test_gradient_curve_takes_a_loss_on_the_states_and_validates_y():
    rnn, x = layer("gru"), floats()
    loss = lambda s: s[:, 2].sum()  # noqa: E731
    np.testing.assert_allclose(gradient_curve(rnn, x, loss=loss), restarted_gradients(rnn, x, loss), rtol=1e-10)
    with pytest.raises(ValueError, match="bare recurrent layer has no head, so y must be None"):
        gradient_curve(rnn, x, y=torch.ones(3))
    with pytest.raises(ValueError, match="y .* is required"):
        gradient_curve(classifier(), tokens())


@pytest.mark.parametrize("cell, head", [("simple_rnn", "last"), ("lstm", "flatten"), ("gru", "last")])
def test_saliency_matches_autograd_on_the_embeddings_through_the_loop(cell, head):
    model, x, y = classifier(cell, head), tokens(), torch.tensor([1.0, 0.0, 1.0])
    e = model.embed(x).detach().requires_grad_()
    (g,) = torch.autograd.grad(model.loss(model.head_output(model.rnn.loop(e)), y), e)
    np.testing.assert_allclose(saliency_curve(model, x, y), torch.linalg.vector_norm(g, dim=(0, 2)).numpy(),
                               rtol=1e-10)


def test_saliency_of_linear_rnn_is_gradient_through_A_x():
    """∂L/∂x_t = A_xᵀ·∂L/∂h_t for h_t = A_h·h_{t-1} + A_x·x_t: with A_x orthonormal columns, the same norm."""
    rnn = linear_rnn(0.9, input_size=H)
    with torch.no_grad():
        rnn.A[:, H:] = torch.linalg.qr(torch.randn(H, H, dtype=torch.float64))[0]
    x = torch.randn(2, 12, H, dtype=torch.float64)
    np.testing.assert_allclose(saliency_curve(rnn, x), gradient_curve(rnn, x), rtol=1e-10)


# ------------------------------------------------------------------------------------------------ fit_decay

def test_fit_decay_recovers_the_rate_of_an_exponential():
    t = np.arange(200)
    fit = fit_decay(3.0 * np.exp(-0.05 * t))
    assert fit.regime == "vanishing"
    assert fit.rate == pytest.approx(0.05, rel=1e-10) and fit.amplitude == pytest.approx(3.0, rel=1e-8)
    assert fit.time_constant == pytest.approx(20.0, rel=1e-10)
    assert fit.half_life == pytest.approx(math.log(2) / 0.05, rel=1e-10)
    assert fit.horizon == math.floor(math.log(1e3) / 0.05) + 1
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(fit.predict(t), 3.0 * np.exp(-0.05 * t), rtol=1e-8)


def test_fit_decay_stops_before_underflow_and_above_a_noise_floor():
    """exp(−t/2) underflows (subnormal, then 0) past t = 1416: the fit stops 100 times above the last normal value.
    exp(−t/10) + 1e-17·U(0, 1) flattens at the noise's median, 5e-18: the fit stops 100 times above it, where the
    noise moves log curve by ≤ 1%, and the rate comes out within 1e-3."""
    t = np.arange(2000)
    underflow = np.exp(-0.5 * t)
    last = int(np.flatnonzero(underflow >= np.finfo(np.float64).tiny)[-1])
    fit = fit_decay(underflow)
    assert fit.rate == pytest.approx(0.5, rel=1e-10) and fit.floor is None
    assert underflow[fit.stop - 1] > 100 * underflow[last] >= underflow[fit.stop]
    noisy = np.exp(-0.1 * t) + 1e-17 * np.random.default_rng(0).random(2000)
    fit = fit_decay(noisy, threshold=1e-6)
    assert fit.rate == pytest.approx(0.1, rel=1e-3) and fit.r2 > 0.999 and fit.regime == "vanishing"
    assert 2.5e-18 < fit.floor < 1e-17 and noisy[fit.stop - 1] > 100 * fit.floor
    assert fit.horizon == math.floor(math.log(1e6) / 0.1) + 1


def test_fit_decay_fits_an_exponential_above_its_floor_at_1e_minus_6():
    """exp(−t/20) + 1e-6 over 1,000 steps (issue 4: fitted through the floor, rate 0.41× the true one, r² 0.74).
    The fit stops where the curve comes within 100 times the floor, so log curve is off the exponential's line by
    ≤ log(1.01), decaying as e^(−0.05·(stop − t)) backwards: a least-squares slope moves by ≤ 0.06/(λ·W)² relative
    over a window of W steps (λ·W ≈ 8 here), < 1e-3. The floor is the mean of log curve where it is flat."""
    curve = np.exp(-0.05 * np.arange(1000)) + 1e-6
    fit = fit_decay(curve)
    assert fit.regime == "vanishing" and fit.rate == pytest.approx(0.05, rel=1e-3) and fit.r2 > 0.9999
    assert fit.floor == pytest.approx(1e-6, rel=0.05) and curve[fit.stop - 1] > 100 * fit.floor >= curve[fit.stop]


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_fit_decay_calls_a_power_law_a_power_law_with_its_exponent(p):
    """(1 + t)^−p is a line in log(1 + t): power_r2 = 1, power_exponent = p. The exponential fit leaves r² = 0.93
    (issue 4: called "vanishing", τ = 460): no time constant."""
    fit = fit_decay((1.0 + np.arange(1000)) ** -p)
    assert fit.regime == "power law" and fit.power_exponent == pytest.approx(p, rel=1e-10)
    assert fit.power_r2 == pytest.approx(1.0, abs=1e-12) and fit.r2 < R2_MIN + 0.05
    assert math.isnan(fit.time_constant) and math.isnan(fit.half_life) and fit.floor is None


def test_fit_decay_calls_a_damped_oscillation_not_exponential():
    """|cos(t/5)|·e^(−t/300): log curve swings by decades about its trend, neither line fits (r² < R2_MIN)."""
    t = np.arange(1000)
    fit = fit_decay(np.abs(np.cos(t / 5)) * np.exp(-t / 300))
    assert fit.regime == "not exponential" and fit.r2 < R2_MIN and fit.power_r2 < R2_MIN
    assert math.isnan(fit.time_constant) and math.isnan(fit.half_life)


def test_fit_decay_of_a_float32_perturbation_stops_above_the_rounding():
    """h_t = 0.8·h_{t-1} + A_x·x_t in float32 for x and x with x_0 nudged: their distance is 0.8^t·‖A_x·δ‖ until it
    nears float32's rounding of h_t (~6e-8·‖h_t‖), then noise, then 0 once the two float trajectories coincide.
    The fit stops 100 times above the last value before the 0, so the values it keeps err by ≲ 5% at its end
    (the last value may dip below the noise), decaying backwards: the rate is off by ≤ 0.6/(λ·W)², λ·W ≥ 10."""
    rnn, x = linear_rnn(0.8).float(), floats(B=4, T=400).float()
    curve = perturbation_curve(rnn, x, x[0, 0] + torch.tensor([1.0, -2.0, 0.5]))
    assert curve.dtype == np.float64 and curve[-1] == 0 and curve[0] > 1
    fit = fit_decay(curve)
    assert fit.regime == "vanishing" and fit.rate == pytest.approx(-math.log(0.8), rel=6e-3)
    assert fit.rate * (fit.stop - fit.start) >= 10


def test_fit_decay_skips_a_leading_transient():
    t = np.arange(300)
    fit = fit_decay(np.exp(-0.1 * t) + 5 * np.exp(-1.0 * t))
    assert fit.rate == pytest.approx(0.1, rel=1e-6)
    rise = np.minimum(np.exp(0.5 * (t - 10)), np.exp(-0.1 * (t - 10)))
    fit = fit_decay(rise)
    assert fit.start >= 10 and fit.rate == pytest.approx(0.1, rel=1e-10)


def test_fit_decay_is_honest_about_curves_that_do_not_decay():
    flat = fit_decay(np.full(100, 2.0))
    assert (flat.regime, flat.time_constant, flat.half_life, flat.horizon) == ("stable", math.inf, math.inf, None)
    assert abs(flat.rate) < 1e-15
    grow = fit_decay(np.exp(0.05 * np.arange(100)))
    assert grow.regime == "exploding" and grow.rate == pytest.approx(-0.05, rel=1e-10)
    assert grow.time_constant == math.inf and grow.horizon is None
    with np.errstate(over="ignore"):
        overflow = np.exp(0.5 * np.arange(200)).astype(np.float32)  # inf from t = 178 on
    with pytest.warns(RuntimeWarning, match="overflows to inf at t = 178"):
        fit = fit_decay(overflow)
    assert fit.regime == "exploding" and fit.stop == 178 and np.isinf(overflow[178]) and np.isfinite(overflow[177])
    assert fit.rate == pytest.approx(-0.5, rel=1e-5)
    gone = fit_decay([1.0, 0.0, 0.0, 0.0])
    assert gone.regime == "vanishing" and gone.rate == math.inf and gone.horizon == 1
    np.testing.assert_array_equal(gone.predict([0, 1, 2]), [1.0, 0.0, 0.0])


def test_fit_decay_rejects_bad_curves():
    for bad, match in [(np.ones((2, 2)), "1-D array"), ([1.0], "at least 2"), ([1.0, np.nan], "NaN"),
                       ([1.0, -1.0], "values >= 0"), ([0.0, 1.0], r"curve\[0\] must be finite and > 0")]:
        with pytest.raises(ValueError, match=match):
            fit_decay(bad)
    with pytest.raises(ValueError, match="threshold must lie in"):
        fit_decay([1.0, 0.5], threshold=2)


def test_fit_decay_reads_the_rate_of_a_linear_rnn_influence():
    fit = fit_decay(influence_curve(linear_rnn(0.9), floats(T=300)))
    assert fit.rate == pytest.approx(-math.log(0.9), rel=1e-10) and fit.regime == "vanishing"


# ------------------------------------------------------------------------------------------------ spectrum

@pytest.mark.parametrize("name", ["tanh", "lstm", "gru"])
def test_spectrum_is_numpys_eigenvalues_and_singular_values_per_gate_block(name):
    rnn = layer(name)
    spectrum = recurrent_spectrum(rnn)
    blocks = rnn.A_h.detach().numpy().reshape(-1, H, H)
    assert len(spectrum.gates) == len(spectrum.eigenvalues) == len(spectrum.singular_values) == len(blocks) * H
    for j, block in enumerate(blocks):
        mine = slice(j * H, (j + 1) * H)
        assert len(set(spectrum.gates[mine])) == 1
        np.testing.assert_allclose(np.sort_complex(spectrum.eigenvalues[mine]),
                                   np.sort_complex(np.linalg.eigvals(block)), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.sort(spectrum.singular_values[mine]), np.sort(np.linalg.svd(block)[1]),
                                   rtol=1e-12)
    assert spectrum.spectral_radius == pytest.approx(max(np.abs(np.linalg.eigvals(b)).max() for b in blocks))
    assert spectrum.sigma_max == pytest.approx(max(np.linalg.norm(b, 2) for b in blocks))
    np.testing.assert_allclose(spectrum.bound(5), spectrum.sigma_max ** np.arange(5), rtol=1e-15)


def test_spectrum_of_a_classifier_reads_its_layer_and_the_requested_radius():
    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=5, hidden_size=8, spectral_radius=0.7)
    spectrum = recurrent_spectrum(model)
    assert spectrum.spectral_radius == pytest.approx(0.7, rel=1e-6)
    assert tuple(spectrum.gates[:1]) == ("A_h",)


# ------------------------------------------------------------------------------------------------ Lyapunov

def test_lyapunov_exponent_of_scaled_rotation_is_log_a():
    Q, _ = torch.linalg.qr(torch.randn(H, H, dtype=torch.float64))
    assert lyapunov_exponent(linear_rnn(0.9, A_h=0.9 * Q), floats(T=50)) == pytest.approx(math.log(0.9), rel=1e-12)


def test_lyapunov_exponent_of_linear_rnn_tends_to_log_spectral_radius():
    g = torch.Generator().manual_seed(3)
    M = torch.randn(H, H, generator=g, dtype=torch.float64)
    A_h = (M + M.T) / 2
    A_h *= 0.95 / torch.linalg.eigvalsh(A_h).abs().max()
    rnn = linear_rnn(0, A_h=A_h)
    assert lyapunov_exponent(rnn, floats(T=2000)) == pytest.approx(math.log(0.95), abs=5e-3)


@pytest.mark.parametrize("name", ["tanh", "lstm", "gru"])
def test_lyapunov_exponent_matches_qr_of_jacrev_step_jacobians(name):
    """Oracle: the step Jacobians ∂(h_t, c_t)/∂(h_{t-1}, c_{t-1}) from jacrev of the explicit cell, multiplied with
    full QR re-orthonormalisation; the first diagonal entry of R gives the largest exponent."""
    rnn, x = layer(name, seed=11), floats(B=1, T=400)
    states = loop_states(rnn, x)
    Q, logs = torch.eye(2 * H if name == "lstm" else H, dtype=torch.float64), []
    for t in range(x.shape[1]):
        h, c = states[t - 1] if t else (x.new_zeros(1, H), x.new_zeros(1, H))
        if name == "lstm":
            M = torch.func.jacrev(lambda v: torch.cat(rnn.cell(x[:, t], v[None, :H], v[None, H:]), 1)[0])(
                torch.cat([h, c], 1)[0])
        else:
            M = torch.func.jacrev(lambda v: rnn.loop(x[:, t : t + 1], h0=v[None])[0, 0])(h[0])
        Q, R = torch.linalg.qr(M.detach() @ Q)
        logs.append(torch.log(R.diagonal().abs()))
    oracle = torch.stack(logs)[:, 0].mean().item()
    assert lyapunov_exponent(rnn, x) == pytest.approx(oracle, abs=0.02)


# ------------------------------------------------------------------------------------------------ trajectory

@pytest.mark.parametrize("name", ["tanh", "relu", "gru"])
def test_state_trajectory_is_the_loop_and_its_principal_components(name):
    model = layer(name, seed=5)
    if name != "relu":
        with torch.no_grad():
            model.A.mul_(3.0)  # saturate some units
    x = floats(B=2, T=40)
    traj = state_trajectory(model, x, n_components=3, index=1)
    h = model.loop(x).detach()[1].numpy()
    np.testing.assert_allclose(traj.states, h, rtol=1e-10, atol=1e-14)
    centred = h - h.mean(0)
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)  # oracle: the covariance's eigenvectors
    order = np.argsort(eigenvalues)[::-1][:3]
    np.testing.assert_allclose(np.abs(traj.pca), np.abs(centred @ vectors[:, order]), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(traj.explained_variance_ratio, eigenvalues[order] / eigenvalues.sum(), rtol=1e-8)
    expected = (h == 0).mean(1) if name == "relu" else (np.abs(h) > 0.99).mean(1)
    np.testing.assert_array_equal(traj.saturation, expected)
    assert traj.tokens is None


def test_state_trajectory_of_a_classifier_keeps_its_tokens():
    model, x = classifier(), tokens()
    traj = state_trajectory(model, x, index=2)
    np.testing.assert_array_equal(traj.tokens, x[2].numpy())
    words = [f"w{i}" for i in range(6)]
    assert list(state_trajectory(model, x, tokens=words).tokens) == words
    with pytest.raises(ValueError, match="n_components must be an int in"):
        state_trajectory(model, x, n_components=9)
    with pytest.raises(ValueError, match="index must be an int in"):
        state_trajectory(model, x, index=3)


# ------------------------------------------------------------------------------------------------ memory profile

def held_out_sd(hidden, n, lags=1, test_fraction=0.25):
    """The sampling sd of Σ_k r²_k over `lags` lags the network does not remember, for a state spanning `hidden`
    directions. At such a lag the held-out estimate Σ x̂·x / Σ x² sums n_held products of x̂ with an x independent
    of it (w_k was fitted on the other n_train sequences): mean 0, variance var(x̂)/n_held, and var(x̂) = w_kᵀ·Σ_h·w_k
    has expectation hidden/(n_train − hidden − 1) for a least-squares fit of noise (var x = 1). The lags' targets
    and read-outs are independent, so their variances add."""
    n_held = round(n * test_fraction)
    n_train = n - n_held
    return math.sqrt(lags * hidden / ((n_train - hidden - 1) * n_held))


def test_memory_profile_of_a_delay_line_recalls_exactly_hidden_lags():
    """h_t = (x_t, x_{t-1}, …, x_{t-H+1}): shift A_h, A_x = e_0. Lags < H: r² = 1 up to the ridge, which shrinks the
    read-out by ridge·(mean eigenvalue)/eigenvalue of the Gram of i.i.d. inputs, < 2·ridge; beyond: 0 ± 5 sd
    (held_out_sd). corr² would add ~1/n_held a lag: +0.38 over these 94."""
    hidden, lags, n = 6, 100, 1000
    shift = torch.diag(torch.ones(hidden - 1, dtype=torch.float64), -1)
    rnn = linear_rnn(0, input_size=1, hidden=hidden, A_h=shift)
    with torch.no_grad():
        rnn.A[:, hidden:] = torch.eye(hidden, 1, dtype=torch.float64)
    profile = memory_profile(rnn, range(lags), n=n)
    np.testing.assert_array_equal(profile.lags, np.arange(lags))
    assert (np.abs(profile.r2[:hidden] - 1) < 2e-6).all()
    assert (np.abs(profile.r2[hidden:]) < 5 * held_out_sd(hidden, n)).all()
    assert profile.capacity == pytest.approx(profile.r2.sum())
    assert abs(profile.capacity - hidden) < 5 * held_out_sd(hidden, n, lags - hidden) + hidden * 2e-6


def test_memory_capacity_of_a_network_without_memory_is_one_over_a_thousand_lags():
    """h_t = A_x·x_t (A_h = 0, one input): lag 0 is recalled exactly, no other lag at all, so the capacity is 1; the
    999 other lags add 0 ± 5 sd (held_out_sd, h spans one direction). corr² scored 3.04 here (issue 3)."""
    rnn = linear_rnn(0.0, input_size=1, hidden=8)
    profile = memory_profile(rnn, range(1000))
    assert abs(profile.r2[0] - 1) < 2e-6
    assert abs(profile.capacity - 1) < 5 * held_out_sd(1, 2000, 999) + 2e-6


def orthogonal_reservoir(hidden, a):
    """h_t = a·Q·h_{t-1} + v·x_t, Q orthogonal, v random (one input)."""
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=g, dtype=torch.float64))
    rnn = linear_rnn(0, input_size=1, hidden=hidden, A_h=a * Q)
    with torch.no_grad():
        rnn.A[:, hidden:] = torch.randn(hidden, 1, generator=g, dtype=torch.float64)
    return rnn


@pytest.mark.parametrize("hidden, a, lags", [(8, 0.95, 200), (32, 0.99, 400)])
def test_memory_capacity_of_an_orthogonal_linear_reservoir_is_its_size(hidden, a, lags):
    """Oracle: h_{T-1} = Σ_k m_k·x_{T-1-k} with m_k = A_h^k·A_x, so the best read-out of lag k recovers
    ρ²_k = m_kᵀ·(MMᵀ)⁻¹·m_k (M = [m_0 … m_{T-1}], var x = 1), and over all lags k < T the capacity is
    Σ_k ρ²_k = tr((MMᵀ)⁻¹·MMᵀ) = hidden: Jaeger's bound, reached. Tolerance: an estimate's variance is about
    (ρ² + ρ⁴ + (1 − ρ²)·hidden/n_train)/n_held (the held-out sum of x̂·x given w_k, Gaussian) plus
    ρ²·(1 − ρ²)/n_train (w_k's own error along m_k); 5 sd per lag, and for the sum with the lags taken as
    independent. corr² scored 29.2 for (32, 0.99): it loses ~hidden/n_train at each of the many lags held in part."""
    rnn, n = orthogonal_reservoir(hidden, a), 2000
    M = np.stack([np.linalg.matrix_power(rnn.A_h.detach().numpy(), k) @ rnn.A_x.detach().numpy()[:, 0]
                  for k in range(lags)], axis=1)
    rho2 = np.einsum("ik,ij,jk->k", M, np.linalg.inv(M @ M.T), M)
    assert rho2.sum() == pytest.approx(hidden, rel=1e-9)
    n_held = round(n * 0.25)
    n_train = n - n_held
    variance = (rho2 + rho2**2 + (1 - rho2) * hidden / n_train) / n_held + rho2 * (1 - rho2) / n_train
    profile = memory_profile(rnn, range(lags), n=n)
    assert (np.abs(profile.r2 - rho2) < 5 * np.sqrt(variance)).all()
    assert abs(profile.capacity - hidden) < 5 * math.sqrt(variance.sum())


def test_memory_profile_without_recurrence_remembers_only_the_present():
    rnn = linear_rnn(0.0)
    profile = memory_profile(rnn, [0, 1, 2], n=600, coordinate=1)
    assert profile.r2[0] > 0.99 and (profile.r2[1:] < 0.05).all()


def test_memory_profile_of_token_model_is_seeded_and_in_unit_range():
    model = classifier()
    first, again = memory_profile(model, [0, 3], n=200), memory_profile(model, [0, 3], n=200)
    np.testing.assert_array_equal(first.r2, again.r2)
    assert first.r2[0] > first.r2[1] and first.capacity == pytest.approx(first.r2.sum())
    with pytest.raises(ValueError, match="lags must be a non-empty 1-D sequence of ints >= 0"):
        memory_profile(model, [-1])
    with pytest.raises(ValueError, match="length must be an int > max"):
        memory_profile(model, [4], length=3)


def test_fit_decay_calls_a_curve_that_overflows_at_once_exploding():
    """Oracle: the definition; a curve that is inf from t = 1 on grew past float range, it did not decay."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = fit_decay(np.array([1.0, np.inf, np.inf], dtype=np.float32))
    assert fit.regime == "exploding" and fit.rate == -np.inf and fit.time_constant == np.inf


def test_spectrum_bound_scaled_by_the_first_influence_bounds_the_influence_curve():
    """Oracle: ‖∂h_t/∂x_0‖_F ≤ σ_max(A_h)^t·‖∂h_0/∂x_0‖_F (Pascanu et al. 2013, γ = 1 for tanh), on random tanh RNNs."""
    for seed in range(3):
        torch.manual_seed(seed)
        model = SimpleRNN(4, 8, init="torch", spectral_radius=0.95).double()
        x = torch.randn(3, 60, 4, dtype=torch.float64)
        curve = influence_curve(model, x)
        bound = recurrent_spectrum(model).bound(60, start=curve[0])
        assert bound[0] == curve[0] and np.all(curve <= bound * (1 + 1e-12))
