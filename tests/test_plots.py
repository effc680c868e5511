"""Figures: the data drawn is the data given (the oracle is the input itself, and DecayFit.predict or its closed
form a·e^(−λt) for the fit), with labelled axes, log scales, line styles and colours as documented."""
import csv
import io
import math
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.experiments import DependencyProfile
from rnnlab.memory import MemoryProfile, fit_decay, influence_curve, recurrent_spectrum
from rnnlab.models import LSTM, SequenceClassifier, SimpleRNN
from rnnlab.params import summary
from rnnlab.plots import (FIELD_LABELS, PALETTE, STATISTICS, accuracy_vs_lag_figure, color_for, figure_data,
                          figure_html, gates_figure, gradient_figure, history_figure, influence_figure, memory_profile_figure, params_figure,
                          highlighted_text_html, perturbation_figure, saliency_figure, saturation_figure,
                          spectrum_figure, state_heatmap, summary_figure, trajectory_figure, window_accuracy_figure,
                          word_attribution_figure)
from rnnlab.tasks import chance_level
from rnnlab.train import History
from rnnlab.trajectories import state_trajectory


def linear_rnn(a, hidden=2):
    """h_t = a·h_{t−1} + e_0·x_t (A_h = a·I, A_x = e_0, b = 0): ∂h_t/∂x_0 = a^t·e_0, so ‖∂h_t/∂x_0‖ = a^t."""
    rnn = SimpleRNN(1, hidden, nonlinearity="linear").double()
    with torch.no_grad():
        rnn.A.zero_()
        rnn.A[:, :hidden] = a * torch.eye(hidden, dtype=torch.float64)
        rnn.A[0, hidden] = 1.0
        rnn.b.zero_()
    return rnn


def traces(fig, name):
    return [t for t in fig.data if t.name == name]


def trace(fig, name):
    (t,) = traces(fig, name)
    return t


def rows(fig):
    return list(csv.DictReader(io.StringIO(figure_data(fig))))


# ---------------------------------------------------------------------------------------------- decay curves

def test_influence_curves_are_drawn_as_given_on_a_log_axis():
    t = np.arange(30)
    curves = {"tanh": 0.9 ** t, "linear": 1.05 ** t}
    fig = influence_figure(curves)
    for name, y in curves.items():
        np.testing.assert_array_equal(trace(fig, name).y, y)
        np.testing.assert_array_equal(trace(fig, name).x, t)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "time step t"
    assert "∂h_t/∂x_0" in fig.layout.yaxis.title.text and "log scale" in fig.layout.yaxis.title.text
    assert fig.layout.title.text


def test_fit_is_dashed_in_the_curve_colour_and_equals_predict_on_its_range():
    """Oracle: the closed form a·e^(−λt) on [start, stop) with fit_decay's a and λ, and DecayFit.predict itself."""
    fit = fit_decay(2.0 * np.exp(-0.3 * np.arange(20)))
    fig = influence_figure({"tanh": 2.0 * np.exp(-0.3 * np.arange(20))}, fits={"tanh": fit})
    (line,) = [t for t in fig.data if t.name.startswith("tanh fit")]
    t = np.arange(fit.start, fit.stop)
    assert len(t) >= 10
    np.testing.assert_array_equal(line.x, t)
    np.testing.assert_allclose(line.y, fit.amplitude * np.exp(-fit.rate * t), rtol=1e-15)
    np.testing.assert_array_equal(line.y, fit.predict(t))
    assert line.line.dash == "dash" and line.line.color == trace(fig, "tanh").line.color and line.visible
    assert line.name == "tanh fit: rate 0.3/step, half-life 2.31 steps, r² 1.000"  # ln 2 / 0.3 = 2.31


@pytest.mark.parametrize("growth,label", [(1.1, "fit: rate -0.0953/step, doubling time 7.27 steps"),
                                          (1.0, "fit: rate 0/step, stable")])
def test_fit_label_gives_the_doubling_time_of_a_growing_curve(growth, label):
    """Oracle: rate = −ln 1.1 = −0.0953, doubling time ln 2 / ln 1.1 = 7.27 steps."""
    y = growth ** np.arange(30)
    fig = influence_figure({"relu": y}, fits={"relu": fit_decay(y)})
    assert fig.data[1].name.startswith("relu " + label) and fig.data[1].line.dash == "dash"


def test_a_fit_that_is_no_exponential_is_hidden_and_its_legend_says_why():
    """Oracle: (1 + t)^−1 is a power law of exponent 1 (log-log r² = 1) whose best exponential leaves r² = 0.928;
    |cos(t/5)|·e^(−t/300) is neither (fit_decay's r²). Both fits stay one click away (visible "legendonly"), with
    the same numbers as predict; the curves themselves are drawn."""
    t = np.arange(1000)
    curves = {"power": 1.0 / (1 + t), "wave": np.abs(np.cos(t / 5)) * np.exp(-t / 300)}
    fits = {name: fit_decay(y) for name, y in curves.items()}
    fig = influence_figure(curves, fits=fits)
    power, wave = (next(tr for tr in fig.data if tr.name.startswith(f"{name}: ")) for name in curves)
    assert power.name == "power: a power law ∝ (1 + t)^−1 (log-log r² 1.000), not exponential (r² 0.928): fit hidden"
    assert wave.name == f"wave: not exponential (r² {fits['wave'].r2:.3f}): fit hidden" and fits["wave"].r2 < 0.9
    for line, fit in ((power, fits["power"]), (wave, fits["wave"])):
        assert line.visible == "legendonly" and line.line.dash == "dash"
        np.testing.assert_array_equal(line.y, fit.predict(np.arange(fit.start, fit.stop)))
    assert trace(fig, "power").visible is None and trace(fig, "wave").visible is None


def test_influence_curve_of_a_linear_rnn_is_drawn_with_its_fit_and_spectral_bound():
    """Oracle: ‖∂h_t/∂x_0‖ = 0.8^t = σ_max^t for h_t = 0.8·h_{t−1} + e_0·x_t; the fit's rate is −ln 0.8."""
    rnn, T = linear_rnn(0.8), 40
    curve = influence_curve(rnn, torch.randn(3, T, 1, dtype=torch.float64))
    fig = influence_figure({"linear": curve}, fits={"linear": fit_decay(curve)},
                           bounds={"linear": recurrent_spectrum(rnn).bound(T)})
    np.testing.assert_allclose(trace(fig, "linear").y, 0.8 ** np.arange(T), rtol=1e-12)
    np.testing.assert_allclose(trace(fig, "linear bound σ_max^t").y, 0.8 ** np.arange(T), rtol=1e-12)
    fit = fig.data[1]
    rate = -math.log(0.8)
    assert fit.name.startswith(f"linear fit: rate {rate:.3g}/step, half-life {math.log(2) / rate:.3g} steps")
    assert fit.line.dash == "dash"
    np.testing.assert_allclose(fit.y, 0.8 ** np.asarray(fit.x), rtol=1e-9)


def test_bound_is_dotted_in_the_curve_colour():
    """Oracle: σ_max^t computed here, t = 0..T-1."""
    sigma, T = 1.3, 12
    fig = influence_figure({"relu": 0.8 ** np.arange(T)}, bounds={"relu": sigma ** np.arange(T)})
    bound = trace(fig, "relu bound σ_max^t")
    np.testing.assert_allclose(bound.y, [sigma ** k for k in range(T)], rtol=1e-15)
    np.testing.assert_array_equal(bound.x, np.arange(T))
    assert bound.line.dash == "dot" and bound.line.color == trace(fig, "relu").line.color


def test_zero_inf_and_nan_keep_their_value_and_get_a_marker_on_the_axis_edge_with_a_legend_entry():
    """A log axis cannot draw 0, inf, nan: the curve keeps them (a gap), an ✕ sits at a tenth of the smallest drawn
    value (0, nan) or ten times the largest (inf), its hover naming the exact value; the legend names what the ✕ of
    each curve stand for, in the curve's group (hiding the curve hides them)."""
    y = np.array([1.0, 0.1, 0.0, np.inf, np.nan, 0.01])
    fig = influence_figure({"tanh": y}, bounds={"tanh": np.full(6, 4.0)})
    np.testing.assert_array_equal(trace(fig, "tanh").y, y)
    marks = trace(fig, "tanh: ✕ = 0, ∞, nan, off the log scale")
    np.testing.assert_array_equal(marks.x, [2, 3, 4])
    np.testing.assert_allclose(marks.y, [0.001, 40.0, 0.001])
    assert [re.match(r"value (\S+),", s).group(1) for s in marks.text] == ["0", "inf", "nan"]
    assert marks.marker.color == trace(fig, "tanh").line.color and marks.showlegend is not False
    assert marks.legendgroup == trace(fig, "tanh").legendgroup == "tanh"
    assert [t.name for t in fig.data if "✕" in t.name] == [marks.name]  # the bound is drawable throughout
    underflow = influence_figure({"gru": np.array([1.0, 1e-300, 0.0, 0.0])})
    assert [t.name for t in underflow.data if "✕" in t.name] == ["gru: ✕ = 0, off the log scale"]


@pytest.mark.parametrize("make,quantity", [(gradient_figure, "∂L/∂h_t"), (perturbation_figure, "h′_t − h_t"),
                                           (saliency_figure, "∂L/∂x_t")])
def test_gradient_perturbation_and_saliency_figures_name_their_quantity(make, quantity):
    y = 0.7 ** np.arange(10)
    fig = make({"tanh": y})
    np.testing.assert_array_equal(trace(fig, "tanh").y, y)
    assert quantity in fig.layout.yaxis.title.text and quantity in fig.layout.title.text
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "time step t"


def test_the_perturbation_figure_says_where_float_precision_flattens_its_curves():
    """The floors are eps·‖h_t‖: eps = 2^−52 ≈ 2.2e−16 (float64), 2^−23 ≈ 1.2e−7 (float32), rounded to a decade."""
    (note,) = perturbation_figure({"tanh": 0.7 ** np.arange(10)}).layout.annotations
    assert "1e−16·‖h_t‖ (float64)" in note.text and "1e−7·‖h_t‖ (float32)" in note.text
    assert "float precision" in note.text
    assert not influence_figure({"tanh": 0.7 ** np.arange(10)}).layout.annotations


def test_a_single_curve_can_be_given_without_a_dict():
    y = 0.5 ** np.arange(8)
    fig = influence_figure(torch.tensor(y), fits=fit_decay(y))
    np.testing.assert_array_equal(trace(fig, "curve").y, y)
    assert any(t.name.startswith("curve fit") for t in fig.data)


def test_bad_curve_inputs_raise_errors_naming_the_argument():
    with pytest.raises(ValueError, match=r"curves\['a'\].*1-D.*\(2, 2\)"):
        influence_figure({"a": np.ones((2, 2))})
    with pytest.raises(ValueError, match="curves.*empty"):
        influence_figure({})
    with pytest.raises(TypeError, match=r"curves\['a'\].*real"):
        influence_figure({"a": np.ones(3) * 1j})
    with pytest.raises(ValueError, match=r"fits.*\['b'\].*\['a'\]"):
        influence_figure({"a": np.ones(3)}, fits={"b": fit_decay(np.ones(3))})
    with pytest.raises(TypeError, match=r"fits\['a'\].*'predict'"):
        influence_figure({"a": np.ones(3)}, fits={"a": SimpleNamespace(start=0, stop=3, regime="stable", rate=0.0,
                                                                      half_life=np.inf, r2=1.0)})


# ---------------------------------------------------------------------------------------------- states

def test_state_heatmap_shows_units_against_steps_centred_on_zero_with_each_token_in_the_hover():
    rng = np.random.default_rng(0)
    states = np.tanh(rng.normal(size=(5, 3)))
    tokens = ["this", "film", "<br />", "was", "great"]
    fig = state_heatmap(states, tokens)
    heat = fig.data[0]
    np.testing.assert_array_equal(heat.z, states.T)  # rows = hidden units, columns = time steps
    assert heat.zmid == 0 and (heat.zmin, heat.zmax) == (-1.0, 1.0)
    assert heat.colorscale[0][1] == "rgb(103,0,31)" and heat.colorscale[-1][1] == "rgb(5,48,97)"  # RdBu ends
    np.testing.assert_array_equal(heat.x, np.arange(5))
    # the axis counts steps (plotly's own ticks), the tokens are the hover's, every unit's row the same
    assert fig.layout.xaxis.ticktext is None and fig.layout.xaxis.tickmode is None
    assert [list(row) for row in heat.text] == [["this", "film", "&lt;br /&gt;", "was", "great"]] * 3
    assert "%{text}" in heat.hovertemplate and "t = %{x}" in heat.hovertemplate
    assert fig.layout.xaxis.title.text == "time step t" and "hidden unit i" in fig.layout.yaxis.title.text


def test_state_heatmap_widens_its_symmetric_range_beyond_tanh_and_rejects_a_token_count_not_t():
    states = np.linspace(-3.0, 2.0, 120 * 2).reshape(120, 2)  # relu-like values outside [−1, 1]
    fig = state_heatmap(SimpleNamespace(states=states, tokens=[f"w{i}" for i in range(120)]))
    heat = fig.data[0]
    assert (heat.zmin, heat.zmid, heat.zmax) == (-3.0, 0.0, 3.0)
    assert list(heat.text[1]) == [f"w{i}" for i in range(120)]
    assert state_heatmap(states).data[0].text is None
    with pytest.raises(ValueError, match="tokens.*T = 120.*3"):
        state_heatmap(states, tokens=["a", "b", "c"])


def test_state_heatmap_up_to_its_column_cap_draws_every_step_and_past_it_every_kth_step_saying_so():
    """Oracle: the states array indexed directly at the steps the columns name; k = ⌈T / 1000⌉ by hand."""
    rng = np.random.default_rng(0)
    states = np.tanh(rng.normal(size=(1001, 3)))
    fig = state_heatmap(states[:1000])  # at the cap: every step, as for a short input
    np.testing.assert_array_equal(fig.data[0].z, states[:1000].T)
    np.testing.assert_array_equal(fig.data[0].x, np.arange(1000))
    assert fig.layout.xaxis.title.text == "time step t"
    states[1] = [5.0, -1.0, 0.0]  # not drawn past the cap, still in the colour range
    tokens = [f"w{t}" for t in range(1001)]
    fig = state_heatmap(states, tokens=tokens)  # one step past it: k = 2
    heat = fig.data[0]
    np.testing.assert_array_equal(heat.x, [2 * j for j in range(501)])
    np.testing.assert_array_equal(heat.z, states[heat.x].T)
    assert [list(row) for row in heat.text] == [[tokens[t] for t in heat.x]] * 3
    assert (heat.zmin, heat.zmax) == (-5.0, 5.0)
    assert fig.layout.xaxis.title.text == "time step t (one step in 2: 501 of 1,001 drawn)"
    fig = state_heatmap(states[:25], max_columns=10)  # k = 3
    np.testing.assert_array_equal(fig.data[0].z, states[[0, 3, 6, 9, 12, 15, 18, 21, 24]].T)
    assert fig.layout.xaxis.title.text == "time step t (one step in 3: 9 of 25 drawn)"
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=f"max_columns must be an integer ≥ 1, got {bad!r}"):
            state_heatmap(states, max_columns=bad)


def test_gates_figure_past_its_column_cap_draws_heat_maps_means_and_words_at_every_kth_step():
    """Oracle: the gate arrays indexed directly at the steps the columns name, their mean over the 4 units summed by
    hand (agrees to the rounding of a sum of 4 terms in [0, 1], 1e-15)."""
    rng = np.random.default_rng(1)
    gates = {"i": rng.uniform(size=(23, 4)), "f": rng.uniform(size=(23, 4))}
    tokens = [f"w{t}" for t in range(23)]
    fig = gates_figure(gates, tokens=tokens, max_columns=5, max_ticks=3)  # k = ⌈23 / 5⌉ = 5
    steps = [0, 5, 10, 15, 20]
    for trace, gate in zip(fig.data, "if"):
        np.testing.assert_array_equal(trace.x, steps)
        np.testing.assert_array_equal(trace.z, gates[gate][steps].T)
        assert [list(row) for row in trace.text] == [[tokens[t] for t in steps]] * 4
    for trace, gate in zip(fig.data[2:], "if"):
        np.testing.assert_array_equal(trace.x, steps)
        np.testing.assert_allclose(trace.y, [sum(gates[gate][t]) / 4 for t in steps], rtol=1e-15, atol=0)
    assert fig.layout.xaxis3.title.text == "token at time step t (one step in 5: 5 of 23 drawn)"
    assert [tokens[t] for t in fig.layout.xaxis3.tickvals] == list(fig.layout.xaxis3.ticktext) == ["w0", "w10", "w20"]
    below = gates_figure(gates, tokens=tokens, max_columns=23)
    np.testing.assert_array_equal(below.data[0].z, gates["i"].T)
    assert below.layout.xaxis3.title.text == "token at time step t"


def test_trajectory_is_the_pca_path_coloured_by_time_with_explained_variance_on_the_axes():
    """Oracle: the Trajectory that state_trajectory returns, drawn as given."""
    torch.manual_seed(0)
    words = ["a", "film", "<br />", "that", "was", "not", "good"]
    traj = state_trajectory(SimpleRNN(3, 5), torch.randn(1, 7, 3), n_components=2, tokens=words)
    fig = trajectory_figure(traj)
    path = fig.data[0]
    assert path.type == "scatter" and path.mode == "lines+markers"
    np.testing.assert_array_equal(path.x, traj.pca[:, 0])
    np.testing.assert_array_equal(path.y, traj.pca[:, 1])
    np.testing.assert_array_equal(path.marker.color, np.arange(7))
    assert path.marker.colorbar.title.text == "time step t"
    assert list(path.text) == ["a", "film", "&lt;br /&gt;", "that", "was", "not", "good"]
    first, second = 100 * traj.explained_variance_ratio
    assert fig.layout.xaxis.title.text == f"PC1 of h_t ({first:.1f}% of variance)"
    assert fig.layout.yaxis.title.text == f"PC2 of h_t ({second:.1f}% of variance)"
    with pytest.raises(ValueError, match="trajectory.tokens.*T = 7.*got 2"):
        trajectory_figure(SimpleNamespace(pca=traj.pca, explained_variance_ratio=None, tokens=["a", "b"]))


def test_trajectory_with_three_components_is_drawn_in_3d_and_one_against_time():
    pca = np.random.default_rng(2).normal(size=(6, 3))
    fig = trajectory_figure(SimpleNamespace(pca=pca, explained_variance_ratio=np.array([0.5, 0.3, 0.125]),
                                            tokens=None))
    path = fig.data[0]
    assert path.type == "scatter3d"
    for axis, column in zip("xyz", pca.T):
        np.testing.assert_array_equal(getattr(path, axis), column)
    assert fig.layout.scene.zaxis.title.text == "PC3 of h_t (12.5% of variance)"
    fig = trajectory_figure(pca[:, :1])
    np.testing.assert_array_equal(fig.data[0].x, np.arange(6))
    np.testing.assert_array_equal(fig.data[0].y, pca[:, 0])
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("time step t", "PC1 of h_t")


def test_saturation_is_the_given_fraction_per_step():
    s = np.array([0.0, 0.25, 0.5, 1.0])
    for given in (s, SimpleNamespace(saturation=s)):
        fig = saturation_figure(given)
        np.testing.assert_array_equal(fig.data[0].y, s)
        np.testing.assert_array_equal(fig.data[0].x, np.arange(4))
    assert "fraction" in fig.layout.yaxis.title.text and fig.layout.xaxis.title.text == "time step t"
    torch.manual_seed(1)
    traj = state_trajectory(SimpleRNN(2, 4, nonlinearity="relu"), torch.randn(1, 9, 2))
    np.testing.assert_array_equal(saturation_figure({"relu": traj}).data[0].y, traj.saturation)


def test_spectrum_shows_eigenvalues_in_the_plane_with_the_unit_circle_at_equal_scale():
    """Oracle: a scaled rotation A_h has eigenvalues 0.9·e^(±iπ/4) and 0.5, and σ_max = 0.9."""
    rnn = linear_rnn(0.0, hidden=3)
    c = 0.9 * np.cos(np.pi / 4)
    with torch.no_grad():
        rnn.A[:, :3] = torch.tensor([[c, -c, 0.0], [c, c, 0.0], [0.0, 0.0, 0.5]], dtype=torch.float64)
    fig = spectrum_figure({"rotation": recurrent_spectrum(rnn)})
    points = trace(fig, "rotation: ρ = 0.9, σ_max = 0.9")
    drawn = np.sort_complex(np.asarray(points.x) + 1j * np.asarray(points.y))  # conjugate pairs: equal real parts
    np.testing.assert_allclose(drawn, [0.5, 0.9 * np.exp(-1j * np.pi / 4), 0.9 * np.exp(1j * np.pi / 4)], atol=1e-12)
    np.testing.assert_allclose(sorted(points.customdata), [0.5, 0.9, 0.9], atol=1e-12)
    circle = trace(fig, "unit circle |λ| = 1")
    np.testing.assert_allclose(np.hypot(circle.x, circle.y), 1.0)
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert "Re λ" in fig.layout.xaxis.title.text and "Im λ" in fig.layout.yaxis.title.text
    assert spectrum_figure(np.array([0.5, -2.0])).data[1].name == "A_h: ρ = 2"  # a bare array: ρ = max |λ|


def test_spectrum_of_an_lstm_names_the_gate_block_of_each_eigenvalue():
    spectrum = recurrent_spectrum(LSTM(2, 3))
    points = spectrum_figure(spectrum).data[1]
    assert list(points.text) == list("iiifffgggooo") and "block %{text}" in points.hovertemplate
    np.testing.assert_array_equal(points.x, spectrum.eigenvalues.real)


# ---------------------------------------------------------------------------------------------- profiles

def test_memory_profile_draws_r2_per_lag_with_the_capacity_in_the_legend():
    lags, r2 = np.arange(1, 6), np.array([0.99, 0.8, 0.5, 0.2, 0.05])
    fig = memory_profile_figure({"tanh": MemoryProfile(lags, r2, float(r2.sum()))})
    line = fig.data[0]
    np.testing.assert_array_equal(line.x, lags)
    np.testing.assert_array_equal(line.y, r2)
    assert line.name == "tanh (capacity 2.54)"
    assert fig.layout.xaxis.title.text == "lag k (steps)" and "r²" in fig.layout.yaxis.title.text


def test_accuracy_vs_lag_draws_accuracy_and_a_dashed_chance_line():
    lags, acc = np.array([1, 5, 10, 20]), np.array([1.0, 0.9, 0.6, 0.5])
    fig = accuracy_vs_lag_figure({"tanh": DependencyProfile(lags, acc, 0.5, hashes=("h1", "h5", "h10", "h20"))})
    np.testing.assert_array_equal(trace(fig, "tanh").y, acc)
    np.testing.assert_array_equal(trace(fig, "tanh").x, lags)
    chance = trace(fig, "chance 0.5")
    assert list(chance.y) == [0.5, 0.5] and list(chance.x) == [1, 20] and chance.line.dash == "dash"
    assert fig.layout.yaxis.title.text == "test accuracy (fraction)"
    assert fig.layout.xaxis.title.text == "lag k (steps)"
    assert not traces(fig, "tanh band")


def test_accuracy_vs_lag_draws_the_error_band_from_lower_and_upper():
    lags, acc = np.array([1, 2, 3]), np.array([0.95, 0.8, 0.7])
    lower, upper = acc - [0.02, 0.05, 0.1], acc + [0.01, 0.05, 0.1]
    fig = accuracy_vs_lag_figure({"gru": SimpleNamespace(lags=lags, accuracy=acc, chance=0.1, lower=lower,
                                                         upper=upper)})
    band = trace(fig, "gru band")
    np.testing.assert_array_equal(band.x, [1, 2, 3, 3, 2, 1])
    np.testing.assert_array_equal(band.y, np.concatenate([upper, lower[::-1]]))
    assert band.fill == "toself" and band.fillcolor == "rgba(31,119,180,0.2)"  # PALETTE[0] at alpha 0.2
    np.testing.assert_array_equal(trace(fig, "gru").customdata, np.stack([lower, upper], axis=1))
    assert list(trace(fig, "chance 0.1").y) == [0.1, 0.1]
    with pytest.raises(ValueError, match=r"profiles\['gru'\].lower and .upper.*3.*2 and 3"):
        accuracy_vs_lag_figure({"gru": SimpleNamespace(lags=lags, accuracy=acc, chance=0.1, lower=lower[:2],
                                                       upper=upper)})


# ---------------------------------------------------------------------------------------------- sweep summaries

T975 = {1: 12.706204736174707, 2: 4.302652729749464}  # t_{0.975,ν}: tan(0.475π) (Cauchy), 0.95·√(2/(1 − 0.95²))


def summary_row(statistic="test_accuracy", seeds=(), chance=0.125, **fields):
    """A row as rnnlab.sweeps.summarize writes it, computed here: numpy's mean and std (ddof=1) of the seeds'
    values and mean ± t_{0.975,n−1}·std/√n (nan for one seed, or a value that is not finite)."""
    v = np.array(seeds, dtype=np.float64)
    mean = v.mean()
    spread = len(v) > 1 and np.isfinite(v).all()
    std = v.std(ddof=1) if spread else math.nan
    half = T975[len(v) - 1] * std / math.sqrt(len(v)) if spread else math.nan
    return {**fields, "n": len(v), "chance": chance, "level": 0.95, f"{statistic}_mean": mean,
            f"{statistic}_std": std, f"{statistic}_lower": mean - half, f"{statistic}_upper": mean + half}


SEEDS = {("gru", 1): [0.9, 1.0], ("gru", 5): [0.5, 0.6, 0.7], ("lstm", 1): [1.0, 0.95, 0.97], ("lstm", 5): [0.7, 0.6]}


def lag_summary(statistic="test_accuracy"):
    return [summary_row(statistic, seeds, cell=cell, lag=lag) for (cell, lag), seeds in SEEDS.items()]


def test_summary_bars_stand_at_the_group_means_with_the_t_interval_as_error_bars():
    """Oracle: numpy's mean, std (ddof=1) and the closed-form t of ν = 1, 2, from the seeds' values."""
    fig = summary_figure(lag_summary(), by="cell", x="lag")
    assert [bar.type for bar in fig.data] == ["bar", "bar"] and [bar.name for bar in fig.data] == ["gru", "lstm"]
    for bar, color in zip(fig.data, PALETTE):
        seeds = [np.array(SEEDS[(bar.name, lag)]) for lag in (1, 5)]
        half = [T975[len(s) - 1] * s.std(ddof=1) / math.sqrt(len(s)) for s in seeds]
        assert list(bar.x) == ["lag = 1", "lag = 5"] and bar.marker.color == color
        np.testing.assert_allclose(bar.y, [s.mean() for s in seeds], rtol=1e-15)
        assert bar.error_y.type == "data" and bar.error_y.visible is True
        np.testing.assert_allclose(bar.error_y.array, half, rtol=1e-12)
        np.testing.assert_allclose(bar.error_y.arrayminus, half, rtol=1e-12)
        assert list(bar.text) == [f"{s.mean():.4g}, 95% interval [{s.mean() - h:.4g}, {s.mean() + h:.4g}], "
                                  f"{len(s)} seeds" for s, h in zip(seeds, half)]
        assert "%{text}" in bar.hovertemplate and f"cell = {bar.name}" in bar.hovertemplate
    assert fig.layout.barmode == "group" and fig.layout.legend.title.text == "cell"
    (chance,) = fig.layout.shapes
    assert (chance.y0, chance.y1, chance.line.dash) == (0.125, 0.125, "dash")
    assert "chance 0.125" in [a.text for a in fig.layout.annotations]
    assert fig.layout.title.text == "Test accuracy by cell at each lag: mean across seeds and its 95% interval"


def test_summary_error_bars_are_one_standard_deviation_or_none_as_chosen():
    """Oracle: numpy's std (ddof=1) of the seeds; band=None draws the same means with no error bar."""
    for bar in summary_figure(lag_summary(), x="lag", band="std").data:
        seeds = [np.array(SEEDS[(bar.name, lag)]) for lag in (1, 5)]
        std = [s.std(ddof=1) for s in seeds]
        np.testing.assert_allclose(bar.error_y.array, std, rtol=1e-12)
        np.testing.assert_allclose(bar.error_y.arrayminus, std, rtol=1e-12)
        assert list(bar.text) == [f"{s.mean():.4g}, ± 1 std [{s.mean() - d:.4g}, {s.mean() + d:.4g}], {len(s)} seeds"
                                  for s, d in zip(seeds, std)]
    fig = summary_figure(lag_summary(), x="lag", band=None)
    for bar in fig.data:
        assert bar.error_y.array is None and bar.error_y.arrayminus is None
        np.testing.assert_allclose(bar.y, [np.mean(SEEDS[(bar.name, lag)]) for lag in (1, 5)], rtol=1e-15)
        assert all("interval" not in t and "std" not in t for t in bar.text)
    assert fig.layout.title.text == "Test accuracy by cell at each lag: mean across seeds"


def test_summary_of_one_seed_has_a_bar_but_no_error_bar():
    fig = summary_figure([summary_row(seeds=[0.8], cell="gru"), summary_row(seeds=[0.6, 0.7], cell="lstm")])
    one, two = fig.data
    assert list(one.y) == [0.8] and np.isnan(one.error_y.array).all() and list(one.text) == ["0.8, 1 seed"]
    assert two.error_y.array[0] == pytest.approx(T975[1] * np.std([0.6, 0.7], ddof=1) / math.sqrt(2), rel=1e-12)
    assert list(one.x) == list(two.x) == ["test accuracy"]  # x=None: every group at one place, side by side


def test_summary_a_non_finite_mean_gets_a_note_above_its_place_instead_of_a_bar():
    """A horizon beyond the sequence (inf) or a nan mean: no bar (plotly draws none for inf or nan), no error bar,
    a note naming the groups; y keeps numpy's mean of the seeds, inf included."""
    horizons = {("gru", 1): [3.0, 5.0], ("lstm", 1): [4.0, math.inf], ("gru", 5): [6.0, math.nan],
                ("lstm", 5): [math.inf, 9.0]}
    summary = [summary_row("horizon", seeds, cell=cell, lag=lag) for (cell, lag), seeds in horizons.items()]
    fig = summary_figure(summary, statistic="horizon", by="cell", x="lag")
    gru, lstm = fig.data
    for bar in fig.data:
        np.testing.assert_array_equal(bar.y, [np.mean(horizons[(bar.name, lag)]) for lag in (1, 5)])
    assert np.isposinf(lstm.y).all() and np.isnan(gru.y[1])
    assert gru.error_y.array[0] == pytest.approx(T975[1] * np.std([3.0, 5.0], ddof=1) / math.sqrt(2), rel=1e-12)
    assert np.isnan(gru.error_y.array[1]) and np.isnan(lstm.error_y.array).all()
    assert [t.split(",")[0] for t in lstm.text] == ["inf", "inf"]  # the exact value stays in the hover
    notes = {a.x: a.text for a in fig.layout.annotations}
    assert notes == {"lag = 1": "not finite (∞ or nan): lstm", "lag = 5": "not finite (∞ or nan): gru, lstm"}
    assert all(a.yref == "paper" and a.y == 1 for a in fig.layout.annotations)
    assert not fig.layout.shapes  # no chance line but for the test accuracy


@pytest.mark.parametrize("statistic", list(STATISTICS))
def test_summary_axes_name_the_statistic_with_its_unit_and_the_field_of_the_places(statistic):
    fig = summary_figure(lag_summary(statistic), statistic=statistic, x="lag")
    assert fig.layout.yaxis.title.text == STATISTICS[statistic]
    assert re.fullmatch(r".+ \((fraction|mean per example|steps)\)", STATISTICS[statistic])
    assert fig.layout.xaxis.title.text == "lag k (steps)"
    assert len(fig.layout.shapes) == (statistic == "test_accuracy")  # chance: an accuracy only
    assert tuple(fig.layout.yaxis.range or ()) == ((0, 1.02) if statistic == "test_accuracy" else ())


def test_summary_statistics_are_those_summarize_computes():
    from rnnlab.sweeps import DECAY_STATISTICS
    from rnnlab.sweeps import STATISTICS as METRICS
    assert tuple(STATISTICS) == METRICS + DECAY_STATISTICS


def test_summary_draws_no_chance_line_when_groups_differ_in_chance():
    rows = [summary_row(seeds=[0.6, 0.7], cell="gru", chance=0.125),
            summary_row(seeds=[0.6, 0.7], cell="lstm", chance=0.5)]
    assert not summary_figure(rows).layout.shapes


def test_summary_keeps_each_groups_colour_given_all_the_names():
    fig = summary_figure([summary_row(seeds=[0.6, 0.7], cell="gru")], names=["simple_rnn", "lstm", "gru"])
    assert fig.data[0].marker.color == PALETTE[2] == color_for("gru", ["simple_rnn", "lstm", "gru"])


def test_summary_figure_data_holds_each_mean_exactly_and_its_interval_in_the_text():
    """Oracle: numpy's means read back exactly from the CSV; the interval's ends to the 4 digits written, and
    as numbers in the lower and upper columns."""
    got = rows(summary_figure(lag_summary(), by="cell", x="lag"))
    assert [(r["trace"], r["x"]) for r in got] == [("gru", "lag = 1"), ("gru", "lag = 5"), ("lstm", "lag = 1"),
                                                   ("lstm", "lag = 5")]
    for r in got:
        s = np.array(SEEDS[(r["trace"], int(r["x"].split(" = ")[1]))])
        half = T975[len(s) - 1] * s.std(ddof=1) / math.sqrt(len(s))
        assert float(r["y"]) == s.mean() and r["z"] == ""
        lower, upper = map(float, re.search(r"95% interval \[(\S+), (\S+)\]", r["text"]).groups())
        assert lower == pytest.approx(s.mean() - half, rel=1e-3) and upper == pytest.approx(s.mean() + half, rel=1e-3)
        assert float(r["lower"]) == pytest.approx(s.mean() - half, rel=1e-12)
        assert float(r["upper"]) == pytest.approx(s.mean() + half, rel=1e-12)
        assert r["text"].endswith(f", {len(s)} seeds")


def test_summary_places_follow_the_numeric_order_of_x_not_the_order_of_the_rows():
    """Oracle: numpy's sort of the lags (10 after 2, which text order would put first) and numpy's means; a group
    that lacks a lag still finds each place in that order."""
    seeds = {("gru", 10): [0.3, 0.4], ("gru", 2): [0.8, 0.9], ("lstm", 5): [0.6, 0.7], ("gru", 5): [0.5, 0.6],
             ("lstm", 10): [0.2, 0.3]}
    fig = summary_figure([summary_row(seeds=v, cell=c, lag=k) for (c, k), v in seeds.items()], x="lag")
    lags = np.unique([k for _, k in seeds])
    assert list(fig.layout.xaxis.categoryarray) == [f"lag = {k}" for k in lags]
    assert fig.layout.xaxis.categoryorder == "array" and [bar.name for bar in fig.data] == ["gru", "lstm"]
    for bar in fig.data:
        own = [k for k in lags if (bar.name, k) in seeds]
        assert list(bar.x) == [f"lag = {k}" for k in own]
        np.testing.assert_allclose(bar.y, [np.mean(seeds[(bar.name, k)]) for k in own], rtol=1e-15)


def test_summary_places_of_a_field_with_none_put_the_numbers_first_in_order():
    seeds = {("gru", None): [0.3, 0.4], ("gru", 1.5): [0.8, 0.9], ("gru", 0.9): [0.5, 0.6]}
    fig = summary_figure([summary_row(seeds=v, cell=c, spectral_radius=r) for (c, r), v in seeds.items()],
                         x="spectral_radius")
    radii = sorted(r for _, r in seeds if r is not None) + [None]
    assert list(fig.data[0].x) == [f"spectral_radius = {r}" for r in radii]
    np.testing.assert_allclose(fig.data[0].y, [np.mean(seeds[("gru", r)]) for r in radii], rtol=1e-15)


@pytest.mark.parametrize("x, words", [("lag", ["lag", "(steps)"]), ("length", ["length", "(steps)"]),
                                      ("hidden_size", ["hidden_size", "(units"]), ("spectral_radius", ["ρ"]),
                                      ("lr", ["lr", "learning rate"]), ("optimizer", ["optimizer"])])
def test_summary_x_axis_names_the_field_with_its_unit(x, words):
    values = ["adam", "sgd"] if x == "optimizer" else [1, 2]
    fig = summary_figure([summary_row(seeds=[0.5, 0.6], cell="gru", **{x: v}) for v in values], x=x)
    assert fig.layout.xaxis.title.text == FIELD_LABELS.get(x, x) and all(w in FIELD_LABELS.get(x, x) for w in words)
    assert fig.layout.xaxis.title.text.startswith(x)  # the field the user chose, then its unit


def test_summary_x_axis_of_one_place_says_one_bar_per_group():
    fig = summary_figure([summary_row(seeds=[0.5, 0.6], cell=c) for c in ("gru", "lstm")])
    assert fig.layout.xaxis.title.text == "one bar per cell"


def regression_row(losses, chance, **fields):
    """A row of summarize for a regression task: its loss across seeds, and None for its test accuracy."""
    return {**summary_row("test_loss", losses, chance=chance, **fields),
            **{f"test_accuracy_{part}": None for part in ("mean", "std", "lower", "upper")}}


def test_summary_of_a_task_without_the_statistic_says_so_and_draws_chance_only_on_its_scale():
    """The adding task has no accuracy: a note says so, and its chance (an MSE) is no line on the accuracy axis.
    On the loss axis it is: the MSE of a constant answer, drawn at the rows' chance; a classification task's chance
    (an accuracy) is no line on the loss axis."""
    _, baseline = chance_level("adding")  # what summarize writes as the chance of an adding run
    adding = [regression_row([0.05, 0.07], baseline, cell=c) for c in ("gru", "lstm")]
    fig = summary_figure(adding)
    assert np.isnan(fig.data[0].y).all() and not fig.layout.shapes
    assert [a.text for a in fig.layout.annotations] == ["no test accuracy for this task: gru, lstm"]
    assert list(fig.data[0].text) == ["no test accuracy for this task, 2 seeds"]
    fig = summary_figure(adding, statistic="test_loss")
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == baseline and not any("no test" in a.text for a in fig.layout.annotations)
    assert f"MSE {baseline:.3g}" in [a.text for a in fig.layout.annotations][0]
    lag_recall = [{**summary_row("test_loss", [1.2, 1.4], cell="gru"), "test_accuracy_mean": 0.5}]
    assert not summary_figure(lag_recall, statistic="test_loss").layout.shapes
    mixed = summary_figure([adding[0], summary_row(seeds=[0.5, 0.7], chance=0.25, cell="lstm")])
    (line,) = mixed.layout.shapes  # the accuracy's chance: lstm's, the only group with an accuracy
    assert line.y0 == 0.25
    assert [a.text for a in mixed.layout.annotations if a.text.startswith("no")] == [
        "no test accuracy for this task: gru"]


@pytest.mark.parametrize("band", ["interval", "std"])
def test_summary_figure_data_carries_the_exact_mean_inf_included_and_the_bounds_as_numbers(band):
    """Oracle: numpy's mean read back exactly (inf as inf), and the interval (t_{0.975,n−1}·std/√n) or ± std
    bounds from numpy's std (ddof=1), as numbers in the lower and upper columns."""
    seeds = {("gru", 1): [3.0, 5.0], ("gru", 5): [4.0, 7.0, 9.0], ("lstm", 1): [6.0, math.inf], ("lstm", 5): [8.0]}
    summary = [summary_row("horizon", v, cell=c, lag=k) for (c, k), v in seeds.items()]
    got = rows(summary_figure(summary, statistic="horizon", x="lag", band=band))
    assert list(got[0]) == ["trace", "x", "y", "z", "text", "lower", "upper"] and len(got) == len(seeds)
    for r in got:
        v = np.array(seeds[(r["trace"], int(r["x"].split(" = ")[1]))])
        assert float(r["y"]) == v.mean()
        spread = (v.std(ddof=1) * (T975[len(v) - 1] / math.sqrt(len(v)) if band == "interval" else 1)
                  if len(v) > 1 and np.isfinite(v).all() else math.nan)
        np.testing.assert_allclose([float(r["lower"]), float(r["upper"])], [v.mean() - spread, v.mean() + spread],
                                   rtol=1e-12)
    assert [r["y"] for r in got if r["trace"] == "lstm"][0] == "inf"


def test_summary_by_several_fields_names_each_group_after_all_of_them():
    """Oracle: numpy's means; groups as profiles names them, "cell=gru, hidden_size=8"."""
    seeds = {("gru", 8, 1): [0.6, 0.8], ("gru", 16, 1): [0.9, 0.7], ("lstm", 8, 1): [0.5, 0.4],
             ("gru", 8, 5): [0.3, 0.5]}
    summary = [summary_row(seeds=v, cell=c, hidden_size=h, lag=k) for (c, h, k), v in seeds.items()]
    fig = summary_figure(summary, by=["cell", "hidden_size"], x="lag")
    groups = {f"cell={c}, hidden_size={h}": (c, h) for c, h, _ in seeds}
    assert [bar.name for bar in fig.data] == list(groups)
    for bar in fig.data:
        c, h = groups[bar.name]
        lags = [k for g, s, k in seeds if (g, s) == (c, h)]
        assert list(bar.x) == [f"lag = {k}" for k in lags]
        np.testing.assert_allclose(bar.y, [np.mean(seeds[(c, h, k)]) for k in lags], rtol=1e-15)
        assert f"<b>{bar.name}</b>" in bar.hovertemplate
    assert fig.layout.legend.title.text == "cell, hidden_size"
    assert fig.layout.title.text.startswith("Test accuracy by cell and hidden_size at each lag")


@pytest.mark.parametrize("rows_, kwargs, error, message", [
    (lag_summary(), dict(statistic="accuracy"), ValueError,
     "statistic must be one of 'test_accuracy', 'test_loss', 'time_constant', 'horizon', got 'accuracy'"),
    (lag_summary(), dict(band="sem"), ValueError, r"band must be 'interval' or 'std' \(or None: no band\), got 'sem'"),
    ([], {}, ValueError, "summary must hold at least one row, got none"),
    (lag_summary(), dict(x="hidden_size"), ValueError,
     r"summary rows must have \['hidden_size'\] \(rnnlab.sweeps.summarize grouped by 'cell' and 'hidden_size'\)"),
    (lag_summary(), dict(by="optimizer", x="lag"), ValueError, r"summary rows must have \['optimizer'\]"),
    (lag_summary(), dict(statistic="horizon"), ValueError,
     r"summary rows must have \['horizon_mean', 'horizon_std', 'horizon_lower', 'horizon_upper'\] .*influence=True"),
    (lag_summary(), dict(x=None), ValueError, "group cell = gru has more than one row per group"),
    (lag_summary() + [summary_row(seeds=[0.5, 0.6], cell="lstm", lag=5, length=50)], dict(x="lag"), ValueError,
     "group cell = lstm has more than one row per lag"),
    (lag_summary(), dict(x="lag", names=["lstm"]), ValueError,
     r"names must hold the name of each of the groups, got \['lstm'\], which lacks \['gru'\]"),
    (lag_summary(), dict(by=["cell", "lag"], x="lag"), ValueError,
     r"x must name a field that is not in by \(\['cell', 'lag'\]\), got 'lag'"),
    (lag_summary(), dict(by="cell", x="cell"), ValueError, r"x must name a field that is not in by \(\['cell'\]\)"),
    (lag_summary(), dict(by=[]), ValueError, r"by must name a field or a non-empty list of fields, got \[\]"),
    (lag_summary(), dict(by=3), ValueError, "by must name a field or a non-empty list of fields, got 3"),
    (lag_summary(), dict(by=["cell", None], x="lag"), ValueError, r"by must name a field .*got \['cell', None\]"),
])
def test_summary_figure_refuses_bad_input_naming_the_argument_and_the_field(rows_, kwargs, error, message):
    with pytest.raises(error, match=message):
        summary_figure(rows_, **kwargs)


# ---------------------------------------------------------------------------------------------- training, size

def test_history_draws_train_solid_and_validation_dashed_per_epoch():
    h = History(loss=[0.7, 0.5, 0.4], accuracy=[0.5, 0.7, 0.8], val_loss=[0.72, 0.6, 0.65],
                val_accuracy=[0.48, 0.66, 0.64], seconds=[1.5, 1.25, 1.0], best_epoch=2)
    for given in (h, h.to_dict()):
        fig = history_figure(given)
        loss, val_loss, acc, val_acc = fig.data
        np.testing.assert_array_equal(loss.x, [1, 2, 3])
        for drawn, expected in ((loss, h.loss), (val_loss, h.val_loss), (acc, h.accuracy),
                                (val_acc, h.val_accuracy)):
            np.testing.assert_array_equal(drawn.y, expected)
        np.testing.assert_array_equal(loss.customdata, h.seconds)
        assert (loss.line.dash, val_loss.line.dash) == (None, "dash")
        assert (loss.xaxis, acc.xaxis) == ("x", "x2")
        assert [s.x0 for s in fig.layout.shapes] == [2, 2]  # best epoch, on both panels
        assert fig.layout.yaxis.title.text == "loss (mean per example)"
        assert fig.layout.yaxis2.title.text == "accuracy (fraction)" and "epoch" in fig.layout.xaxis.title.text


def test_history_skips_missing_validation_and_colours_runs():
    fig = history_figure({"a": History(loss=[1.0, 0.5], accuracy=[0.5, 0.6], seconds=[1.0, 1.0]),
                          "b": {"loss": [0.9], "accuracy": [0.7]}})
    assert [t.name for t in fig.data] == ["a train", "a train", "b train", "b train"]
    assert [t.line.color for t in fig.data] == [PALETTE[0]] * 2 + [PALETTE[1]] * 2
    with pytest.raises(ValueError, match="histories.*at least one epoch"):
        history_figure(History())


def test_params_bars_hold_each_layers_exact_count():
    """Oracle: the rows of rnnlab.params.summary (embedding 100·32, SimpleRNN 32·64 + 32, dense 32 + 1)."""
    small = summary(SequenceClassifier(vocab_size=100, embedding_dim=32, hidden_size=32, seq_len=10))
    fig = params_figure(small)
    bars = fig.data[0]
    assert list(bars.x) == ["embedding", "simple_rnn", "dense"]
    assert list(bars.y) == [r.params for r in small.rows] == [3200, 2080, 33]
    assert list(bars.text) == ["3,200", "2,080", "33"]
    assert bars.customdata[1][:2] == ["SimpleRNN", "(None, 32)"] and "h·(h + x) + h" in bars.customdata[1][2]
    assert fig.layout.title.text.endswith("(total 5,313)") and fig.layout.yaxis.title.text == "parameters (count)"


def test_params_bars_are_grouped_per_configuration_from_objects_or_tuples():
    tuples = SimpleNamespace(rows=[("simple_rnn", "SimpleRNN", (None, 32), 2080), ("dense", "Dense", (None, 1), 33)],
                             total=2113)
    lstm = SimpleNamespace(rows=[("lstm", "LSTM", (None, 32), 8320), ("dense", "Dense", (None, 1), 33)], total=8353)
    fig = params_figure({"rnn": tuples, "lstm": lstm})
    assert fig.layout.barmode == "group"
    assert [(b.name, list(b.y)) for b in fig.data] == [("rnn (total 2,113)", [2080, 33]),
                                                       ("lstm (total 8,353)", [8320, 33])]
    assert [b.marker.color for b in fig.data] == [PALETTE[0], PALETTE[1]]


# ---------------------------------------------------------------------------------------------- colours, export

def test_a_configuration_keeps_its_colour_across_figures():
    names = ["tanh", "relu", "linear"]
    curves = {n: 0.9 ** np.arange(5) for n in names}
    profiles = {n: MemoryProfile(np.arange(1, 4), np.ones(3), 3.0) for n in ["relu", "linear"]}
    influence = influence_figure(curves)
    memory = memory_profile_figure(profiles, names=names)  # a subset keeps the colours given all the names
    for name in ["relu", "linear"]:
        assert trace(influence, name).line.color == trace(memory, f"{name} (capacity 3)").line.color
        assert trace(influence, name).line.color == color_for(name, names)
    assert [color_for(n, names) for n in names] == list(PALETTE[:3])
    assert color_for("x11", [f"x{i}" for i in range(12)]) == PALETTE[1]  # wraps after 10
    with pytest.raises(ValueError, match="name must be one of names.*'gru'"):
        color_for("gru", names)
    with pytest.raises(ValueError, match=r"names.*\['relu'\]"):
        memory_profile_figure(profiles, names=["linear"])


def test_figure_data_reads_back_the_exact_numbers_of_curves_heatmaps_and_3d_paths():
    y = np.array([1 / 3, 2 / 3, 0.0, np.inf])
    got = [r for r in rows(influence_figure({"a,b": y})) if r["trace"] == "a,b"]  # a comma in a name survives
    np.testing.assert_array_equal([float(r["y"]) for r in got], y)
    assert [int(r["x"]) for r in got] == [0, 1, 2, 3]

    states = np.random.default_rng(3).normal(size=(3, 2)) / 3
    got = rows(state_heatmap(states, tokens=["the", "<br />", "end"]))
    z = {(int(r["x"]), int(r["y"])): float(r["z"]) for r in got}
    assert z == {(t, i): states[t, i] for t in range(3) for i in range(2)}
    assert [r["text"] for r in got[:3]] == ["the", "<br />", "end"]  # the words, not their HTML escapes

    pca = np.random.default_rng(4).normal(size=(4, 3))
    got = rows(trajectory_figure(SimpleNamespace(pca=pca, explained_variance_ratio=None, tokens=None)))
    np.testing.assert_array_equal([[float(r[c]) for c in "xyz"] for r in got], pca)

    got = rows(params_figure(SimpleNamespace(rows=[("dense", "Dense", (None, 1), 16001)], total=16001)))
    assert got == [{"trace": "model (total 16,001)", "x": "dense", "y": "16001", "z": "", "text": "16,001"}]


def test_figure_html_is_standalone_with_plotly_inline():
    fig = influence_figure({"tanh": 0.9 ** np.arange(5)})
    page = figure_html(fig)
    assert page.startswith("<html>") or page.lower().startswith("<!doctype html>")
    assert "plotly.js v" in page and len(page) > 1_000_000  # the library itself, not a link to it
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert '"name":"tanh"' in page


# ---------------------------------------------------------------------------------------------- text

def test_word_attribution_draws_the_explanation_word_by_word_with_influence_on_a_log_axis():
    """Oracle: the Explanation that rnnlab.explain.explain returns, drawn as given."""
    from rnnlab.explain import explain
    from rnnlab.imdb import Vocabulary

    torch.manual_seed(0)
    model = SequenceClassifier(vocab_size=12, embedding_dim=3, hidden_size=4)
    vocabulary = Vocabulary(["a", "film", "that", "was", "not", "good", "<br />"], num_words=12)
    e = explain(model, [0, 0, 1, 4, 5, 10, 6, 7, 8, 9], vocabulary)  # two pads in front, dropped from the words
    fig = word_attribution_figure(e)
    bars, line = fig.data
    assert bars.type == "bar" and line.type == "scatter"
    np.testing.assert_array_equal(bars.x, np.arange(8))
    np.testing.assert_array_equal(bars.y, e.attribution)
    np.testing.assert_array_equal(line.y, e.influence)
    assert list(bars.text) == ["&lt;start&gt;", "a", "film", "&lt;br /&gt;", "that", "was", "not", "good"]
    assert list(line.text) == list(bars.text) and bars.textposition == "none"  # in the hover, not on the bars
    np.testing.assert_array_equal(bars.marker.color, e.attribution)
    limit = np.abs(e.attribution).max()
    assert (bars.marker.cmin, bars.marker.cmid, bars.marker.cmax) == (-limit, 0.0, limit)  # diverging, centred
    assert "%{y:.6g}" in bars.hovertemplate and "%{text}" in line.hovertemplate
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis.type in (None, "linear")
    assert list(fig.layout.xaxis2.ticktext) == list(bars.text)
    exported = [r for r in rows(fig) if r["trace"] == "gradient × input a_t"]
    assert [r["text"] for r in exported] == ["<start>", "a", "film", "<br />", "that", "was", "not", "good"]
    assert [float(r["y"]) for r in exported] == e.attribution.tolist()
    assert "word t" in fig.layout.xaxis2.title.text and "∂h_{T−1}/∂e_t" in fig.layout.yaxis2.title.text
    assert fig.layout.title.text == f"Which words moved the prediction: P(positive) = {e.probability:.3g}"


def test_word_attribution_marks_an_influence_a_log_axis_cannot_show_and_rejects_mismatched_lengths():
    e = SimpleNamespace(tokens=["w0", "w1", "w2"], attribution=[0.5, -1.0, 0.0], influence=[0.0, 0.1, 2.0],
                        probability=0.25)
    fig = word_attribution_figure(e)
    np.testing.assert_array_equal(fig.data[1].y, [0.0, 0.1, 2.0])  # the value itself stays in the trace
    (mark,) = [t for t in fig.data if "off the log scale" in t.name]
    assert list(mark.x) == [0] and list(mark.y) == [pytest.approx(0.01)] and mark.marker.symbol == "x"
    # a narrow log range is labelled 1-2-5, in full: not plotly's bare leading digits
    assert list(fig.layout.yaxis2.ticktext) == ["0.1", "0.2", "0.5", "1", "2"]
    np.testing.assert_allclose(fig.layout.yaxis2.tickvals, [0.1, 0.2, 0.5, 1.0, 2.0], rtol=1e-12)
    wide = word_attribution_figure(SimpleNamespace(tokens=["a", "b"], attribution=[1, 2], influence=[2e-5, 3.0]))
    assert list(wide.layout.yaxis2.ticktext) == ["0.0001", "0.001", "0.01", "0.1", "1"]  # powers of ten
    with pytest.raises(ValueError, match="explanation must hold one attribution and one influence per token "
                                         r"\(3 tokens\), got 2 and 3"):
        word_attribution_figure(SimpleNamespace(tokens=["a", "b", "c"], attribution=[1, 2], influence=[1, 2, 3]))
    with pytest.raises(TypeError, match="explanation must have 'influence'"):
        word_attribution_figure(SimpleNamespace(tokens=["a"], attribution=[1.0]))


def test_window_accuracy_draws_first_and_last_k_per_model_with_the_whole_review_dashed_and_chance_dotted():
    """Oracle: the window_accuracy dicts given, drawn as given."""
    results = {"SimpleRNN": {"k": [5, 20, 500], "first": [0.55, 0.6, 0.84], "last": [0.7, 0.75, 0.84], "full": 0.84},
               "LSTM": {"k": [5, 20, 500], "first": [0.6, 0.7, 0.87], "last": [0.72, 0.8, 0.87], "full": 0.87}}
    fig = window_accuracy_figure(results)
    for name, r in results.items():
        last, first = trace(fig, f"{name}: last k words"), trace(fig, f"{name}: first k words")
        full = trace(fig, f"{name}: whole review ({r['full']:.3g})")
        np.testing.assert_array_equal(last.x, r["k"])
        np.testing.assert_array_equal(last.y, r["last"])
        np.testing.assert_array_equal(first.y, r["first"])
        assert list(full.y) == [r["full"]] * 2 and list(full.x) == [5, 500]
        assert last.line.dash is None and first.line.dash == "dashdot" and full.line.dash == "dash"
        assert last.line.color == first.line.color == full.line.color == color_for(name, list(results))
    chance = trace(fig, "chance 0.5")
    assert list(chance.y) == [0.5, 0.5] and chance.line.dash == "dot"
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "words kept k (log scale)"
    assert list(fig.layout.xaxis.tickvals) == [5, 20, 500] and list(fig.layout.xaxis.ticktext) == ["5", "20", "500"]
    assert fig.layout.yaxis.title.text == "test accuracy (fraction)"
    one = window_accuracy_figure(results["LSTM"])
    np.testing.assert_array_equal(trace(one, "model: last k words").y, results["LSTM"]["last"])


def test_window_accuracy_figure_rejects_results_that_do_not_match_their_k():
    with pytest.raises(ValueError, match=r"results\['m'\]\['first'\] must have one accuracy per k \(2\), got 1"):
        window_accuracy_figure({"m": {"k": [1, 2], "first": [0.5], "last": [0.5, 0.6], "full": 0.6}})
    with pytest.raises(ValueError, match=r"results\['m'\]\['k'\] must hold window sizes >= 1"):
        window_accuracy_figure({"m": {"k": [0, 2], "first": [0.5, 0.6], "last": [0.5, 0.6], "full": 0.6}})
    with pytest.raises(TypeError, match=r"results\['m'\] must have 'full'"):
        window_accuracy_figure({"m": {"k": [1], "first": [0.5], "last": [0.5]}})


class _Spans(HTMLParser):
    """The spans of highlighted_text_html as (attributes, text), and every tag met (a browser's reading)."""

    def __init__(self):
        super().__init__()
        self.spans, self.tags, self.open = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "span":
            self.open = [dict(attrs), ""]

    def handle_data(self, data):
        if self.open is not None:
            self.open[1] += data

    def handle_endtag(self, tag):
        if tag == "span":
            self.spans.append(tuple(self.open))
            self.open = None


def test_highlighted_text_shows_typed_words_as_text_never_as_markup():
    """Oracle: Python's HTML parser reads back exactly the words given, and no tag but the div and the spans."""
    words = ['<script>alert("x")</script>', '" onmouseover="alert(1)', "<br />", "good", "&amp;"]
    parser = _Spans()
    parser.feed(highlighted_text_html(words, [1.0, -1.0, 0.5, 0.0, -0.25]))
    assert parser.tags == ["div"] + ["span"] * 5
    assert [text for _, text in parser.spans] == words
    assert [attrs["title"] for attrs, _ in parser.spans] == [f"{w}: {v:+.4g}" for w, v in
                                                            zip(words, [1.0, -1.0, 0.5, 0.0, -0.25])]
    assert set(parser.spans[1][0]) == {"title", "style"}  # the quote did not open an attribute


def test_highlighted_text_colours_red_below_zero_blue_above_with_opacity_by_magnitude():
    """Oracle: opacity 0.85·|v|/scale, scale the largest |v| unless given; RdBu's red and blue ends."""
    def backgrounds(html_text):
        return re.findall(r"background-color: rgba\((\d+),(\d+),(\d+),([\d.]+)\)", html_text)

    got = backgrounds(highlighted_text_html(["bad", "fine", "great", "odd"], [-2.0, 0.5, 1.0, float("nan")]))
    assert got == [("178", "24", "43", "0.850"), ("33", "102", "172", "0.212"), ("33", "102", "172", "0.425"),
                   ("178", "24", "43", "0.000")]
    got = backgrounds(highlighted_text_html(["a"], [1.0], scale=4.0))
    assert got == [("33", "102", "172", "0.212")]
    assert highlighted_text_html([], []) == '<div style="line-height: 2.1"></div>'
    with pytest.raises(ValueError, match=r"values must hold one number per token \(2\), got 1"):
        highlighted_text_html(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="scale must be a finite number > 0 or None, got 0"):
        highlighted_text_html(["a"], [1.0], scale=0)
