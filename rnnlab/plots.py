"""Figures of what a recurrent network remembers, as plotly Figures.

Every function returns a `plotly.graph_objects.Figure`: a notebook shows it with `fig.show()`, the dashboard with
`st.plotly_chart(fig)`, and both see the same figure. Figures that compare configurations take a dict
name → data and colour each name with `color_for(name, names)`, so that a configuration keeps its colour from figure
to figure; pass the same `names` (all configurations) to every figure to keep the colours when a figure shows only
some of them.

Curves that decay (‖∂h_t/∂x_0‖, ‖∂L/∂h_t‖, ‖h′_t − h_t‖) are drawn on a log y axis, where an exponential is a
straight line: log ‖∂h_t/∂x_0‖ ≈ log a − λ·t. A log axis cannot show 0, inf or nan (a gradient that underflowed,
a perturbation that overflowed): such points leave a gap in the line and get an ✕ at the bottom (0, nan) or top
(inf) of the axis, with their exact value in the hover.

The inputs are the return types of rnnlab.memory, rnnlab.train and rnnlab.params, read by attribute (duck typing),
so plain arrays and hand-made objects work too. `figure_data(fig)` gives the numbers behind any of these figures as
CSV text, `figure_html(fig)` a standalone HTML page that works offline.
"""
import csv
import html
import io
import math
from collections.abc import Mapping
from numbers import Real

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Tableau 10 (d3's category10, matplotlib's default cycle): distinct on white, and familiar.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
REFERENCE = "#444444"  # chance level, unit circle: references, not configurations
TEMPLATE = "plotly_white"
FIT_DASH, BOUND_DASH, CHANCE_DASH = "dash", "dot", "dash"
EXPONENTIAL = ("vanishing", "stable", "exploding")  # the regimes of a fit that describes its curve
_REQUIRED = object()
# eps·‖h_t‖ with eps = 2^−52 (float64) or 2^−23 (float32): differences below it are rounding
PRECISION_NOTE = ("flat near 1e−16·‖h_t‖ (float64) or 1e−7·‖h_t‖ (float32):<br>"
                  "float precision reached, rounding, not memory")


def color_for(name, names):
    """The colour of configuration `name`: PALETTE[i], i its position among `names` (wrapping after 10)."""
    names = list(dict.fromkeys(names))
    if name not in names:
        raise ValueError(f"name must be one of names {names!r}, got {name!r}")
    return PALETTE[names.index(name) % len(PALETTE)]


# ---------------------------------------------------------------------------------------------- shared helpers

def _rgba(color, alpha):
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _array(value, argument, ndim=1):
    """A non-empty float64 array of `ndim` dimensions from an array, list or (detached) torch tensor."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if np.iscomplexobj(value):
        raise TypeError(f"{argument} must hold real numbers, got complex values")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{argument} must be an array of real numbers, got {type(value).__name__}") from None
    if a.ndim != ndim or a.size == 0:
        raise ValueError(f"{argument} must be a non-empty {ndim}-D array, got shape {a.shape}")
    return a


def _get(obj, key, argument, default=_REQUIRED):
    """obj.key, or obj[key] for a dict."""
    value = obj.get(key, default) if isinstance(obj, Mapping) else getattr(obj, key, default)
    if value is _REQUIRED:
        raise TypeError(f"{argument} must have {key!r} ({type(obj).__name__} has none)")
    return value


def _as_named(value, argument, default_name):
    """A dict name → item from a dict, or from one item (named default_name)."""
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{argument} must name at least one configuration, got an empty dict")
        return dict(value)
    return {default_name: value}


def _check_keys(extra, known, argument):
    unknown = [k for k in extra if k not in known]
    if unknown:
        raise ValueError(f"{argument} has names {unknown!r} that are not among the curves {list(known)!r}")


def _names(items, names, what="curves"):
    if names is None:
        return list(items)
    names = list(names)
    missing = [k for k in items if k not in names]
    if missing:
        raise ValueError(f"names must hold the name of each of the {what}, got {names!r}, which lacks {missing!r}")
    return names


def _text(tokens):
    # Plotly reads labels as HTML: IMDB's "<br />" tokens must show as text, not break the line.
    return [html.escape(str(t)) for t in tokens]


def _layout(fig, title, x_label, y_label, log_y=False):
    fig.update_layout(title=title, template=TEMPLATE, hovermode="closest")
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label, type="log" if log_y else "linear")
    if log_y:
        fig.update_yaxes(exponentformat="power")
    return fig


def _mark_off_log_scale(fig, x_name):
    """Add an ✕ for each point a log axis cannot draw (≤ 0, inf, nan): at a tenth of the smallest drawable value
    (≤ 0, nan) or ten times the largest (inf), in the trace's colour, the exact value in the hover. Each curve's ✕
    get one legend entry that says which values they stand for: past an underflow they fill the bottom edge."""
    traces = list(fig.data)
    ys = [np.asarray(t.y, dtype=np.float64) for t in traces]
    drawable = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys])
    low, high = (drawable.min() / 10, drawable.max() * 10) if drawable.size else (0.1, 10.0)
    for trace, y in zip(traces, ys):
        off = ~(np.isfinite(y) & (y > 0))
        if off.any():
            kinds = [k for k, hit in (("0", (y == 0).any()), ("< 0", (y < 0).any()), ("∞", np.isinf(y).any()),
                                      ("nan", np.isnan(y).any())) if hit]
            fig.add_trace(go.Scatter(
                x=np.asarray(trace.x)[off], y=np.where(y[off] == np.inf, high, low), mode="markers",
                name=f"{trace.name}: ✕ = {', '.join(kinds)}, off the log scale", legendgroup=trace.legendgroup,
                marker=dict(symbol="x", size=9, color=trace.line.color),
                text=[f"value {v:.6g}, which a log axis cannot show" for v in y[off]],
                hovertemplate=f"<b>{trace.name}</b><br>{x_name} = %{{x}}<br>%{{text}}<extra></extra>"))
    return fig


# ---------------------------------------------------------------------------------------------- decay curves

def influence_figure(curves, fits=None, bounds=None, title="Influence of x_0 on h_t, ‖∂h_t/∂x_0‖_F, over time",
                     y_label="‖∂h_t/∂x_0‖_F (log scale)", x_label="time step t", names=None, log_y=True):
    """Curves c_t against t, one colour per configuration, on a log y axis: an exponential decay c_t ≈ a·e^(−λt)
    is a straight line. A fitted decay (DecayFit: predict(t) on [start, stop)) is dashed in the curve's colour,
    the bound ‖∂h_t/∂x_0‖ ≤ σ_max(A_h)^t·‖∂h_0/∂x_0‖ dotted. A fit that describes no exponential (fit_decay's
    regime "power law" or "not exponential": r² below 0.9, or a power law fits far better) is hidden, its legend
    entry saying why; clicking the entry shows it.

    curves: dict name → (T,) array (or one array); fits: dict name → DecayFit; bounds: dict name → (T,) array.
    """
    curves = {n: _array(c, f"curves[{n!r}]") for n, c in _as_named(curves, "curves", "curve").items()}
    fits = {} if fits is None else _as_named(fits, "fits", "curve")
    bounds = {} if bounds is None else _as_named(bounds, "bounds", "curve")
    _check_keys(fits, curves, "fits")
    _check_keys(bounds, curves, "bounds")
    names = _names(curves, names)
    value = y_label.split(" (")[0]
    hover = f"<b>%{{fullData.name}}</b><br>{x_label} = %{{x}}<br>{value} = %{{y:.6g}}<extra></extra>"
    fig = go.Figure()
    for name, y in curves.items():
        color = color_for(name, names)
        fig.add_trace(go.Scatter(x=np.arange(len(y)), y=y, mode="lines", name=name, legendgroup=name,
                                 line=dict(color=color), hovertemplate=hover))
        fit = fits.get(name)
        if fit is not None:
            field = (lambda key, default=_REQUIRED: _get(fit, key, f"fits[{name!r}]", default))
            t = np.arange(int(field("start")), int(field("stop")))
            rate, regime, r2 = field("rate"), field("regime"), field("r2")
            exponential = regime in EXPONENTIAL
            if regime == "power law":
                label = (f"{name}: a power law ∝ (1 + t)^−{field('power_exponent', math.nan):.3g} (log-log r² "
                         f"{field('power_r2', math.nan):.3f}), not exponential (r² {r2:.3f}): fit hidden")
            elif not exponential:
                label = f"{name}: {regime} (r² {r2:.3f}): fit hidden"
            else:
                pace = (f"half-life {field('half_life'):.3g} steps" if regime == "vanishing" else
                        f"doubling time {math.log(2) / -rate:.3g} steps" if regime == "exploding" else regime)
                label = f"{name} fit: rate {rate + 0.0:.3g}/step, {pace}, r² {r2:.3f}"  # + 0.0: no "-0"
            fig.add_trace(go.Scatter(x=t, y=np.asarray(field("predict")(t), dtype=np.float64), mode="lines",
                                     name=label, legendgroup=name, line=dict(color=color, dash=FIT_DASH),
                                     hovertemplate=hover, visible=True if exponential else "legendonly"))
        if name in bounds:
            bound = _array(bounds[name], f"bounds[{name!r}]")
            fig.add_trace(go.Scatter(x=np.arange(len(bound)), y=bound, mode="lines", name=f"{name} bound σ_max^t",
                                     legendgroup=name, line=dict(color=color, dash=BOUND_DASH), hovertemplate=hover))
    _layout(fig, title, x_label, y_label, log_y)
    return _mark_off_log_scale(fig, x_label) if log_y else fig


def gradient_figure(curves, fits=None, bounds=None, title="Gradient of the loss reaching h_t, ‖∂L/∂h_t‖",
                    y_label="‖∂L/∂h_t‖ (log scale)", x_label="time step t", names=None, log_y=True):
    """influence_figure for gradient_curve: how much of ∂L/∂h_{T−1} survives back to step t."""
    return influence_figure(curves, fits, bounds, title, y_label, x_label, names, log_y)


def perturbation_figure(curves, fits=None, bounds=None, title="Effect on h_t of perturbing x_0, ‖h′_t − h_t‖",
                        y_label="‖h′_t − h_t‖ (log scale)", x_label="time step t", names=None, log_y=True):
    """influence_figure for perturbation_curve: the distance between the states of x and of x with x_0 nudged.
    A note on the figure says where such a curve flattens: at the rounding of h_t (eps·‖h_t‖), not at a memory."""
    fig = influence_figure(curves, fits, bounds, title, y_label, x_label, names, log_y)
    return fig.add_annotation(text=PRECISION_NOTE, xref="paper", yref="paper", x=1, y=1, xanchor="right",
                              yanchor="bottom", showarrow=False, align="right", font=dict(size=10, color=REFERENCE))


def saliency_figure(curves, fits=None, bounds=None, title="Sensitivity of the loss to each input, ‖∂L/∂x_t‖",
                    y_label="‖∂L/∂x_t‖ (log scale)", x_label="time step t", names=None, log_y=True):
    """influence_figure for saliency_curve: which inputs x_t the prediction still depends on."""
    return influence_figure(curves, fits, bounds, title, y_label, x_label, names, log_y)


# ---------------------------------------------------------------------------------------------- states

def _columns(T, max_columns):
    """The steps a heat map of T steps draws as its columns: all of them up to max_columns, past that every k-th,
    k = ⌈T / max_columns⌉, so that what is sent to the browser stays bounded whatever T (a chart is about a
    thousand pixels wide: more columns than that are not seen anyway); with the axis title saying so."""
    if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise ValueError(f"max_columns must be an integer ≥ 1, got {max_columns!r}")
    k = -(-T // max_columns)
    steps = np.arange(0, T, k)
    return k, steps, "time step t" if k == 1 else f"time step t (one step in {k}: {len(steps):,} of {T:,} drawn)"


def state_heatmap(states, tokens=None, title="Hidden state h_t, unit by unit", max_columns=1000):
    """h_t,i as colour, hidden unit i (rows) against time step t (columns), red < 0 < blue centred on 0, on
    [−1, 1] (tanh's range) or wider if a state leaves it. states: (T, hidden) array or a Trajectory; tokens: T
    words (or token ids), named in the hover of their step; the axis counts steps. Past max_columns steps it
    draws every k-th step only (h_0, h_k, h_2k, …; the axis title names k), the colour range still from all."""
    if hasattr(states, "states"):
        tokens = getattr(states, "tokens", None) if tokens is None else tokens
        states = states.states
    h = _array(states, "states", ndim=2)
    T, hidden = h.shape
    finite = np.abs(h[np.isfinite(h)])
    limit = max(1.0, float(finite.max(initial=0.0)))
    k, t, x_label = _columns(T, max_columns)
    hover, text = "t = %{x}", None
    if tokens is not None:
        tokens = _text(tokens)
        if len(tokens) != T:
            raise ValueError(f"tokens must hold one word per time step, T = {T}, got {len(tokens)}")
        hover, text = "t = %{x}, token %{text}", [tokens[::k]] * hidden
    fig = go.Figure(go.Heatmap(z=h[::k].T, x=t, y=np.arange(hidden), text=text, name="h_t", colorscale="RdBu",
                               zmid=0.0, zmin=-limit, zmax=limit, colorbar=dict(title="h_t,i (activation)"),
                               hovertemplate=hover + "<br>unit i = %{y}<br>h_t,i = %{z:.6g}<extra></extra>"))
    return _layout(fig, title, x_label, "hidden unit i (index)")


def trajectory_figure(trajectory, title="Path of h_t through its principal components"):
    """The states h_0 … h_{T−1} projected on their first principal components, joined in order, time as colour;
    3-D when there are 3 components or more, PC1 against t when there is one. trajectory: a Trajectory (pca,
    explained_variance_ratio, tokens) or a (T, k) array of projections."""
    pca = _array(getattr(trajectory, "pca", trajectory), "trajectory.pca", ndim=2)
    T, k = pca.shape
    k = min(k, 3)
    ratio = getattr(trajectory, "explained_variance_ratio", None)
    tokens = getattr(trajectory, "tokens", None)
    short = [f"PC{i + 1}" for i in range(k)]
    labels = [f"{pc} of h_t" + ("" if ratio is None else f" ({100 * ratio[i]:.1f}% of variance)")
              for i, pc in enumerate(short)]
    t = np.arange(T)
    if k == 1:
        pca, short, labels, k = np.column_stack([t, pca[:, 0]]), ["t"] + short, ["time step t"] + labels, 2
    text = None if tokens is None else _text(tokens)
    if text is not None and len(text) != T:
        raise ValueError(f"trajectory.tokens must hold one word per time step, T = {T}, got {len(text)}")
    coords = "".join(f"<br>{pc} = %{{{axis}:.4g}}" for pc, axis in zip(short, "xyz"))
    common = dict(mode="lines+markers", name="h_t", customdata=t, text=text,
                  marker=dict(color=t, colorscale="Viridis", colorbar=dict(title="time step t"), size=5),
                  line=dict(color="#aaaaaa", width=2),
                  hovertemplate="t = %{customdata}" + (": %{text}" if text else "") + coords + "<extra></extra>")
    if k == 3:
        fig = go.Figure(go.Scatter3d(x=pca[:, 0], y=pca[:, 1], z=pca[:, 2], **common))
        fig.update_layout(title=title, template=TEMPLATE,
                          scene=dict(xaxis_title=labels[0], yaxis_title=labels[1], zaxis_title=labels[2]))
        return fig
    fig = go.Figure(go.Scatter(x=pca[:, 0], y=pca[:, 1], **common))
    return _layout(fig, title, labels[0], labels[1])


def saturation_figure(trajectories, names=None, title="Saturated hidden units over time"):
    """The fraction of hidden units at the flat ends of φ (where φ′ ≈ 0 stops the gradient) at each step t.
    trajectories: a Trajectory or (T,) array of fractions, or a dict name → either."""
    fig = go.Figure()
    items = _as_named(trajectories, "trajectories", "saturation")
    names = _names(items, names)
    for name, item in items.items():
        s = _array(getattr(item, "saturation", item), f"trajectories[{name!r}].saturation")
        fig.add_trace(go.Scatter(x=np.arange(len(s)), y=s, mode="lines", name=name, legendgroup=name,
                                 line=dict(color=color_for(name, names)),
                                 hovertemplate="<b>%{fullData.name}</b><br>t = %{x}<br>"
                                               "saturated = %{y:.4g}<extra></extra>"))
    _layout(fig, title, "time step t", "saturated units (fraction of hidden units)")
    return fig.update_yaxes(range=[-0.02, 1.02])


GATE_LABELS = {"i": "input gate σ(i_t)", "f": "forget gate σ(f_t)", "z": "update gate z_t (keeps h_{t−1})"}


def gates_figure(trajectory, tokens=None, title="Gates over time: how much of the memory each unit keeps or lets in",
                 max_ticks=50, max_columns=1000):
    """An LSTM's or GRU's gates along one input (rnnlab.trajectories.state_trajectory): per gate a heat map of
    its activation in [0, 1], hidden unit i (rows) against time step t (columns), and below them each gate's
    mean over the units as a line. A forget gate (or a GRU's z) near 1 keeps the memory, near 0 wipes it.
    trajectory: a Trajectory (gates, tokens) or a dict gate name → (T, hidden) array; names "i", "f", "z" get
    their labels from GATE_LABELS. tokens: T words shown under their step (default: the trajectory's; at most
    max_ticks labels, the hover names every one). Past max_columns steps, heat maps and means are drawn at every
    k-th step only, as in state_heatmap."""
    gates = getattr(trajectory, "gates", trajectory)
    if gates is None:
        raise ValueError("trajectory.gates is None: a SimpleRNN has no gates (its memory shows in "
                         "saturation_figure)")
    if not isinstance(gates, Mapping) or not gates:
        raise TypeError(f"trajectory.gates must be a non-empty dict gate name → (T, hidden) array, got "
                        f"{type(gates).__name__}")
    arrays = {name: _array(g, f"trajectory.gates[{name!r}]", ndim=2) for name, g in gates.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"trajectory.gates must all have one shape (T, hidden), got {sorted(shapes)}")
    T, hidden = shapes.pop()
    labels = {name: GATE_LABELS.get(name, str(name)) for name in arrays}
    tokens = getattr(trajectory, "tokens", None) if tokens is None else tokens
    k, t, x_label = _columns(T, max_columns)
    arrays = {name: g[::k] for name, g in arrays.items()}
    hover = "t = %{x}"
    if tokens is not None:
        tokens = _text(tokens)
        if len(tokens) != T:
            raise ValueError(f"trajectory.tokens must hold one word per time step, T = {T}, got {len(tokens)}")
        tokens, hover, x_label = tokens[::k], "t = %{x}: %{text}", x_label.replace("time step", "token at time step")
    n = len(arrays)
    fig = make_subplots(rows=n + 1, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[*labels.values(), "mean over the hidden units"])
    for row, (name, g) in enumerate(arrays.items(), start=1):
        fig.add_trace(go.Heatmap(z=g.T, x=t, y=np.arange(hidden), name=labels[name], coloraxis="coloraxis",
                                 text=None if tokens is None else [tokens] * hidden,
                                 hovertemplate=f"<b>{labels[name]}</b><br>{hover}<br>unit i = %{{y}}"
                                               "<br>gate = %{z:.4g}<extra></extra>"), row=row, col=1)
        fig.update_yaxes(title_text="hidden unit i (index)", row=row, col=1)
    for k, (name, g) in enumerate(arrays.items()):
        fig.add_trace(go.Scatter(x=t, y=g.mean(1), mode="lines", name=f"mean {labels[name]}", text=tokens,
                                 line=dict(color=PALETTE[k % len(PALETTE)]),
                                 hovertemplate=f"<b>mean {labels[name]}</b><br>{hover}"
                                               "<br>mean = %{y:.4g}<extra></extra>"), row=n + 1, col=1)
    fig.update_yaxes(title_text="mean gate (0 … 1)", range=[-0.02, 1.02], row=n + 1, col=1)
    fig.update_xaxes(title_text=x_label, row=n + 1, col=1)
    fig.update_layout(title=title, template=TEMPLATE, hovermode="closest", height=220 * (n + 1) + 120,
                      coloraxis=dict(colorscale="Viridis", cmin=0.0, cmax=1.0,
                                     colorbar=dict(title="gate (0 … 1)", len=n / (n + 1), y=1, yanchor="top")),
                      legend=dict(orientation="h", y=-0.12))
    return fig if tokens is None else _tick_words(fig, tokens, max_ticks, t)


def spectrum_figure(spectra, names=None, title="Eigenvalues λ of A_h and the unit circle"):
    """Eigenvalues λ of the recurrent matrix A_h in the complex plane, with the unit circle |λ| = 1: for a linear
    RNN h_t = A_h·h_{t−1}, memory decays as ρ(A_h)^t with ρ = max |λ|. Equal scale on both axes.
    spectra: a Spectrum (eigenvalues, spectral_radius, sigma_max) or an array of eigenvalues, or a dict of them."""
    items = _as_named(spectra, "spectra", "A_h")
    names = _names(items, names)
    theta = np.linspace(0.0, 2 * np.pi, 361)
    fig = go.Figure(go.Scatter(x=np.cos(theta), y=np.sin(theta), mode="lines", name="unit circle |λ| = 1",
                               line=dict(color=REFERENCE, width=1), hoverinfo="skip"))
    largest = 1.0
    for name, item in items.items():
        ev = getattr(item, "eigenvalues", item)
        ev = np.asarray(ev.detach().cpu().numpy() if hasattr(ev, "detach") else ev).ravel()
        if ev.size == 0 or not np.issubdtype(ev.dtype, np.number):
            raise ValueError(f"spectra[{name!r}] must hold a non-empty array of eigenvalues, got {ev!r}")
        ev = ev.astype(np.complex128)
        rho = float(getattr(item, "spectral_radius", np.abs(ev).max()))
        sigma = getattr(item, "sigma_max", None)
        label = f"{name}: ρ = {rho:.4g}" + ("" if sigma is None else f", σ_max = {float(sigma):.4g}")
        largest = max(largest, float(np.abs(ev).max()))
        gates = getattr(item, "gates", None)  # the gate block of each eigenvalue of an LSTM or GRU
        fig.add_trace(go.Scatter(x=ev.real, y=ev.imag, mode="markers", name=label, legendgroup=name,
                                 customdata=np.abs(ev), text=None if gates is None else [str(g) for g in gates],
                                 marker=dict(color=color_for(name, names), size=7),
                                 hovertemplate=f"<b>{name}</b>" + ("" if gates is None else " block %{text}")
                                               + "<br>Re λ = %{x:.6g}<br>Im λ = %{y:.6g}"
                                               "<br>|λ| = %{customdata:.6g}<extra></extra>"))
    _layout(fig, title, "Re λ (real part, unitless)", "Im λ (imaginary part, unitless)")
    r = 1.1 * largest
    fig.update_xaxes(range=[-r, r], zeroline=True)
    return fig.update_yaxes(range=[-r, r], zeroline=True, scaleanchor="x", scaleratio=1)


# ---------------------------------------------------------------------------------------------- profiles

def memory_profile_figure(profiles, names=None, title="Memory profile: r² of recalling x_{t−k} from h_t"):
    """r²_k of the best linear read-out of x_{t−k} from h_t against the lag k; the capacity Σ_k r²_k is in the
    legend. profiles: dict name → MemoryProfile (lags, r2, capacity), or one MemoryProfile."""
    items = _as_named(profiles, "profiles", "memory")
    names = _names(items, names)
    fig = go.Figure()
    for name, p in items.items():
        lags = _array(_get(p, "lags", f"profiles[{name!r}]"), f"profiles[{name!r}].lags")
        r2 = _array(_get(p, "r2", f"profiles[{name!r}]"), f"profiles[{name!r}].r2")
        if len(r2) != len(lags):
            raise ValueError(f"profiles[{name!r}].r2 must have one value per lag ({len(lags)}), got {len(r2)}")
        capacity = float(_get(p, "capacity", f"profiles[{name!r}]"))
        fig.add_trace(go.Scatter(x=lags, y=r2, mode="lines+markers", name=f"{name} (capacity {capacity:.4g})",
                                 legendgroup=name, line=dict(color=color_for(name, names)),
                                 hovertemplate=f"<b>{name}</b><br>lag k = %{{x}}<br>r² = %{{y:.6g}}<extra></extra>"))
    return _layout(fig, title, "lag k (steps)", "r² (fraction of the variance of x_{t−k} recalled)")


def accuracy_vs_lag_figure(profiles, names=None, title="Test accuracy against the lag to recall",
                           x_label="lag k (steps)"):
    """Accuracy of a trained network on a task whose answer lies k steps back, against k; chance level dashed.
    profiles: dict name → DependencyProfile (lags, accuracy, chance, and optional lower, upper: an error band,
    e.g. mean ± std or a 95% interval across seeds), or one DependencyProfile. A sweep's accuracy against another
    field (rnnlab.sweeps.profiles(x=...)) names that field in x_label."""
    items = _as_named(profiles, "profiles", "accuracy")
    names = _names(items, names)
    fig = go.Figure()
    chances, all_lags = [], []
    for name, p in items.items():
        arg = f"profiles[{name!r}]"
        lags = _array(_get(p, "lags", arg), f"{arg}.lags")
        acc = _array(_get(p, "accuracy", arg), f"{arg}.accuracy")
        if len(acc) != len(lags):
            raise ValueError(f"{arg}.accuracy must have one value per lag ({len(lags)}), got {len(acc)}")
        color = color_for(name, names)
        lower, upper = _get(p, "lower", arg, None), _get(p, "upper", arg, None)
        hover = f"<b>{name}</b><br>{x_label.split(' (')[0]} = %{{x}}<br>accuracy = %{{y:.6g}}"
        customdata = None
        if lower is not None and upper is not None:
            lower, upper = _array(lower, f"{arg}.lower"), _array(upper, f"{arg}.upper")
            if not len(lower) == len(upper) == len(lags):
                raise ValueError(f"{arg}.lower and .upper must have one value per lag ({len(lags)}), "
                                 f"got {len(lower)} and {len(upper)}")
            fig.add_trace(go.Scatter(x=np.concatenate([lags, lags[::-1]]), y=np.concatenate([upper, lower[::-1]]),
                                     fill="toself", fillcolor=_rgba(color, 0.2), line=dict(width=0, color=color),
                                     mode="lines", name=f"{name} band", legendgroup=name, showlegend=False,
                                     hoverinfo="skip"))
            customdata = np.stack([lower, upper], axis=1)
            hover += "<br>band [%{customdata[0]:.6g}, %{customdata[1]:.6g}]"
        fig.add_trace(go.Scatter(x=lags, y=acc, mode="lines+markers", name=name, legendgroup=name,
                                 line=dict(color=color), customdata=customdata,
                                 hovertemplate=hover + "<extra></extra>"))
        chance = float(_get(p, "chance", arg))
        if chance not in chances:
            chances.append(chance)
        all_lags.append(lags)
    lags = np.concatenate(all_lags)
    for chance in chances:
        fig.add_trace(go.Scatter(x=[lags.min(), lags.max()], y=[chance, chance], mode="lines",
                                 name=f"chance {chance:.3g}", line=dict(color=REFERENCE, dash=CHANCE_DASH),
                                 hovertemplate=f"chance = {chance:.6g}<extra></extra>"))
    _layout(fig, title, x_label, "test accuracy (fraction)")
    return fig.update_yaxes(range=[-0.02, 1.02])


STATISTICS = {  # rnnlab.sweeps.summarize's statistics: the y axis of summary_figure
    "test_accuracy": "test accuracy (fraction)",
    "test_loss": "test loss (mean per example)",
    "time_constant": "time constant τ of ‖∂h_t/∂x_0‖ (steps)",
    "horizon": "horizon of ‖∂h_t/∂x_0‖ (steps)",
}

FIELD_LABELS = {  # RunConfig fields as axis titles, with their unit where they have one
    "lag": "lag k (steps)",
    "length": "length T (steps)",
    "hidden_size": "hidden_size (units of h_t)",
    "embedding_dim": "embedding_dim (dimensions of x_t)",
    "num_symbols": "num_symbols (symbols)",
    "n_train": "n_train (sequences)",
    "n_test": "n_test (sequences)",
    "epochs": "epochs (passes over the training set)",
    "batch_size": "batch_size (sequences)",
    "spectral_radius": "spectral_radius ρ (max |λ| of A_h)",
    "lr": "lr (learning rate)",
    "clip": "clip (max global gradient norm)",
}


def _order(value):
    """Sort key of a field's values: numbers by value, then anything else (None, names) by its text."""
    return (0, value) if isinstance(value, Real) and not isinstance(value, bool) else (1, str(value))


def _chance(rows, statistic):
    """The chance level on the statistic's axis, or None. summarize's chance is what guessing scores
    (rnnlab.tasks.chance_level): an accuracy for a classification task; for a regression task (whose accuracy
    summarize leaves None) the MSE of a constant answer, on the scale of its test loss. Drawn where every row with
    a value shares one chance that means what the axis means."""
    scale = {"test_accuracy": "accuracy", "test_loss": "mse"}.get(statistic)  # a decay has no chance level
    shown = [r for r in rows if r[f"{statistic}_mean"] is not None]
    kinds = {"mse" if r.get("test_accuracy_mean", math.nan) is None else "accuracy" for r in shown}
    chances = {r.get("chance") for r in shown}
    if kinds == {scale} and len(chances) == 1 and None not in chances:
        return float(chances.pop())
    return None


def summary_figure(summary, statistic="test_accuracy", by="cell", x=None, band="interval", names=None,
                   title=None):
    """A statistic of a sweep's groups side by side: one bar per group (a colour per value of `by`) at its mean
    across seeds, with an error bar: the summary's t-interval (band="interval"), ± one standard deviation ("std")
    or none (None); the groups' bars stand side by side at each value of the field `x`, in its order (one place if
    x is None). The number of seeds and the interval are in the hover and the text; figure_data has the exact mean
    (y) and the error bar's ends (lower, upper). Chance is dashed where it is on the axis's scale: the test accuracy
    of a classification task, the test loss (MSE) of a regression task. A mean that is not finite (a horizon beyond
    the sequence, a time constant of a curve that never decays) or missing (the test accuracy of a regression task)
    gets no bar: a note above its place says why.

    summary: rows of rnnlab.sweeps.summarize (dicts: the fields, n, chance, <statistic>_mean, _std, _lower,
    _upper), grouped by `by` and x. by: a field or a list of them (groups then read "cell=lstm, hidden_size=32").
    names: every group's name in colour order, to keep the colours."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(map(repr, STATISTICS))}, got {statistic!r}")
    if band not in ("interval", "std", None):
        raise ValueError(f"band must be 'interval' or 'std' (or None: no band), got {band!r}")
    by = [by] if isinstance(by, str) else by
    if not isinstance(by, (list, tuple)) or not by or not all(isinstance(b, str) for b in by):
        raise ValueError(f"by must name a field or a non-empty list of fields, got {by!r}")
    by = list(by)
    if x in by:
        raise ValueError(f"x must name a field that is not in by ({by}), got {x!r}")
    rows = list(summary)
    if not rows:
        raise ValueError("summary must hold at least one row, got none")
    keys = by + ([] if x is None else [x])
    columns = [f"{statistic}_{part}" for part in ("mean", "std", "lower", "upper")]
    for row in rows:
        missing = [k for k in keys + ["n"] + columns if k not in row]
        if missing:
            raise ValueError(f"summary rows must have {missing} (rnnlab.sweeps.summarize grouped by "
                             + " and ".join(map(repr, keys))
                             + (", influence=True" if statistic in ("time_constant", "horizon") else "") + ")")
    groups = {}
    for row in rows:
        name = str(row[by[0]]) if len(by) == 1 else ", ".join(f"{k}={row[k]}" for k in by)
        groups.setdefault(name, []).append(row)
    names = _names(groups, names, "groups")
    if x is not None:  # places in the order of x; the groups keep their order of first appearance
        groups = {name: sorted(group, key=lambda r: _order(r[x])) for name, group in groups.items()}
        rows = sorted(rows, key=lambda r: _order(r[x]))
    label = STATISTICS[statistic]
    value = label.split(" (")[0]
    spread = {"interval": "{:.0%} interval".format(rows[0].get("level", 0.95)), "std": "± 1 std", None: ""}[band]
    fig = go.Figure()
    notes = {}  # place → why a group has no bar there → the groups
    for name, group in groups.items():
        group_name = f"{by[0]} = {name}" if len(by) == 1 else name
        places = [f"{x} = {r[x]}" if x is not None else value for r in group]
        if len(set(places)) != len(places):
            raise ValueError(f"group {group_name} has more than one row per {x or 'group'}: the summary is also "
                             f"grouped by another field; summarize the runs at one value of it, or make it x")
        absent = [r[columns[0]] is None for r in group]  # the task has no such statistic (summarize's None)
        mean, std, lower, upper = (np.array([np.nan if r[c] is None else r[c] for r in group], dtype=np.float64)
                                   for c in columns)
        if band != "interval":
            lower, upper = mean - std, mean + std
        finite = np.isfinite(mean)
        for place, ok, no in zip(places, finite, absent):
            if not ok:
                why = f"no {value} for this task" if no else "not finite (∞ or nan)"
                notes.setdefault(place, {}).setdefault(why, []).append(name)
        text = [(f"no {value} for this task" if no else
                 f"{m:.4g}" + ("" if band is None or not np.isfinite(lo) else f", {spread} [{lo:.4g}, {hi:.4g}]"))
                + f", {r['n']} seed{'s' if r['n'] != 1 else ''}"
                for no, m, lo, hi, r in zip(absent, mean, lower, upper, group)]
        error = None
        if band is not None:
            error = dict(type="data", array=np.where(finite, upper - mean, np.nan),
                         arrayminus=np.where(finite, mean - lower, np.nan), visible=True, thickness=1.5, width=6)
        # y is the mean itself: plotly draws no bar for inf or nan, and figure_data keeps the value
        fig.add_trace(go.Bar(x=places, y=mean, name=name, legendgroup=name, marker_color=color_for(name, names),
                             error_y=error, text=text, textposition="none",
                             hovertemplate=f"<b>{group_name}</b><br>%{{x}}<br>{value} = %{{text}}<extra></extra>"))
    for place, why in notes.items():
        fig.add_annotation(x=place, y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text="<br>".join(f"{reason}: {', '.join(which)}" for reason, which in why.items()))
    chance = _chance(rows, statistic)
    if chance is not None:
        fig.add_hline(y=chance, line=dict(color=REFERENCE, dash=CHANCE_DASH),
                      annotation_text=f"chance {chance:.3g}" if statistic == "test_accuracy"
                      else f"chance: MSE {chance:.3g} of a constant answer")
    if title is None:
        title = (f"{value[0].upper()}{value[1:]} by {' and '.join(by)}" + ("" if x is None else f" at each {x}")
                 + ": mean across seeds" + {"interval": f" and its {spread}", "std": " ± 1 std", None: ""}[band])
    _layout(fig, title, f"one bar per {', '.join(by)}" if x is None else FIELD_LABELS.get(x, x), label)
    places = list(dict.fromkeys(f"{x} = {r[x]}" if x is not None else value for r in rows))
    fig.update_xaxes(categoryorder="array", categoryarray=places)
    fig.update_layout(barmode="group", legend_title_text=", ".join(by))
    if statistic == "test_accuracy":
        fig.update_yaxes(range=[0, 1.02])
    return fig


# ---------------------------------------------------------------------------------------------- training, size

def history_figure(histories, names=None, title="Training history: loss and accuracy per epoch"):
    """Loss (left) and accuracy (right) after each epoch, train solid and validation dashed; the seconds each
    epoch took in the hover, the epoch early stopping restored dotted. histories: a History (or dict with its
    keys loss, accuracy, val_loss, val_accuracy, seconds), or a dict name → History."""
    single = not isinstance(histories, Mapping) or "loss" in histories
    items = {"": histories} if single else _as_named(histories, "histories", "")
    names = _names(items, names)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"), horizontal_spacing=0.12)
    for name, h in items.items():
        color = color_for(name, names)
        seconds = _get(h, "seconds", f"histories[{name!r}]", None)
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for split, key, dash in (("train", metric, None), ("validation", f"val_{metric}", "dash")):
                values = _get(h, key, f"histories[{name!r}]", None)
                if values is None or len(values) == 0:
                    continue
                y = _array(values, f"histories[{name!r}].{key}")
                epochs = np.arange(1, len(y) + 1)
                timed = seconds is not None and len(seconds) == len(y)
                label = f"{name} {split}" if name else split
                fig.add_trace(go.Scatter(
                    x=epochs, y=y, mode="lines+markers", name=label, legendgroup=label, showlegend=col == 1,
                    line=dict(color=color, dash=dash), customdata=np.asarray(seconds, float) if timed else None,
                    hovertemplate=f"<b>{label}</b><br>epoch %{{x}}<br>{metric} = %{{y:.6g}}"
                                  + ("<br>epoch took %{customdata:.3g} s" if timed else "") + "<extra></extra>"),
                    row=1, col=col)
        best = _get(h, "best_epoch", f"histories[{name!r}]", None)
        if best is not None:
            fig.add_vline(x=best, line=dict(color=color, dash=BOUND_DASH, width=1),
                          annotation_text=f"{name} best epoch" if name else "best epoch")
    if not fig.data:
        raise ValueError("histories must hold at least one epoch of loss or accuracy, got none")
    fig.update_layout(title=title, template=TEMPLATE, hovermode="closest")
    fig.update_xaxes(title_text="epoch (passes over the training set)", tick0=1, dtick=1)  # whole epochs only
    fig.update_yaxes(title_text="loss (mean per example)", row=1, col=1)
    return fig.update_yaxes(title_text="accuracy (fraction)", row=1, col=2)


def _row(row):
    """(layer, type, output_shape, params, formula) of a summary row: an object, a dict or a tuple."""
    if isinstance(row, (tuple, list)):
        layer, kind, shape, params = row[:4]
        return str(layer), str(kind), shape, int(params), ""
    get = (lambda k, d=_REQUIRED: _get(row, k, "summary row", d))
    return str(get("layer")), str(get("type")), get("output_shape"), int(get("params")), get("formula", "") or ""


def _shape(shape):
    if isinstance(shape, (tuple, list)):
        return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
    return str(shape)


def params_figure(summaries, names=None, title="Parameters per layer", log_y=False):
    """Parameter count of each layer as bars, grouped by configuration, the exact count on each bar and in the
    hover (with the formula when the summary gives one). summaries: rnnlab.params.summary(model) (rows, total)
    or a dict name → summary."""
    single = not isinstance(summaries, Mapping) or "rows" in summaries
    items = {"model": summaries} if single else _as_named(summaries, "summaries", "model")
    names = _names(items, names)
    fig = go.Figure()
    for name, s in items.items():
        rows = [_row(r) for r in _get(s, "rows", f"summaries[{name!r}]")]
        if not rows:
            raise ValueError(f"summaries[{name!r}] must have at least one row, got none")
        total = int(_get(s, "total", f"summaries[{name!r}]", sum(r[3] for r in rows)))
        fig.add_trace(go.Bar(
            x=[r[0] for r in rows], y=[r[3] for r in rows], name=f"{name} (total {total:,})", legendgroup=name,
            marker_color=color_for(name, names), text=[f"{r[3]:,}" for r in rows], textposition="outside",
            customdata=[[r[1], _shape(r[2]), r[4]] for r in rows],
            hovertemplate=f"<b>{name}</b><br>%{{x}} (%{{customdata[0]}}), output %{{customdata[1]}}"
                          "<br>%{y:,} parameters<br>%{customdata[2]}<extra></extra>"))
    if single:
        title = f"{title} (total {total:,})"
    _layout(fig, title, "layer", "parameters (count" + (", log scale)" if log_y else ")"), log_y)
    return fig.update_layout(barmode="group")


# ---------------------------------------------------------------------------------------------- export

def _cell(v):
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # the shortest text that reads back as the same float
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def _points(values, n):
    if values is None:
        return [None] * n
    if isinstance(values, str):
        return [values] * n
    return list(values)


def _trace_rows(trace):
    name = trace.name or trace.type
    if trace.type == "heatmap":
        z = np.asarray(trace.z)
        x = range(z.shape[1]) if trace.x is None else list(trace.x)
        y = range(z.shape[0]) if trace.y is None else list(trace.y)
        text = trace.text
        for i, yi in enumerate(y):
            for j, xj in enumerate(x):
                yield name, xj, yi, z[i, j], None if text is None else text[i][j], None, None
        return
    z = getattr(trace, "z", None) if trace.type == "scatter3d" else None
    n = max(len(v) for v in (trace.x, trace.y, z) if v is not None)
    lower = upper = None
    error = getattr(trace, "error_y", None)  # data error bars reach from y − arrayminus to y + array
    if error is not None and error.array is not None:
        y, plus = np.asarray(trace.y, dtype=np.float64), np.asarray(error.array, dtype=np.float64)
        minus = plus if error.arrayminus is None else np.asarray(error.arrayminus, dtype=np.float64)
        lower, upper = y - minus, y + plus
    yield from zip([name] * n, _points(trace.x, n), _points(trace.y, n), _points(z, n), _points(trace.text, n),
                   _points(lower, n), _points(upper, n))


def figure_data(fig):
    """The numbers behind a figure as CSV text, one row per point (per cell of a heat map), columns trace, x, y,
    z, text (the point's label: a token, a count), and lower, upper (the ends of its error bar) when the figure
    has error bars. Floats are written so that float() reads them back exactly; points come in the order drawn
    (a trajectory's row i is h_i)."""
    rows = [row for trace in fig.data for row in _trace_rows(trace)]
    bounds = any(row[5] is not None for row in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trace", "x", "y", "z", "text"] + (["lower", "upper"] if bounds else []))
    # labels were escaped for plotly's HTML rendering: the file gets the words themselves
    writer.writerows([_cell(v) for v in row[:4]] + [html.unescape(_cell(row[4]))]
                     + ([_cell(v) for v in row[5:]] if bounds else []) for row in rows)
    return out.getvalue()


def figure_html(fig):
    """A standalone HTML page of the figure with plotly.js inline (about 5 MB), so it opens without a network."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


# ---------------------------------------------------------------------------------------------- text

# ColorBrewer's RdBu ends, as in state_heatmap: red < 0 < blue
NEGATIVE, POSITIVE = (178, 24, 43), (33, 102, 172)


def _tick_words(fig, tokens, max_ticks, t=None):
    """Words under their positions t (default 0, 1, …) on every x axis, at most max_ticks of them (the hover names
    every word)."""
    t = np.arange(len(tokens)) if t is None else t
    step = math.ceil(len(tokens) / max_ticks)
    return fig.update_xaxes(tickmode="array", tickvals=t[::step], ticktext=tokens[::step], tickangle=-45)


def _log_ticks(values):
    """Tick values 1, 2, 5 × 10^n spanning the positive finite values (powers of ten only past 3 decades), so that
    a log axis of a narrow range reads "0.2 0.5 1 2 5" rather than plotly's bare leading digits."""
    v = values[np.isfinite(values) & (values > 0)]
    if not v.size:
        return None
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    steps = (1,) if hi - lo > 3 else (1, 2, 5)
    ticks = [m * 10.0 ** e for e in range(lo, hi + 1) for m in steps]
    inside = [t for t in ticks if v.min() / 1.5 <= t <= v.max() * 1.5]
    return inside if len(inside) >= 2 else ticks


def word_attribution_figure(explanation, title=None, max_ticks=60):
    """Word by word, what moved a text classifier's prediction (rnnlab.explain.explain):

    top     gradient × input a_t = Σ_d (∂y/∂e_t,d)·e_t,d, y the output logit: blue bars pushed towards positive,
            red towards negative (colour centred on 0);
    bottom  ‖∂h_{T−1}/∂e_t‖, how much the last state still depends on word t, on a log y axis (a straight line
            is an exponential decay from the end); points a log axis cannot show get an ✕ at its bottom.

    explanation: an Explanation (tokens, attribution, influence, probability) or an object or dict with them."""
    arg = "explanation"
    tokens = [str(t) for t in _get(explanation, "tokens", arg)]
    a = _array(_get(explanation, "attribution", arg), f"{arg}.attribution")
    influence = _array(_get(explanation, "influence", arg), f"{arg}.influence")
    if not len(tokens) == len(a) == len(influence):
        raise ValueError(f"{arg} must hold one attribution and one influence per token ({len(tokens)} tokens), "
                         f"got {len(a)} and {len(influence)}")
    if title is None:
        p = _get(explanation, "probability", arg, None)
        title = "Which words moved the prediction" + ("" if p is None else f": P(positive) = {float(p):.3g}")
    words, t = _text(tokens), np.arange(len(tokens))
    finite = np.abs(a[np.isfinite(a)])
    limit = float(finite.max(initial=0.0)) or 1.0
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.1,
                        subplot_titles=("gradient × input a_t: blue towards positive, red towards negative",
                                        "influence of word t on the last state, ‖∂h_{T−1}/∂e_t‖"))
    # the words as each point's text (hover, and figure_data's text column), not written on the bars
    fig.add_trace(go.Bar(x=t, y=a, name="gradient × input a_t", text=words, textposition="none",
                         marker=dict(color=a, colorscale="RdBu", cmid=0.0, cmin=-limit, cmax=limit),
                         hovertemplate="t = %{x}: %{text}<br>a_t = %{y:.6g}<extra></extra>"), row=1, col=1)
    hover = "t = %{x}: %{text}<br>‖∂h_{T−1}/∂e_t‖ = %{y:.6g}<extra></extra>"
    fig.add_trace(go.Scatter(x=t, y=influence, mode="lines+markers", name="‖∂h_{T−1}/∂e_t‖", text=words,
                             line=dict(color=PALETTE[0]), marker=dict(size=4), hovertemplate=hover), row=2, col=1)
    off = ~(np.isfinite(influence) & (influence > 0))
    if off.any():
        drawable = influence[~off]
        low = drawable.min() / 10 if drawable.size else 0.1
        fig.add_trace(go.Scatter(
            x=t[off], y=np.full(int(off.sum()), low), mode="markers", name="‖∂h_{T−1}/∂e_t‖ (off the log scale)",
            showlegend=False, marker=dict(symbol="x", size=9, color=PALETTE[0]),
            text=list(np.asarray(words)[off]), customdata=influence[off],
            hovertemplate="t = %{x}: %{text}<br>‖∂h_{T−1}/∂e_t‖ = %{customdata:.6g}, which a log axis cannot show"
                          "<extra></extra>"), row=2, col=1)
    fig.update_layout(title=title, template=TEMPLATE, hovermode="closest", showlegend=False, height=620)
    fig.update_yaxes(title_text="a_t (logit units)", row=1, col=1)
    ticks = _log_ticks(influence)
    fig.update_yaxes(title_text="‖∂h_{T−1}/∂e_t‖ (log)", type="log", row=2, col=1,
                     **({} if ticks is None else dict(tickmode="array", tickvals=ticks,
                                                       ticktext=[f"{t:g}" for t in ticks])))
    fig.update_xaxes(title_text="word t of the review, as the model reads it", row=2, col=1)
    return _tick_words(fig, words, max_ticks)


def window_accuracy_figure(results, names=None, chance=0.5, title="Accuracy from the first k or the last k words"):
    """Test accuracy when a model sees only the first k words of each review (dash-dot) or only the last k
    (solid), against k on a log x axis; its accuracy on whole reviews dashed, chance dotted. A model that reads
    only h_{T−1} and forgets fast does nearly as well from the last few dozen words as from the whole review.

    results: dict name → rnnlab.explain.window_accuracy output ({"k", "first", "last", "full"}), or one of them."""
    single = not isinstance(results, Mapping) or "k" in results
    items = {"model": results} if single else _as_named(results, "results", "model")
    names = _names(items, names)
    fig = go.Figure()
    ks = []
    for name, r in items.items():
        arg = f"results[{name!r}]"
        k = _array(_get(r, "k", arg), f"{arg}['k']")
        if (k < 1).any():
            raise ValueError(f"{arg}['k'] must hold window sizes >= 1 (a log axis), got {k.tolist()}")
        color = color_for(name, names)
        for side, dash in (("last", None), ("first", "dashdot")):
            acc = _array(_get(r, side, arg), f"{arg}[{side!r}]")
            if len(acc) != len(k):
                raise ValueError(f"{arg}[{side!r}] must have one accuracy per k ({len(k)}), got {len(acc)}")
            label = f"{name}: {side} k words"
            fig.add_trace(go.Scatter(x=k, y=acc, mode="lines+markers", name=label, legendgroup=name,
                                     line=dict(color=color, dash=dash),
                                     hovertemplate=f"<b>{label}</b><br>k = %{{x}} words kept<br>"
                                                   "accuracy = %{y:.4g}<extra></extra>"))
        full = float(_get(r, "full", arg))
        fig.add_trace(go.Scatter(x=[k.min(), k.max()], y=[full, full], mode="lines", legendgroup=name,
                                 name=f"{name}: whole review ({full:.3g})", line=dict(color=color, dash=FIT_DASH),
                                 hovertemplate=f"<b>{name}</b>: whole review<br>accuracy = {full:.4g}<extra></extra>"))
        ks.append(k)
    k = np.concatenate(ks)
    fig.add_trace(go.Scatter(x=[k.min(), k.max()], y=[chance, chance], mode="lines", name=f"chance {chance:.3g}",
                             line=dict(color=REFERENCE, dash=BOUND_DASH),
                             hovertemplate=f"chance = {chance:.4g}<extra></extra>"))
    _layout(fig, title, "words kept k (log scale)", "test accuracy (fraction)")
    ticks = np.unique(k)  # the k measured, rather than a log axis' 2 and 5 between its powers of ten
    return fig.update_xaxes(type="log", tickmode="array", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])


def highlighted_text_html(tokens, values, scale=None):
    """The words as HTML, each on a background coloured by its value: red < 0 < blue (as state_heatmap), opacity
    |value| / scale (default: the largest |value|), the exact value in a tooltip. Every word is escaped
    (html.escape), so typed text is shown, never interpreted. For st.html or st.markdown(unsafe_allow_html=True)."""
    tokens = [str(t) for t in tokens]
    v = _array(values, "values") if tokens else np.zeros(0)
    if len(v) != len(tokens):
        raise ValueError(f"values must hold one number per token ({len(tokens)}), got {len(v)}")
    finite = np.abs(v[np.isfinite(v)])
    if scale is None:
        scale = float(finite.max(initial=0.0)) or 1.0
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0 or None, got {scale!r}")
    spans = []
    for word, value in zip(tokens, v):
        alpha = min(1.0, abs(value) / scale) if math.isfinite(value) else 0.0
        r, g, b = POSITIVE if value > 0 else NEGATIVE
        ink = "#ffffff" if alpha > 0.55 else "inherit"  # dark backgrounds need light letters
        spans.append(f'<span title="{html.escape(f"{word}: {value:+.4g}")}" style="background-color: '
                     f'rgba({r},{g},{b},{0.85 * alpha:.3f}); color: {ink}; padding: 0.1em 0.2em; '
                     f'border-radius: 0.25em">{html.escape(word)}</span>')
    return f'<div style="line-height: 2.1">{" ".join(spans)}</div>'


# ---------------------------------------------------------------------------------------------- the lesson

def lesson_accuracy_figure(lesson, title="Recall of the marked symbol against its lag"):
    """Test accuracy against the lag for each configuration of a lesson summary (rnnlab.lesson.load()), with the
    t-interval across seeds as a band and chance dashed; the lag on a log axis (lags double)."""
    groups = {}
    for row in lesson["accuracy"]:
        groups.setdefault(row["name"], []).append(row)
    profiles = {}
    for label, rows in groups.items():
        rows = sorted(rows, key=lambda r: r["lag"])
        value = lambda key: np.array([math.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)
        mean, lower, upper = value("test_accuracy_mean"), value("test_accuracy_lower"), value("test_accuracy_upper")
        lower, upper = np.where(np.isnan(lower), mean, lower), np.where(np.isnan(upper), mean, upper)
        profiles[label] = dict(lags=np.array([r["lag"] for r in rows]), accuracy=mean, chance=rows[0]["chance"],
                               lower=np.clip(lower, 0, 1), upper=np.clip(upper, 0, 1))
    fig = accuracy_vs_lag_figure(profiles, names=lesson["groups"], title=title,
                                 x_label="lag k between the marked step and the end (steps, log scale)")
    return fig.update_xaxes(type="log")


def reach_figure(lesson, title="Reach: the longest lag each configuration learns, per seed"):
    """One bar per configuration at its mean reach over seeds, the 95% t-interval as an error bar and each seed as a
    point; a reach at the search's limit (max_lag) is at least that, said in the hover."""
    fig = go.Figure()
    names = lesson["groups"]
    for label in names:
        found = lesson["reach"][label]
        seeds = [int(s) for s in found["per_seed"]]
        values = [found["per_seed"][str(s)] for s in seeds]
        color = color_for(label, names)
        lower, upper = found["lower"], found["upper"]
        error = None if lower is None or upper is None else dict(
            type="data", symmetric=False, array=[upper - found["mean"]], arrayminus=[found["mean"] - lower])
        fig.add_trace(go.Bar(x=[label], y=[found["mean"]], name=label, marker_color=_rgba(color, 0.6), error_y=error,
                             legendgroup=label, hovertemplate=f"<b>{label}</b><br>mean reach %{{y:.4g}} steps"
                             + (f"<br>95% interval [{lower:.4g}, {upper:.4g}]" if error else "") + "<extra></extra>"))
        at_limit = [" (the search's limit: at least this)" if v >= found["max_lag"] else "" for v in values]
        fig.add_trace(go.Scatter(x=[label] * len(values), y=values, mode="markers", name=f"{label} seeds",
                                 legendgroup=label, showlegend=False, marker=dict(color=color, size=9),
                                 text=[f"seed {s}: {v} steps{a}" for s, v, a in zip(seeds, values, at_limit)],
                                 hovertemplate="%{text}<extra></extra>"))
    _layout(fig, title, "configuration (32 state units each)", "reach (steps, log scale)", log_y=True)
    return fig.update_layout(showlegend=False)


def lesson_influence_figure(lesson, which="trained", title=None):
    """‖∂h_t/∂x_0‖ / ‖∂h_0/∂x_0‖ of each configuration's shown model (trained, or at initialisation), on a log
    axis, with the 10⁻³ line the horizon is read at and each horizon marked."""
    threshold = lesson["threshold"]
    curves = {label: np.array([math.nan if v is None else v for v in entry[which]["curve"]], dtype=np.float64)
              for label, entry in lesson["influence"].items()}
    title = title or f"Influence of x_0 on h_t, {'trained' if which == 'trained' else 'at initialisation'}"
    fig = influence_figure(curves, names=lesson["groups"], title=title,
                           y_label="‖∂h_t/∂x_0‖ / ‖∂h_0/∂x_0‖ (log scale)")
    T = max(len(c) for c in curves.values())
    fig.add_trace(go.Scatter(x=[0, T - 1], y=[threshold, threshold], mode="lines", name=f"forgotten: {threshold:g}",
                             line=dict(color="grey", dash=CHANCE_DASH), hovertemplate="10⁻³ of the start<extra></extra>"))
    for label, entry in lesson["influence"].items():
        horizon = entry[which]["horizon"]
        if horizon is not None:
            fig.add_trace(go.Scatter(x=[horizon], y=[threshold], mode="markers", name=f"{label} horizon {horizon}",
                                     marker=dict(symbol="diamond", size=11, color=color_for(label, lesson["groups"])),
                                     hovertemplate=f"<b>{label}</b><br>horizon t = {horizon}<extra></extra>"))
    return fig


def decay_vs_reach_figure(lesson, statistic="time_constant", title=None):
    """Each configuration and seed as a point: the time constant (or horizon) of its ‖∂h_t/∂x_0‖, at
    initialisation (hollow) and after training at its reach (filled), against the reach it measured; log axes,
    the diagonal y = x dotted."""
    label = {"time_constant": "time constant τ of ‖∂h_t/∂x_0‖ (steps, log scale)",
             "horizon": "horizon of ‖∂h_t/∂x_0‖ (steps, log scale)"}[statistic]
    fig = go.Figure()
    names = lesson["groups"]
    for when, symbol in (("at_init", "circle-open"), ("trained", "circle")):
        for name in names:
            points = [p for p in lesson["decay_vs_reach"] if p["name"] == name and p[when][statistic]]
            fig.add_trace(go.Scatter(
                x=[p["reach"] for p in points], y=[p[when][statistic] for p in points], mode="markers",
                name=f"{name}, {'at initialisation' if when == 'at_init' else 'trained'}",
                marker=dict(symbol=symbol, size=10, color=color_for(name, names)),
                text=[f"seed {p['seed']}" for p in points],
                hovertemplate=f"<b>{name}</b> %{{text}}<br>reach %{{x}} steps<br>{statistic.replace('_', ' ')} "
                              "%{y:.4g} steps<extra></extra>"))
    values = [v for p in lesson["decay_vs_reach"] for v in (p["reach"], p["at_init"][statistic],
                                                             p["trained"][statistic]) if v]
    if values:
        fig.add_trace(go.Scatter(x=[min(values), max(values)], y=[min(values), max(values)], mode="lines",
                                 name="y = x", line=dict(color="grey", dash=BOUND_DASH), hoverinfo="skip"))
    _layout(fig, title or "Does the decay predict the reach?", "reach (steps, log scale)", label, log_y=True)
    return fig.update_xaxes(type="log")
