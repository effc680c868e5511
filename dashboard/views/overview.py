"""Overview: the lecture's recurrence, its shapes, and the lesson in one chart."""
import streamlit as st

from figures import fmt, show_figure
from measurements import decay
from rnnlab import plots, presets
from sources import MAX_COMPARE, AtInit
from widgets import describe, errors_shown, preset_select, to_json

KEY = "overview"
PAIR = (presets.LECTURE, "LSTM, same state size")

st.title("Why a recurrent network forgets")
st.write("A SimpleRNN reads a sequence one step at a time and keeps one state vector h_t. Everything it will "
         "ever know about x_0 must survive the same matrix A, step after step. Pick a configuration to see the "
         "shapes involved; the chart below shows how fast x_0 fades from h_t.")

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

st.subheader("The lesson in one chart")
st.write("The influence of the first input on the state, ‖∂h_t/∂x_0‖, at initialisation, on a log scale: a straight "
         "line is an exponential decay, and once it falls below about 10⁻³ of its start x_0 is as good as "
         "forgotten. At initialisation the lecture's SimpleRNN and an LSTM of the same size forget alike; the "
         "LSTM's cell c_t only helps once training opens its forget gate (see Short vs long dependencies). "
         "Add the IRNN or a SimpleRNN at ρ = 0.9 or 1.1 to see the spectrum of A_h set the pace.")
left, right = st.columns([3, 1])
chosen = left.multiselect("Configurations", list(presets.PRESETS), list(PAIR), key=f"{KEY}.chosen",
                          max_selections=MAX_COMPARE)
length = right.select_slider("Sequence length T", (100, 200, 300, 500, 1000), 300, key=f"{KEY}.length")
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
