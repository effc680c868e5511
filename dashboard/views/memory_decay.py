"""Memory decay: how fast x_0 fades from h_t, before and after training, with its time constant and bounds."""
import numpy as np
import streamlit as st

from figures import fmt, show_figure
from measurements import report, run_history
from rnnlab import plots, presets
from rnnlab.models import gate_time_constants
from rnnlab.runs import INFLUENCE_PROBES, run
from sources import AT_INIT, AtInit, StoredRun, add_to_compare, store
from uploads import Upload, model_radio
from widgets import (config_editor, errors_shown, length_select, preset_select, show_command, to_json,
                     train_with_cancel)

KEY = "decay"
TRAINED = "after training"
YOURS = "your model"

st.title("Memory decay")
st.write("Three views of how long x_0 survives in h_t, on one random sequence: its influence ‖∂h_t/∂x_0‖, the "
         "distance ‖h′_t − h_t‖ between the states when only x_0 changes, and the training gradient ‖∂L/∂h_t‖ "
         "that reaches step t from the loss at the end. Log scales: an exponential decay is a straight line.")

with st.sidebar:
    st.header("Configuration")
    yours = model_radio(f"{KEY}.model", ("Preset configuration",))
    if isinstance(yours, Upload):
        config = yours.config
    else:
        base = presets.preset(preset_select(f"{KEY}.preset"))
        config = config_editor(f"{KEY}.config", base)
    st.header("Sequence")
    length = length_select("Length T", config, f"{KEY}.length")
    seed = st.number_input("Random sequence (seed)", 0, 10_000, 0, key=f"{KEY}.seed")
    if not isinstance(yours, Upload):
        with st.expander("Training (for “after training”)", expanded=False):
            train_length = st.slider("Training length T", 5, 100, 20, key=f"{KEY}.train_length")
            lag = st.slider("Lag to recall", 0, train_length - 1, min(10, train_length - 1), key=f"{KEY}.lag",
                            help="lag_recall: the answer is the symbol `lag` steps before the end")
            epochs = st.slider("Epochs", 1, 30, 10, key=f"{KEY}.epochs")

if not isinstance(yours, Upload):
    config = config.replace(length=train_length, lag=lag, epochs=epochs)
config_json = to_json(config)

sources = {AT_INIT: AtInit()}
with errors_shown():
    if isinstance(yours, Upload):  # the person's own weights: no configuration to train
        sources = {YOURS: yours.source}
    elif config in store():
        sources[TRAINED] = StoredRun(config.hash)
    else:
        st.info(f"This configuration has not been trained on {config.task} (T = {train_length}, lag = {lag}) yet: "
                "the curves show it at initialisation.")

        def train(progress):
            live = st.empty()  # loss and accuracy after each epoch, while it trains
            run(config, store(), progress=progress,
                on_epoch=lambda epoch, model, history: live.plotly_chart(plots.history_figure(history)))

        train_with_cancel(f"{KEY}.training", f"Train it now ({epochs} epochs)", train, pending=True,
                          cancelled="Training cancelled: nothing was stored.")

with errors_shown():
    reports = {name: report(config_json, source, length, seed) for name, source in sources.items()}
    fits = {n: r.fit for n, r in reports.items()}
    spectra = {n: r.spectrum for n, r in reports.items()}
    bounds = {n: r.bound for n, r in reports.items() if r.bound is not None}

    for name, r in reports.items():
        f = r.fit
        st.subheader(name.capitalize())
        c = st.columns(3) + st.columns(3)
        c[0].metric("Time constant τ (steps)", fmt(f and f.time_constant),
                    help="1/rate of the fitted decay ‖∂h_t/∂x_0‖ ≈ a·e^(−t/τ)"
                         + (f" ({f.regime}, r² = {f.r2:.3f})" if f else ""))
        c[1].metric("Half-life (steps)", fmt(f and f.half_life), help="ln 2 · τ")
        c[2].metric("Horizon (steps)", r.horizon, help="First t where the influence is below 10⁻³ of its start")
        c[3].metric("Spectral radius ρ(A_h)", fmt(r.spectrum.spectral_radius, 4))
        c[4].metric("σ_max(A_h)", fmt(r.spectrum.sigma_max, 4),
                    help="Largest singular value: ‖∂h_t/∂h_0‖ ≤ σ_max^t for a SimpleRNN (|φ′| ≤ 1)")
        c[5].metric("Lyapunov exponent (/step)", fmt(r.lyapunov, 3),
                    help="Average log growth per step of a perturbation along this sequence: < 0 forgets")
        taus = gate_time_constants(sources[name].model(config).rnn)
        if taus is not None:  # LSTM, GRU: how long the gate that keeps the memory holds it, from its bias alone
            st.caption(f"{'Forget' if config.cell == 'lstm' else 'Update'}-gate time constants τ = 1/(1 − σ(b)) of "
                       f"the {len(taus)} units: median {fmt(taus.median().item())} steps, range "
                       f"{fmt(taus.min().item())} – {fmt(taus.max().item())}"
                       + ("." if name == YOURS else f" (init {config.init!r}"
                          f"{': log U(1, T − 1) biases' if config.init == 'chrono' else ''})."))

    influences = {n: r.influence for n, r in reports.items()}
    show_figure(plots.influence_figure(influences, fits=fits, bounds=bounds or None), "influence", f"{KEY}.influence")
    zero = {n: np.flatnonzero(c == 0) for n, c in influences.items()}
    starts = "; ".join(f"{n} from t = {t[0]:,}" for n, t in zero.items() if t.size)
    if starts:
        st.caption(f"✕ on the bottom edge: ‖∂h_t/∂x_0‖ is exactly 0 ({starts}), "
                   "below the smallest normal float64 (about 2e−308, where rnnlab flushes smaller numbers to 0): it "
                   "underflowed, or (relu) the state stopped depending on x_0. The curves are measured in float64 "
                   "already, so x_0's influence there is some 300 orders of magnitude below its start: nothing is "
                   "left to see past it; a shorter T shows the decay before it in more detail.")
    if config.cell == "simple_rnn" and len(bounds) < len(sources):
        st.caption("The bound σ_max^t·‖∂h_0/∂x_0‖ is drawn only where σ_max(A_h) ≤ 1; above 1 it grows and says "
                   "nothing about forgetting.")
    left, right = st.columns(2)
    with left:
        show_figure(plots.perturbation_figure({n: r.perturbation for n, r in reports.items()}), "perturbation",
                    f"{KEY}.perturbation")
    with right:
        show_figure(plots.gradient_figure({n: r.gradient for n, r in reports.items()}), "gradient", f"{KEY}.gradient")
    show_figure(plots.spectrum_figure(spectra), "spectrum", f"{KEY}.spectrum")

    if TRAINED in sources:
        history = run_history(config.hash)
        st.subheader("Memory while training")
        if not history.influence:
            st.info("This run was stored before rnnlab recorded ‖∂h_t/∂x_0‖ after each epoch.")
        else:
            epoch = st.slider("After epoch (0: at initialisation)", 0, len(history.influence) - 1,
                              len(history.influence) - 1, key=f"{KEY}.epoch")
            curves = {"at initialisation": history.influence[0], f"after epoch {epoch}": history.influence[epoch]}
            left, right = st.columns(2)
            with left:
                title = f"‖∂h_t/∂x_0‖ as it learns (mean of {INFLUENCE_PROBES} test sequences)"
                show_figure(plots.influence_figure(curves, title=title), "influence_by_epoch", f"{KEY}.by_epoch")
            with right:
                show_figure(plots.history_figure(history), "history", f"{KEY}.history")

with st.sidebar:
    st.header("Keep it")
    add_to_compare(config, sources.get(TRAINED, sources.get(YOURS, AtInit())), f"{KEY}.compare")
if not isinstance(yours, Upload):  # an uploaded model has no CLI command or run to name
    show_command(config, "influence", length, seed, sources[TRAINED].key if TRAINED in sources else None,
                 key=f"{KEY}.command")
