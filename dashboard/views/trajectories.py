"""State trajectories: what h_t does along one input, unit by unit, as a path, where its units saturate, and
(LSTM, GRU) what its gates do."""
import streamlit as st

from figures import fmt, show_figure
from measurements import trajectory
from rnnlab import plots, presets
from sources import AtInit, StoredRun, add_to_compare, run_details, run_labels, stored_runs
from uploads import Upload, model_radio
from widgets import (MAX_TEXT, check_length, config_editor, errors_shown, length_select, preset_select, show_command,
                     to_json, typed)

KEY = "traj"
RANDOM, TYPED, TEXT = "Random sequence of the task", "Symbols I type", "Text I type"
LENGTHS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
REVIEW = ("This movie was a waste of time. The plot made no sense and the acting was terrible, "
          "but the music was great.")

st.title("State trajectories")
st.write("The state h_t along one input: every unit over time, a few units as lines, the path of h_t through its "
         "two or three main directions (PCA), and the share of units stuck at the flat ends of φ, where φ′ ≈ 0 "
         "stops both the influence of old inputs and the gradient; for an LSTM or GRU, its gates, which keep the "
         "memory where they stay near 1.")

with st.sidebar:
    st.header("Model")
    runs = stored_runs()
    kind = model_radio(f"{KEY}.kind", ("Preset at initialisation", "Trained run from the store"),
                       disabled=not runs, help=None if runs else "No run in the store yet: train one on the Memory "
                                                                  "decay or Short vs long dependencies page, or with "
                                                                  "`rnnlab train`.")
    if isinstance(kind, Upload):
        config, source = kind.config, kind.source
    elif kind == "Trained run from the store" and runs:
        by_hash, labels = {r.hash: r for r in runs}, run_labels(runs)
        run = st.selectbox("Run", list(by_hash), format_func=labels.get, key=f"{KEY}.run",
                           help="Each run by its cell and what tells it from the other stored runs (size, task, "
                                "lag, epochs, seed, …), then its test accuracy; everything about it below")
        st.caption(run_details(by_hash[run]))
        config, source = by_hash[run].config, StoredRun(run)
    else:
        config = config_editor(f"{KEY}.config", presets.preset(preset_select(f"{KEY}.preset")))
        source = AtInit()
    st.header("Input")
    words = source.vocabulary() if config.task == "imdb" else None
    if config.task == "lag_recall":
        options = (RANDOM, TYPED)
    elif words is not None:
        options = (TEXT, RANDOM)
    else:
        options = (RANDOM,)
    how = st.radio("Input", options, key=f"{KEY}.input.{config.task}")
    if how == TYPED:
        text = st.text_input(f"Symbols 0 … {config.num_symbols - 1}, separated by spaces",
                             "1 2 3 4 5 6 7 0 " * 4, key=f"{KEY}.text",
                             help=f"Read as symbols (token ids) only, never evaluated; at most "
                                  f"{MAX_TEXT:,} characters, and as many steps as a random sequence")
    elif how == TEXT:
        text = st.text_area("A review", REVIEW, key=f"{KEY}.review",
                            help=f"Split into words and looked up in the run's vocabulary, never evaluated; at most "
                                 f"{MAX_TEXT:,} characters")
    else:
        length = length_select("Length T", config, f"{KEY}.length", default=100,
                                      lengths=LENGTHS)
        seed = st.number_input("Random sequence (seed)", 0, 10_000, 0, key=f"{KEY}.seed")
    components = st.radio("PCA components", (2, 3), key=f"{KEY}.pca", horizontal=True)

with errors_shown():
    tokens = None
    if how == TYPED:
        x = presets.parse_symbols(typed(text, "Symbols"), config.num_symbols)
    elif how == TEXT:
        x, tokens = presets.encode_text(config, words, typed(text, "The review"))
    else:
        x, _ = presets.sample_input(config, length, seed)
    check_length(config, x.shape[1], LENGTHS)
    traj = trajectory(to_json(config), source, x.numpy(), components, tokens)
    T, hidden = traj.states.shape
    c = st.columns(4)
    c[0].metric("Steps T", f"{T:,}")
    c[1].metric("State size h", hidden)
    c[2].metric(f"Variance in {components} PCs", fmt(100 * traj.explained_variance_ratio.sum(), 3, " %"))
    c[3].metric("Saturated units at the end", fmt(100 * traj.saturation[-1], 3, " %"),
                help="|h_t,i| > 0.99 for tanh, LSTM and GRU; h_t,i = 0 (inactive) for relu")
    tokens = traj.tokens if T <= 200 else None  # the hover's tokens: one text per cell, h·T of them
    show_figure(plots.state_heatmap(traj.states, tokens=tokens), "states", f"{KEY}.heatmap")
    if traj.gates is not None:  # LSTM, GRU: the gates that keep the memory, on the same input
        show_figure(plots.gates_figure(traj.gates, tokens=tokens), "gates", f"{KEY}.gates")
    units = st.multiselect("Units to draw as lines", list(range(hidden)), list(range(min(4, hidden))),
                           key=f"{KEY}.units", max_selections=10)
    if units:
        lines = plots.influence_figure({f"unit {i}": traj.states[:, i] for i in units}, log_y=False,
                                       title="Chosen units h_t,i over time", y_label="h_t,i (activation)")
        show_figure(lines, "units", f"{KEY}.units_figure")
    left, right = st.columns(2)
    with left:
        show_figure(plots.trajectory_figure(traj), "trajectory", f"{KEY}.trajectory")
    with right:
        show_figure(plots.saturation_figure(traj), "saturation", f"{KEY}.saturation")

with st.sidebar:
    st.header("Keep it")
    add_to_compare(config, source, f"{KEY}.compare")
if not isinstance(kind, Upload):  # an uploaded model has no CLI command or run to name
    if how == RANDOM:  # typed inputs stay on the page: their Python would be the text again
        show_command(config, "states", length, seed, source.key if source.trained else None, key=f"{KEY}.command")
    else:
        show_command(config)
