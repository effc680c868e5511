"""rnnlab's dashboard: see why a recurrent network forgets.

    streamlit run dashboard/app.py

Every page (views/) reads its widgets, calls rnnlab, and shows the figures rnnlab.plots builds; nothing here computes.
It starts on embedded defaults (synthetic tasks, preset configurations, models at initialisation), so it needs
no download and no file. Trained runs come from rnnlab's run store ($RNNLAB_HOME or the user cache): those the
CLI wrote (`rnnlab train ...`) and those trained here on demand.

What the pages share, one module each: widgets.py (a configuration's widgets, on-demand training with Cancel),
sources.py (where a model comes from, at initialisation, a stored run or an upload, and the Compare list), uploads.py
(the model a person uploaded, kept in their session), measurements.py (cached rnnlab measurements), figures.py,
imdb_data.py and sweep_ui.py.
"""
import sys
from pathlib import Path

import streamlit as st
import torch

# A checkout runs without `pip install -e .`: the repository root holds the rnnlab package.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sources import COMPARE, initial_compare  # noqa: E402 (imports rnnlab, found from here on)

# The curves step through small matrices (h = 32: a 32×32 product per step); a second thread's wake-up costs more
# than it saves, and on a busy machine it can make the first request seconds slower.
torch.set_num_threads(1)

st.set_page_config(page_title="rnnlab: why RNNs forget", page_icon=":material/autorenew:", layout="wide")

# The state pages share starts here, on a session's first run, whichever page it opens on (Streamlit runs this
# script before every page): the Compare list.
if COMPARE not in st.session_state:
    st.session_state[COMPARE] = initial_compare()

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/parameters.py", title="Parameters", icon=":material/calculate:"),
    st.Page("views/trajectories.py", title="State trajectories", icon=":material/timeline:"),
    st.Page("views/memory_decay.py", title="Memory decay", icon=":material/trending_down:"),
    st.Page("views/dependencies.py", title="Short vs long dependencies", icon=":material/target:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/imdb.py", title="IMDB", icon=":material/reviews:"),
    st.Page("views/your_model.py", title="Your model", icon=":material/upload_file:"),
]

page = st.navigation(PAGES)
try:
    page.run()
except Exception as error:  # a person sees what went wrong, not a traceback (st.stop/st.rerun are not Exceptions)
    st.error(f"{type(error).__name__}: {error}")
