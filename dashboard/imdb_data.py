"""The IMDB page's data: its stored runs, the test reviews (never downloaded here), and what a model reads in them."""
import streamlit as st

from rnnlab import imdb
from rnnlab.explain import explain, window_accuracy
from sources import store, stored_runs, trained_model
from widgets import from_json


def imdb_runs():
    """The stored IMDB runs (no weights), newest first."""
    return [r for r in stored_runs() if r.config.task == "imdb"]


def imdb_location():
    """Where rnnlab.imdb looks for the reviews ($RNNLAB_IMDB_DIR, else the cache): keys the cached data, so that a
    process that changes either (a test) never reads another's."""
    return f"{imdb.find_data_dir()}|{imdb.default_cache_dir()}"


@st.cache_data(max_entries=4, show_spinner=False)
def imdb_test_reviews(num_words, maxlen, n, location):
    """(x, y, words): the first n test reviews as a run with num_words and maxlen reads them, and the
    vocabulary's id → word list. Never downloads: rnnlab.imdb.DataNotFound when the reviews are neither in
    $RNNLAB_IMDB_DIR nor in the cache (an error is not cached, so the data is looked for again next time)."""
    data = imdb.load(num_words=num_words, maxlen=maxlen, download=False, progress=False)
    return data.x_test[:n], data.y_test[:n], data.vocabulary.id_to_word


@st.cache_data(max_entries=16, show_spinner=False)
def imdb_windows(run_hash, n, ks, location):
    """rnnlab.explain.window_accuracy of a stored run on the first n test reviews, for each k in ks."""
    config = store().load(run_hash, weights=False).config
    x, y, _ = imdb_test_reviews(config.num_symbols, config.length, n, location)
    return window_accuracy(trained_model(run_hash), x, y, list(ks))


def words_for(config, source, text):
    """The vocabulary a model reads `text` with: a trained run's own (None if it was stored without one); at
    initialisation the text's words numbered in order of first appearance, whose ids mean nothing to an untrained
    model, as any other numbering would."""
    if source.trained:
        return source.vocabulary()
    return imdb.Vocabulary(list(dict.fromkeys(imdb.tokenize(text))), config.num_symbols)


@st.cache_data(max_entries=64, show_spinner=False)
def explanation(config_json, source, x, text=""):
    """rnnlab.explain.explain of one row of token ids x (a NumPy array), with the words of words_for(text)."""
    config = from_json(config_json)
    return explain(source.model(config), x, words_for(config, source, text))
