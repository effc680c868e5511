"""Your model: a Keras or PyTorch model file, its layers and parameters, and the pages that measure it."""
import streamlit as st

from figures import show_figure
from rnnlab import plots
from rnnlab.params import gru_params, lstm_params, simple_rnn_params, summary
from sources import add_to_compare
from uploads import MAX_MB, TYPES, current, forget, upload
from widgets import errors_shown

KEY = "yourmodel"
TORCH_COUNT = {"simple_rnn": simple_rnn_params, "lstm": lstm_params, "gru": gru_params}
READS = {"imdb": "token ids{ids}, measured on random reviews: the start token, then words drawn from its vocabulary",
         "lag_recall": "token ids{ids}, measured on random symbols of its vocabulary (lag_recall's inputs)",
         "adding": "two floats a step, measured on the adding problem's [value, marker] inputs"}

st.title("Your model")
st.write("Upload a trained model and measure its memory as the other pages measure rnnlab's: Embedding (optional) → "
         "SimpleRNN, LSTM or GRU → Dense. It stays in this session: nothing is written to disk, and it is gone "
         "when you close the tab.")

file = st.file_uploader(f"A Keras model (.keras, .h5) or a PyTorch state_dict (.pt, .pth), up to {MAX_MB} MB",
                        type=TYPES, key=f"{KEY}.file", max_upload_size=MAX_MB,
                        help="Read as weights only, never run: a PyTorch file through torch.load(weights_only=True)")
if file is not None:
    with errors_shown():
        upload(file)

mine = current()
if mine is None:
    st.info("No model yet: upload one above.")
    st.stop()

model, config = mine.model, mine.config
st.subheader(mine.name)
st.write(model.origin)
s = summary(model)
rnn = model.rnn
# PyTorch counts two intercepts where Keras counts one (the GRU keeps two in both): only the recurrent row differs
torch_rnn = TORCH_COUNT[model.cell](rnn.hidden_size, rnn.input_size, rnn.b is not None, convention="torch")
torch_params = [torch_rnn if r.layer == model.cell else r.params for r in s.rows]
c = st.columns(3)
c[0].metric("Parameters (Keras' count)", f"{s.total:,}", help="One intercept b per gate, as Keras counts them")
c[1].metric("Parameters (PyTorch's count)", f"{sum(torch_params):,}",
            help="nn.RNN and nn.LSTM keep two intercepts, b_ih and b_hh, where Keras keeps one")
c[2].metric("State size h", model.hidden_size)
st.dataframe([{"Layer (type)": f"{r.layer} ({r.type})", "Output shape": str(r.output_shape),
               "Param # (Keras)": r.params, "Param # (PyTorch)": n, "Formula": r.formula}
              for r, n in zip(s.rows, torch_params)], hide_index=True, key=f"{KEY}.table",
             column_config={name: st.column_config.NumberColumn(format="localized")
                            for name in ("Param # (Keras)", "Param # (PyTorch)")})
show_figure(plots.params_figure(s), "parameters", f"{KEY}.figure")

st.subheader("Measure it")
reads = READS[config.task].format(ids=f" 0 … {model.vocab_size - 1}" if model.vocab_size else "")
st.write(f"It reads {reads}. Choose “{mine.label}” as the model in the sidebar of these pages:")
row = st.container(horizontal=True)
for page, title in (("views/trajectories.py", "State trajectories"), ("views/memory_decay.py", "Memory decay"),
                    ("views/compare.py", "Compare")):
    row.page_link(page, label=title)
if config.task == "imdb":
    st.caption("State trajectories reads a review you type with the IMDB vocabulary of its size." if mine.words
               else "A typed review needs the IMDB reviews here (rnnlab imdb, or $RNNLAB_IMDB_DIR) with at least "
                    f"{model.vocab_size:,} words: without them, random reviews only.")

with st.sidebar:
    st.header("Keep it")
    add_to_compare(config, mine.source, f"{KEY}.compare", default_name=mine.name[:40])
    st.button("Forget this model", key=f"{KEY}.forget", on_click=forget, icon=":material/delete:")
