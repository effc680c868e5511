"""IMDB: the lecture's SimpleRNN on movie reviews. Its stored runs and test accuracy, what it predicts for a review
typed here, which words moved that prediction, its state word by word, and how much the first and the last words
of a review decide."""
import streamlit as st

from figures import fmt, show_figure
from imdb_data import explanation, imdb_location, imdb_runs, imdb_test_reviews, imdb_windows, words_for
from measurements import trajectory
from rnnlab import imdb, plots
from rnnlab.experiments import LECTURE_IMDB, imdb_config
from rnnlab.params import count_parameters
from rnnlab.runs import run
from rnnlab.train import TrainingDiverged
from sources import AT_INIT, MAX_COMPARE, AtInit, StoredRun, store
from widgets import MAX_TEXT, errors_shown, to_json, train_with_cancel

KEY = "imdb"
PICK = f"{KEY}.run"
LECTURE_ACCURACY = 0.84  # the lecture's SimpleRNN, last state, on the 25,000 test reviews
N_WINDOW = 1_000  # test reviews for the first-k / last-k comparison: a few seconds per model
WINDOWS = (5, 10, 20, 50, 100, 200, 500)
CLAIM = 20  # "the last ~20 words"
EXAMPLE = ("The first half of this film is wonderful: a clever story, a brilliant cast and some very funny scenes. "
           "Then it all falls apart. The plot makes no sense, the ending is predictable and the last hour is "
           "boring.")
MODELS = {"SimpleRNN, last state (the lecture)": {},
          "SimpleRNN, Flatten of all 500 states (the lecture's second model)": dict(head="flatten"),
          "LSTM(32), last state (the contrast)": dict(cell="lstm")}
SIZES = {"Full: the lecture's settings (25,000 reviews of up to 500 words, 3 epochs; several minutes)": {},
         "Quick look: 2,000 reviews of up to 200 words, 1 epoch (seconds; far below the lecture's accuracy)":
         dict(n_train=2000, length=200, epochs=1)}
CELL = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def model_name(config):
    return f"{CELL[config.cell]}({config.hidden_size}), {'last state' if config.head == 'last' else 'Flatten'}"


def run_label(result):
    c, acc = result.config, result.metrics.get("test_accuracy")
    accuracy = "" if acc is None else f" · test accuracy {acc:.1%}"
    return (f"{model_name(c)}{accuracy} · {c.n_train:,} reviews of ≤ {c.length} words, {c.epochs} "
            f"epoch{'s' if c.epochs > 1 else ''} · {c.hash}")


def command(config):
    """The `rnnlab imdb` command line that trains `config` (its fields that differ from the lecture's)."""
    lecture = imdb_config()
    changed = [f"--{name.replace('_', '-')} {value}" for name, value in config.to_dict().items()
               if value != getattr(lecture, name)]
    return " ".join(["rnnlab imdb"] + changed)


def no_data(error):
    """What to do when the reviews are not on this machine: where to put them, and the command that trains."""
    where = imdb.find_data_dir()
    st.info(
        f"**The IMDB reviews are not on this machine** ({'$RNNLAB_IMDB_DIR is unset' if where is None else error})."
        f" The cache looked in is `{imdb.default_cache_dir()}`. To train here or to measure on real reviews, "
        "either:\n\n"
        "- start the dashboard with `RNNLAB_IMDB_DIR` naming a folder that holds `train.jsonl.gz` and "
        "`test.jsonl.gz` (or the unpacked `aclImdb/` folder of the official archive): "
        "`RNNLAB_IMDB_DIR=/path/to/imdb streamlit run dashboard/app.py`;\n"
        "- or train from a terminal: `rnnlab imdb --data-dir /path/to/imdb`. Without `--data-dir` it downloads the "
        "official archive (84 MB, Maas et al., ACL 2011) and caches it where this page finds it. The run then "
        "appears under Stored runs.", icon=":material/dataset:")


st.title("IMDB: what the lecture's SimpleRNN reads")
st.write("The lecture's experiment: Embedding(10000, 32) → SimpleRNN(32) → Dense(1, sigmoid) on movie reviews cut "
         "or padded to 500 words, 3 epochs of RMSprop, about 84% test accuracy. The lecture's claim is that the "
         "model decides on the last few dozen words: h_{T−1} has forgotten the start of the review. Below, a "
         "trained run's accuracy, its reading of a review you type, word by word, and the claim measured on "
         "real test reviews.")

runs = imdb_runs()
location = imdb_location()
data_problem = None  # the error that says why the reviews cannot be read here, if they cannot
try:
    with st.spinner("Looking for the IMDB reviews (read once, then kept)…"):
        imdb_test_reviews(LECTURE_IMDB["num_symbols"], LECTURE_IMDB["length"], N_WINDOW, location)
except (imdb.DataNotFound, imdb.DataError) as error:
    data_problem = error


def explain_data_problem():
    if isinstance(data_problem, imdb.DataNotFound):
        no_data(data_problem)
    else:
        st.error(f"The IMDB reviews were found but cannot be read: {data_problem}")


st.header("Stored runs")
if runs:
    st.dataframe([{"model": model_name(r.config), "words T": r.config.length, "training reviews": r.config.n_train,
                   "epochs": r.config.epochs, "test reviews": r.config.n_test,
                   "test accuracy": "—" if r.metrics.get("test_accuracy") is None
                   else f"{r.metrics['test_accuracy']:.1%}",
                   "training time (s)": fmt(r.metrics.get("seconds"), 3), "run": r.hash} for r in runs],
                 hide_index=True, key=f"{KEY}.runs")
else:
    st.info("No IMDB run is stored yet. Train one below, or with `rnnlab imdb` from a terminal; until then the "
            "page shows the lecture's model untrained.")

with st.expander("Train the lecture's models here", expanded=not runs, icon=":material/model_training:"):
    if data_problem is not None:
        explain_data_problem()
    else:
        name = st.radio("Model", list(MODELS), key=f"{KEY}.train_model")
        size = st.radio("How much", list(SIZES), key=f"{KEY}.train_size")
        config = imdb_config(**MODELS[name], **SIZES[size])

        def train(progress):
            result = run(config, store(), progress=lambda f, message: progress(f, f"{name} · {message}"))
            st.session_state[PICK] = result.hash

        stored = config in store()
        train_with_cancel(KEY, f"Train {model_name(config)}", train, pending=not stored,
                          cancelled="Training cancelled; nothing was stored.", start="reading the reviews…",
                          errors=(TrainingDiverged, imdb.DataNotFound, imdb.DataError))
        if stored:
            st.success(f"{model_name(config)} with these settings is stored: pick it below.")
        st.caption("The run is stored under its configuration's hash and reused. From a terminal:")
        st.code(command(config), language="bash")

st.header("The model")
by_hash = {r.hash: r for r in runs}
options = list(by_hash) + [AT_INIT]
if st.session_state.get(PICK) not in options:
    lecture = imdb_config().hash
    st.session_state[PICK] = lecture if lecture in by_hash else options[0]
pick = st.selectbox("Run", options, key=PICK, format_func=lambda h: run_label(by_hash[h]) if h in by_hash else
                    "The lecture's SimpleRNN, untrained (weights at initialisation)")
result = by_hash.get(pick)
config, source = (result.config, StoredRun(pick)) if result else (imdb_config(), AtInit())
config_json = to_json(config)

with errors_shown():
    c = st.columns(4)
    c[1].metric("Parameters", f"{count_parameters(source.model(config)):,}",
                help="Embedding, recurrent layer and Dense layer: the Parameters page explains each count")
    if result:
        acc = result.metrics.get("test_accuracy")
        c[0].metric("Test accuracy", "—" if acc is None else f"{100 * acc:.1f} %",
                    None if acc is None else f"{100 * (acc - LECTURE_ACCURACY):+.1f} points vs the lecture's 84 %",
                    help=f"on the first {config.n_test:,} of the 25,000 test reviews")
        c[2].metric("Epochs", config.epochs)
        c[3].metric("Training time", fmt(result.metrics.get("seconds"), 3, " s"))
        show_figure(plots.history_figure(result.history), "imdb_history", f"{KEY}.history")
    else:
        c[0].metric("Test accuracy", "untrained", help="about 50 %: chance")
        # an untrained model's weights give no word id a meaning: the word index, found or not, would change nothing
        numbering = ("the reviews' word index is not on this machine" if data_problem is not None else
                     "the reviews' word index is here, but its ids mean nothing to weights no training has shaped")
        st.warning("**Untrained**: the lecture's model at initialisation. Its prediction means nothing; the "
                   "figures show what reading a review looks like before training. Its words are numbered in "
                   f"the order they appear: {numbering}.", icon=":material/info:")

st.header("Read a review")
text = st.text_area("A review", EXAMPLE, key=f"{KEY}.review", height=110,
                    help="Split into words and looked up in the run's vocabulary, never evaluated")
if len(text) > MAX_TEXT:  # the model reads at most its last 500 words anyway
    st.caption(f"Only the first {MAX_TEXT:,} of the {len(text):,} characters typed are read.")
    text = text[:MAX_TEXT]
with errors_shown():
    words = words_for(config, source, text)
    ids = words.encode(text) if words is not None else None
    if ids is None:
        st.error(f"Run {pick} was stored without its vocabulary, so a typed review cannot be encoded for it.")
    elif len(ids) == 1:
        st.info("Type a review above: the model needs at least one word.")
    else:
        # as in training: padded in front, or cut to the last config.length words
        x = imdb.pad_sequences([ids], config.length)[0]
        if len(ids) > config.length:
            st.caption(f"The model reads the last {config.length} words, as in training: the first "
                       f"{len(ids) - config.length:,} are not read.")
        e = explanation(config_json, source, x, "" if result else text)
        c = st.columns(3)
        c[0].metric("Prediction", e.label)
        c[1].metric("P(positive)", fmt(e.probability, 3), help="sigmoid of the Dense layer's output")
        c[2].metric("Words read", f"{len(e.tokens):,}", help="with the start token; <oov> is a word outside the "
                                                             "vocabulary")
        st.html(plots.highlighted_text_html(e.tokens, e.attribution))
        st.caption("The review as the model reads it (lower case, no punctuation), each word coloured by its "
                   "gradient × input: blue pushed the prediction towards positive, red towards negative, the "
                   "stronger the colour the stronger the push; hover over a word for its value.")
        # the figures say "untrained" themselves, so that a downloaded one does too
        prefix = (lambda title: title) if result else (lambda title: f"Untrained model: {title[0].lower()}{title[1:]}")
        attribution = plots.word_attribution_figure(
            e, title=prefix(f"Which words moved the prediction, P(positive) = {e.probability:.3g}"))
        show_figure(attribution, "word_attribution", f"{KEY}.attribution")
        traj = trajectory(config_json, source, x[None], 1)
        heatmap = plots.state_heatmap(traj.states[-len(e.tokens):], tokens=e.tokens,
                                      title=prefix("Hidden state h_t over the review's words, unit by unit"))
        show_figure(heatmap, "review_states", f"{KEY}.states")

st.header("First k words or last k words?")
st.write("The lecture's claim, measured: each test review cut to its first k or to its last k words (padded as "
         "in training), and the accuracy of the trained model on them. A model that has forgotten the start of "
         "a review does as well from its last few dozen words as from all of them, and worse from its first "
         "ones.")
if not runs:
    st.info("Measured here once a run is trained (above, or `rnnlab imdb` from a terminal).")
elif not result:
    st.info("Pick a trained run above to measure it.")
elif data_problem is not None:
    explain_data_problem()
else:
    with errors_shown():
        chosen = st.multiselect("Runs", list(by_hash), [pick], key=f"{KEY}.windows",
                                format_func=lambda h: run_label(by_hash[h]), max_selections=MAX_COMPARE)
        ready, reviews = {}, {}
        for h in chosen:
            c = by_hash[h].config
            _, y, words = imdb_test_reviews(c.num_symbols, c.length, N_WINDOW, location)
            trained_with = StoredRun(h).vocabulary()
            if trained_with is None or words != trained_with.id_to_word:
                st.warning(f"Run {h} was trained on reviews with another vocabulary than those found now "
                           f"({imdb.find_data_dir() or imdb.default_cache_dir()}): it is left out.")
                continue
            ks = tuple(sorted({k for k in WINDOWS if k < c.length} | {c.length}))
            with st.spinner(f"Measuring {model_name(c)} on {len(y):,} test reviews ({2 * len(ks) + 1} passes)…"):
                ready[h], reviews[h] = imdb_windows(h, N_WINDOW, ks, location), len(y)
        if ready:
            first = next(iter(ready))
            r = ready[first]
            k = max([k for k in r["k"] if k <= CLAIM and k < r["k"][-1]] or r["k"][:1])  # not the whole review
            i = r["k"].index(k)
            st.caption(f"{model_name(by_hash[first].config)} ({first}), on the first {reviews[first]:,} test "
                       "reviews:")
            c = st.columns(3)
            c[0].metric("Whole review", f"{100 * r['full']:.1f} %")
            c[1].metric(f"Last {k} words", f"{100 * r['last'][i]:.1f} %")
            c[2].metric(f"First {k} words", f"{100 * r['first'][i]:.1f} %")
            labels = {h: f"{model_name(by_hash[h].config)} ({h})" for h in ready}
            fig = plots.window_accuracy_figure({labels[h]: r for h, r in ready.items()})
            show_figure(fig, "first_vs_last_words", f"{KEY}.window")
