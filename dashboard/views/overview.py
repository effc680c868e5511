"""Overview: the lesson with trained models at once (rnnlab's shipped reach sweep), then the recurrence and its
shapes, and the curves at initialisation one click away."""
import streamlit as st

from figures import fmt, show_figure
from measurements import decay, shipped_lesson
from rnnlab import lesson as lesson_module
from rnnlab import plots, presets
from sources import MAX_COMPARE, AtInit
from widgets import describe, errors_shown, preset_select, to_json

KEY = "overview"
PAIR = (presets.LECTURE, "LSTM, same state size")
HEIGHT = 380  # two charts side by side stay within a 1400×900 window's first screen

st.title("Why a recurrent network forgets")
lesson = shipped_lesson()
if lesson is None:
    st.write("A SimpleRNN reads a sequence one step at a time and keeps one state vector h_t. Everything it will "
             "ever know about x_0 must survive the same matrix A, step after step.")
    st.info("No trained lesson ships with this copy of rnnlab (rnnlab/shipped/lesson.json): `rnnlab lesson` "
            "writes it. Below, the models at initialisation.")
else:
    reach = lesson["reach"]
    reaches = "; ".join(f"{label} about {reach[label]['mean']:.0f} steps" for label in lesson["groups"])
    st.write(f"Each network read sequences in which one symbol of {lesson['base']['num_symbols']} was marked, `lag` "
             f"steps before the end, and had to answer it: memory alone. Trained the same way, each learns to "
             f"recall it up to its reach, and answers at chance beyond: {reaches} (a + where every seed reached "
             f"the longest lag tried). Right: how fast x_0 fades from h_t in the trained networks.")
    for column, label in zip(st.columns(len(lesson["groups"])), lesson["groups"]):
        r = reach[label]
        at_limit = "+" if min(r["per_seed"].values()) >= r["max_lag"] else ""
        spread = "" if r["lower"] is None else f" [{r['lower']:.0f}, {r['upper']:.0f}]"
        column.metric(f"{label}: reach (steps)", f"{r['mean']:.0f}{at_limit}",
                      help=f"The longest lag learnt (test accuracy ≥ {r['threshold']:.3g}), mean over seeds "
                           f"{', '.join(r['per_seed'])}: {', '.join(map(str, r['per_seed'].values()))}; 95% "
                           f"interval{spread or ' n/a'}. A + : every seed reached the search's limit.")
    left, right = st.columns(2)
    with left:
        show_figure(plots.lesson_accuracy_figure(lesson).update_layout(height=HEIGHT), "lesson_accuracy",
                    f"{KEY}.accuracy")
    with right:
        show_figure(plots.lesson_influence_figure(lesson, "trained").update_layout(height=HEIGHT),
                    "lesson_influence", f"{KEY}.influence_trained")
    base = lesson["base"]
    fades = "; ".join(
        f"{label} falls below 10⁻³ at t = {entry['trained']['horizon']}" if entry["trained"]["horizon"] is not None
        else f"{label} stays above 10⁻³ for {lesson['influence_length']:,} steps" for label, entry in
        lesson["influence"].items())
    st.caption(f"Trained, x_0's influence: {fades}. A curve that rises means the network amplifies a change in x_0: "
               f"training moved it to the edge of chaos (ρ(A_h) > 1, a Lyapunov exponent at or above 0: see Memory "
               f"decay), where the state is sensitive to every input, and what it keeps of the marked symbol is what "
               f"it learnt to keep. Before training every curve decays (tab below).")
    st.caption(f"marked_recall, {base['num_symbols']} symbols, {lesson['prefix']} distractors before the marked "
               f"step; {base['hidden_size']} state units; {base['n_train']:,} training sequences, Adam lr "
               f"{base['lr']:g}, gradient norm clipped to {base['clip']:g}, up to {base['epochs']} epochs (stopped at "
               f"training accuracy {base['stop_at']:g}); seeds {', '.join(map(str, lesson['seeds']))}. Right: the "
               f"seed-0 models trained at lag {next(iter(lesson['influence'].values()))['lag']}, on "
               f"{lesson['influence_length']:,} steps, each normalised to t = 0; the dashed line is 10⁻³, the "
               f"diamonds the horizons. Written by `rnnlab lesson` on {lesson['written']} "
               f"({lesson['training_seconds'] / 60:.0f} min of training).")
    tabs = st.tabs(["At initialisation", "Decay against reach", "Reach per seed"])
    with tabs[0]:
        st.write("The same models before training: at initialisation the SimpleRNN and the gated cells forget "
                 "on similar scales; what separates them is what training can make of them.")
        show_figure(plots.lesson_influence_figure(lesson, "at_init"), "lesson_influence_init",
                    f"{KEY}.influence_init")
    with tabs[1]:
        r, n = lesson_module.correlation(lesson["decay_vs_reach"], "at_init")
        st.write(f"Every configuration and seed: the time constant of its ‖∂h_t/∂x_0‖ at initialisation (hollow) "
                 f"and, where it still decays, trained at its reach (filled), against that reach. At "
                 f"initialisation the decay predicts the reach: correlation of the logs r = {fmt(r)} over {n} points "
                 f"(the chrono cells' reach is at least the search's limit). Trained, the networks no longer forget "
                 f"what was marked within {lesson['influence_length']:,} steps: what limits the reach is whether "
                 f"training's gradient reaches back that far while they learn, not what they can hold.")
        show_figure(plots.decay_vs_reach_figure(lesson), "decay_vs_reach", f"{KEY}.decay_vs_reach")
    with tabs[2]:
        show_figure(plots.reach_figure(lesson), "reach", f"{KEY}.reach")

st.header("The recurrence and its shapes")
name = preset_select(f"{KEY}.preset")
config = presets.preset(name)
with errors_shown():
    rnn = AtInit().model(config).rnn
    rows = rnn.A.shape[0]
    h, x = rnn.hidden_size, rnn.input_size
    shapes = (rf"A \in \mathbb{{R}}^{{{rows} \times ({h} + {x})}},\quad A = [A_h \mid A_x],\quad "
              rf"A_h \in \mathbb{{R}}^{{{rows} \times {h}}},\quad A_x \in \mathbb{{R}}^{{{rows} \times {x}}},\quad "
              rf"b \in \mathbb{{R}}^{{{rows}}},\quad h_t \in \mathbb{{R}}^{{{h}}},\quad x_t \in \mathbb{{R}}^{{{x}}}")
    if config.cell == "simple_rnn":
        phi = {"tanh": r"\tanh", "relu": r"\operatorname{relu}", "linear": ""}[config.nonlinearity]
        st.latex(rf"h_t = {phi}\left(A \begin{{bmatrix}} h_{{t-1}} \\ x_t \end{{bmatrix}} + b\right)")
    elif config.cell == "lstm":
        st.latex(r"\begin{bmatrix} i \\ f \\ g \\ o \end{bmatrix} = A \begin{bmatrix} h_{t-1} \\ x_t \end{bmatrix}"
                 r" + b,\quad c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g),\quad "
                 r"h_t = \sigma(o) \odot \tanh(c_t)")
    else:
        st.latex(r"\begin{bmatrix} r \\ z \end{bmatrix} = \sigma\left(A_{rz} \begin{bmatrix} h_{t-1} \\ x_t "
                 r"\end{bmatrix} + b_{rz} + b_{h,rz}\right),\quad n = \tanh(A_{n,x} x_t + b_n + r \odot "
                 r"(A_{n,h} h_{t-1} + b_{h,n})),\quad h_t = (1 - z) \odot n + z \odot h_{t-1}")
    st.latex(shapes)
    st.caption(f"{describe(config)}: x_t is the {x}-dimensional embedding of a symbol; "
               f"A has {rnn.A.numel():,} numbers, reused at every step.")


def keep(key):
    st.session_state[f"{key}.kept"] = st.session_state[key]


# Below the fold and closed while the lesson is shown: measured and drawn only once opened (a rerun), so that a fresh
# session's first chart does not wait for its widgets and curves.
curves = st.expander("Curves at initialisation for the preset configurations", expanded=lesson is None,
                     key=f"{KEY}.curves", on_change="rerun")
with curves:
    if not curves.open:
        st.stop()
    st.write("The influence of the first input on the state, ‖∂h_t/∂x_0‖, at initialisation, on a log scale: a "
             "straight line is an exponential decay, and once it falls below about 10⁻³ of its start x_0 is as good as "
             "forgotten. At initialisation the lecture's SimpleRNN and an LSTM of the same size forget alike; the "
             "LSTM's cell c_t only helps once training opens its forget gate (see Short vs long dependencies). "
             "Add the IRNN or a SimpleRNN at ρ = 0.9 or 1.1 to see the spectrum of A_h set the pace.")
    left, right = st.columns([3, 1])
    # A browser draws a widget that comes back (the expander reopened) at its default, whatever the server kept:
    # each value lives under a key of its own, set on each change and handed to the widget each time it is drawn.
    for k, default in ((f"{KEY}.chosen", list(PAIR)), (f"{KEY}.length", 300)):
        st.session_state[k] = st.session_state.setdefault(f"{k}.kept", default)
    chosen = left.multiselect("Configurations", list(presets.PRESETS), key=f"{KEY}.chosen",
                              max_selections=MAX_COMPARE, on_change=keep, args=(f"{KEY}.chosen",))
    length = right.select_slider("Sequence length T", (100, 200, 300, 500, 1000), key=f"{KEY}.length",
                                 on_change=keep, args=(f"{KEY}.length",))
    with errors_shown():
        if not chosen:
            st.info("Choose at least one configuration.")
            st.stop()
        results = {n: decay(to_json(presets.preset(n)), AtInit(), length) for n in chosen}
        fits = {n: r["fit"] for n, r in results.items()}
        for column, n in zip(st.columns(len(chosen)), chosen):
            f = fits[n]
            column.metric(f"{n}: half-life of x_0 (steps)", fmt(f and f.half_life),
                          help=f"ln 2 / rate of the fitted decay ({f.regime}, r² = {f.r2:.3f})" if f else None)
        fig = plots.influence_figure({n: r["influence"] for n, r in results.items()}, fits=fits,
                                     names=list(presets.PRESETS))
        show_figure(fig, "influence_overview", f"{KEY}.influence")
