"""The model a person uploads on the "Your model" page: read by rnnlab.load_model and kept in this session only
(st.session_state[UPLOADED]), never written to disk.

An uploaded model joins the pages that measure a model as a configuration of rnnlab's: the RunConfig whose task
feeds it what it reads (config_for), so that the pages draw their random inputs, lengths and budgets as for any
other. One model a session: a new file replaces the last, and a rerun with the same file (the same sha256) does not
read it again.
"""
import hashlib
from dataclasses import dataclass

import streamlit as st

from imdb_data import imdb_location, imdb_test_reviews
from rnnlab import imdb, load_model
from rnnlab.imdb import DataError, DataNotFound
from rnnlab.models import LAYERS
from rnnlab.modelfile import MAX_BYTES, ModelFileError
from rnnlab.runs import RunConfig
from sources import UPLOADED, Uploaded, compare_list
from widgets import BUDGET, MAX_HIDDEN

TYPES = ("keras", "h5", "pt", "pth")
MAX_MB = MAX_BYTES >> 20


@dataclass(frozen=True)
class Upload:
    """A model read from a file: its name, sha256 (hex), the model (float32, eval mode), the RunConfig the pages
    measure it with, and for an IMDB-shaped model the IMDB vocabulary of its size (None where there is none)."""

    name: str
    key: str
    model: object
    config: RunConfig
    words: object = None

    @property
    def source(self):
        return Uploaded(self.key)

    @property
    def label(self):
        return f"Your model: {self.model.origin}"


def config_for(model):
    """The RunConfig whose random inputs this model reads, with its cell, state size and head:

        token ids, one output, vocabulary ≥ 5    imdb: a start token, then words drawn from the vocabulary
        token ids, one output per token id       lag_recall: symbols 0 … vocab − 1
        two floats a step, one output            adding: [value, marker]

    ValueError for any other model, and for one whose recurrence costs more than the pages' BUDGET at its shortest
    length (they measure the same states at every step: h above MAX_HIDDEN, or a Flatten head over too many)."""
    shape = dict(cell=model.cell, hidden_size=model.hidden_size, head=model.head)
    if model.head == "each":
        raise ValueError("the pages measure a model with one answer a sequence (a Dense layer on the last state or on "
                         "all states flattened), got one answer a step (return_sequences=True)")
    if model.hidden_size > MAX_HIDDEN:
        raise ValueError(f"the pages measure models of state size h ≤ {MAX_HIDDEN}, got h = {model.hidden_size}")
    if model.cell == "simple_rnn":
        shape["nonlinearity"] = model.rnn.nonlinearity
    if model.seq_len is not None:  # a Flatten head reads exactly seq_len states
        steps = model.seq_len * LAYERS[model.cell].gates * model.hidden_size ** 2
        if steps > BUDGET:
            raise ValueError(f"a Flatten head over {model.seq_len:,} states of h = {model.hidden_size} is more than "
                             "one request may compute here; measure it through a notebook")
        shape["length"] = model.seq_len
    vocab, classes = model.vocab_size, model.num_classes
    if vocab is not None and classes == 1 and vocab > imdb.INDEX_FROM:
        return RunConfig(task="imdb", num_symbols=vocab, embedding_dim=model.input_size, **shape)
    if vocab is not None and classes == vocab:
        return RunConfig(task="lag_recall", num_symbols=vocab, embedding_dim=model.input_size, **shape)
    if vocab is None and model.input_size == 2 and classes == 1:
        return RunConfig(task="adding", **shape)
    reads = f"token ids 0 … {vocab - 1}" if vocab is not None else f"{model.input_size} floats a step"
    raise ValueError(f"the pages feed a model token ids with one output (IMDB-shaped) or one output per token id "
                     f"(lag_recall), or two floats a step with one output (adding); this one reads {reads} and has "
                     f"{classes} outputs")


def imdb_words(vocab):
    """The IMDB vocabulary of `vocab` ids (Keras' word index, or the train words by frequency), or None when the
    reviews are not here or hold fewer words than the model has ids: its ids then cannot be IMDB's."""
    try:
        _, _, id_to_word = imdb_test_reviews(vocab, 1, 1, imdb_location())
    except (DataNotFound, DataError):
        return None
    return imdb.Vocabulary(id_to_word[imdb.INDEX_FROM + 1:], vocab) if len(id_to_word) == vocab else None


def current():
    """This session's Upload, or None."""
    return st.session_state.get(UPLOADED)


def upload(file):
    """The Upload of a file from st.file_uploader (an UploadedFile: .name, .size, .getvalue()), read once per content
    and kept in the session. ModelFileError (a ValueError) for a file larger than MAX_BYTES, before reading it,
    and for one rnnlab cannot read; ValueError for a model the pages cannot measure: the last Upload then stays.
    A new model replaces the last one, which leaves Compare."""
    if file.size > MAX_BYTES:
        raise ModelFileError(f"{file.name}: a model file holds at most {MAX_MB} MiB ({MAX_BYTES:,} bytes) here, got "
                             f"{file.size:,} bytes")
    data = file.getvalue()  # already in memory: Streamlit holds the upload, at most server.maxUploadSize
    key = hashlib.sha256(data).hexdigest()
    last = current()
    if last is not None and last.key == key:
        return last
    try:
        model = load_model(data)
        config = config_for(model)
    except ValueError as error:  # ModelFileError too
        raise type(error)(f"{file.name}: {error}") from None
    words = imdb_words(model.vocab_size) if config.task == "imdb" else None
    forget()
    st.session_state[UPLOADED] = Upload(file.name, key, model, config, words)
    return st.session_state[UPLOADED]


def forget():
    """Take this session's model out of it, and out of Compare."""
    st.session_state.pop(UPLOADED, None)
    compare_list()[:] = [e for e in compare_list() if not isinstance(e.source, Uploaded)]


def model_radio(key, options, disabled=False, help=None):
    """A "Model" radio over a page's own options and, once the person uploaded a model, its label ("Your model:
    <origin>"); returns the chosen option, or the Upload when it is chosen. No radio for a single option."""
    mine = current()
    labels = [*options, mine.label] if mine else list(options)
    if len(labels) == 1:
        return labels[0]
    chosen = st.radio("Model", labels, key=key, disabled=disabled and mine is None, help=help)
    return mine if mine is not None and chosen == mine.label else chosen
