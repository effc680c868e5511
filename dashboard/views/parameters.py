"""Parameters: how many numbers the lecture's model holds, layer by layer, from the sizes you choose."""
import re

import streamlit as st

from figures import show_figure
from rnnlab import plots
from rnnlab.models import CELLS, SequenceClassifier
from rnnlab.params import summary
from widgets import errors_shown

# The lecture's two IMDB models: Embedding(10000, 32) → SimpleRNN(32) → Dense(1), on the last state or Flatten.
LECTURE = dict(vocab=10_000, embedding=32, hidden=32, length=500, cell="simple_rnn")
DEFAULTS = dict(LECTURE, head="last")
KEY = "params"


@st.cache_data(max_entries=64, show_spinner=False)
def model_summary(vocab, embedding, hidden, length, head, cell):
    model = SequenceClassifier(vocab_size=vocab, embedding_dim=embedding, hidden_size=hidden, cell=cell, head=head,
                               seq_len=length)
    return summary(model)


def use(head):
    """Set the widgets to the lecture's model with this head (a button's callback, before the widgets exist)."""
    for name, value in dict(LECTURE, head=head).items():
        st.session_state[f"{KEY}.{name}"] = value


def latex(formula):
    """rnnlab.params' formula text as LaTeX: words upright, · as \\cdot, thousands separators kept."""
    words = re.sub(r"[A-Za-z_]{2,}", lambda m: r"\text{" + m.group().replace("_", r"\_") + "}", formula)
    return words.replace("·", r" \cdot ").replace(",", "{,}")


def shape(dims):
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"


for name, value in DEFAULTS.items():
    st.session_state.setdefault(f"{KEY}.{name}", value)

st.title("Parameters")
st.write("Every layer's parameters follow from the sizes alone. The recurrent layer holds one matrix "
         "A = [A_h | A_x] of shape h × (h + x) and one intercept b of size h, whatever the sequence length; "
         "with Flatten, the Dense layer grows with the length instead.")

buttons = st.container(horizontal=True)
buttons.button("Lecture: SimpleRNN, Dense on the last state (322,113)", on_click=use, args=("last",),
               key=f"{KEY}.lecture_last", icon=":material/school:")
buttons.button("Lecture: SimpleRNN, Flatten then Dense (338,081)", on_click=use, args=("flatten",),
               key=f"{KEY}.lecture_flatten", icon=":material/school:")

c = st.columns(6)
vocab = c[0].number_input("Vocabulary (words)", 2, 50_000, key=f"{KEY}.vocab", step=1000)
embedding = c[1].number_input("Embedding size x", 1, 512, key=f"{KEY}.embedding")
hidden = c[2].number_input("State size h", 1, 512, key=f"{KEY}.hidden")
length = c[3].number_input("Sequence length T", 1, 2_000, key=f"{KEY}.length")
head = c[4].radio("Head", ("last", "flatten"), key=f"{KEY}.head", horizontal=True,
                  help="Dense on h_{T-1} (Keras' return_sequences=False), or on all h_t flattened")
cell = c[5].selectbox("Cell", CELLS, key=f"{KEY}.cell")

with errors_shown():
    s = model_summary(int(vocab), int(embedding), int(hidden), int(length), head, cell)
    left, right = st.columns([1, 2])
    with left:
        st.metric("Total parameters", f"{s.total:,}")
        recurrent = next(r for r in s.rows if r.type in ("SimpleRNN", "LSTM", "GRU"))
        st.metric(f"{recurrent.type} layer (A and b)", f"{recurrent.params:,}",
                  help="The same A and b at every step: it does not grow with the sequence length")
        log_y = st.toggle("Log scale", True, key=f"{KEY}.log", help="The embedding dwarfs the other layers")
    with right:
        show_figure(plots.params_figure(s, log_y=log_y), "parameters", f"{KEY}.figure")
    st.write("By formula, with your numbers:")
    lines = [rf"\text{{{r.type}}} &:\quad " + latex(r.formula) for r in s.rows if r.params]
    lines.append(r"\text{total} &:\quad " + " + ".join(latex(f"{r.params:,}") for r in s.rows if r.params)
                 + " = " + latex(f"{s.total:,}"))
    st.latex(r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}")
    st.dataframe([{"Layer (type)": f"{r.layer} ({r.type})", "Output shape": shape(r.output_shape),
                   "Param #": r.params, "Formula": r.formula} for r in s.rows],
                 hide_index=True, key=f"{KEY}.table",
                 column_config={"Param #": st.column_config.NumberColumn(format="localized")})
