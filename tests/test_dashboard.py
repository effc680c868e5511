"""Every dashboard page through Streamlit's AppTest: it runs without an exception, shows its widgets and metrics, and
what it shows follows the widgets. AppTest cannot read charts, so the numbers on screen (metrics, tables) are
checked against rnnlab called directly on the same inputs, or against closed forms.

The run store is a temporary folder (RNNLAB_HOME), never the user's.
"""
import copy
import json
import warnings
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from rnnlab import imdb, memory, presets
from rnnlab.experiments import imdb as imdb_experiment
from rnnlab.experiments import imdb_config
from rnnlab.explain import predict_proba
from rnnlab.params import count_parameters
from rnnlab.runs import RunConfig, Store, load_run, run
from rnnlab.train import History
from rnnlab.trajectories import state_trajectory
from tiny_imdb import tiny_reviews

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = ("overview", "parameters", "trajectories", "memory_decay", "dependencies", "compare", "imdb")
SHOWN = 5e-3  # metrics show 3 significant digits


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard on its first page, with the run store in tmp_path and no IMDB reviews (unless a test names
    some in $RNNLAB_IMDB_DIR)."""
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    threads = torch.get_num_threads()  # the app pins torch to one thread; give the other tests theirs back
    yield AppTest.from_file(APP, default_timeout=60).run()
    torch.set_num_threads(threads)


def open_page(at, name):
    at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


def find(elements, label):
    matches = [e for e in elements if e.label == label]
    assert len(matches) == 1, f"expected one element labelled {label!r}, found {[e.label for e in elements]}"
    return matches[0]


def metric(at, label):
    return find(at.metric, label).value


def number(text):
    return float(text.replace(",", "").replace("−", "-"))


def curves_model(config):
    """The model the dashboard measures: the configuration at initialisation, in float64."""
    return copy.deepcopy(config.build_model().eval()).double()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_an_exception_or_an_error_message(app, page):
    at = open_page(app, page)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value
    labels = [b.label for b in at.get("download_button")]
    assert labels and labels.count("Data (CSV)") == labels.count("Figure (HTML)"), labels  # a pair per figure


def test_overview_half_lives_are_rnnlab_fit_decay_of_influence_curve_and_follow_the_length(app):
    at = app
    assert not at.exception and not at.error
    assert r"32 \times (32 + 32)" in at.latex[1].value  # A of the lecture's SimpleRNN: h × (h + x)
    for length in (300, 1000):
        at.select_slider[0].set_value(length).run()
        for name in (presets.LECTURE, "LSTM, same state size"):
            config = presets.preset(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                curve = memory.influence_curve(curves_model(config), presets.sample_input(config, length)[0])
            expected = memory.fit_decay(curve).half_life
            assert number(metric(at, f"{name}: half-life of x_0 (steps)")) == pytest.approx(expected, rel=SHOWN)
    find(at.selectbox, "Preset configuration").set_value("LSTM, same state size").run()
    assert r"128 \times (32 + 32)" in at.latex[1].value  # four gates stacked along the rows of A


def test_parameters_lecture_buttons_give_322113_and_338081_and_sizes_follow_the_closed_form(app):
    at = open_page(app, "parameters")
    v, e, T = 10_000, 32, 500

    def simple_rnn(h, x):
        return h * (h + x) + h

    find(at.button, "Lecture: SimpleRNN, Flatten then Dense (338,081)").click().run()
    assert metric(at, "Total parameters") == f"{v * e + simple_rnn(32, e) + (T * 32 + 1):,}" == "338,081"
    find(at.button, "Lecture: SimpleRNN, Dense on the last state (322,113)").click().run()
    assert metric(at, "Total parameters") == f"{v * e + simple_rnn(32, e) + (32 + 1):,}" == "322,113"
    find(at.number_input, "State size h").set_value(64).run()
    assert metric(at, "Total parameters") == f"{v * e + simple_rnn(64, e) + (64 + 1):,}"
    find(at.selectbox, "Cell").set_value("lstm").run()
    assert metric(at, "Total parameters") == f"{v * e + 4 * simple_rnn(64, e) + (64 + 1):,}"
    table = at.dataframe[0].value
    assert list(table["Param #"]) == [v * e, 4 * simple_rnn(64, e), 65]


def test_trajectories_metrics_are_state_trajectory_of_the_shown_input(app):
    at = open_page(app, "trajectories")
    config = presets.preset(presets.LECTURE)
    for length, seed in ((100, 0), (500, 3)):
        find(at.select_slider, "Length T").set_value(length)
        find(at.number_input, "Random sequence (seed)").set_value(seed)
        at.run()
        traj = state_trajectory(config.build_model().eval(), presets.sample_input(config, length, seed)[0])
        assert metric(at, "Steps T") == f"{length:,}"
        assert number(metric(at, "Variance in 2 PCs").rstrip(" %")) == pytest.approx(
            100 * traj.explained_variance_ratio.sum(), rel=SHOWN)
    find(at.radio, "Input").set_value("Symbols I type").run()
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value("3 1 4 1 5 0 2 6").run()
    assert metric(at, "Steps T") == "8"
    assert not at.error
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value("3 1 9").run()
    assert not at.exception
    assert any("symbols 0 … 7" in e.value and "'9'" in e.value for e in at.error)  # a message, not a traceback


def test_trajectories_read_a_trained_run_from_the_store(app, tmp_path):
    config = RunConfig(hidden_size=8, embedding_dim=4, length=6, epochs=1, n_train=64, n_test=16)
    result = run(config, store=Store(tmp_path / "runs"), progress=False)
    at = open_page(app, "trajectories")
    find(at.radio, "Model").set_value("Trained run from the store").run()
    assert find(at.selectbox, "Run").value == config.hash
    traj = state_trajectory(result.model, presets.sample_input(config, 100)[0])
    assert metric(at, "State size h") == "8"
    assert number(metric(at, "Variance in 2 PCs").rstrip(" %")) == pytest.approx(
        100 * traj.explained_variance_ratio.sum(), rel=SHOWN)
    assert presets.cli_command(config) in at.code[-1].value


def test_trajectories_of_a_stored_text_model_read_the_review_typed_with_its_vocabulary(app, tmp_path):
    """A stored imdb run (made here without the data: a small vocabulary and the model at initialisation)."""
    config = RunConfig(task="imdb", length=12, num_symbols=10, hidden_size=6, embedding_dim=4, n_train=10,
                       n_test=10, head="flatten")
    vocabulary = imdb.Vocabulary(["the", "movie", "was", "great", "bad", "plot"], num_words=10)
    Store(tmp_path / "runs").save(config, History(), {"test_accuracy": 0.5}, config.build_model(), vocabulary)
    at = open_page(app, "trajectories")
    find(at.radio, "Model").set_value("Trained run from the store").run()
    assert find(at.radio, "Input").value == "Text I type"
    find(at.text_area, "A review").set_value("The plot was BAD, the movie great!").run()
    assert not at.exception and not at.error
    x, words = presets.encode_text(config, vocabulary, "The plot was BAD, the movie great!")
    assert words[-8:] == ["<start>", "the", "plot", "was", "bad", "the", "movie", "great"]
    traj = state_trajectory(load_run(config.hash, tmp_path / "runs").model, x, tokens=words)
    assert metric(at, "Steps T") == "12"  # Flatten: padded to the length it was trained on
    assert number(metric(at, "Variance in 2 PCs").rstrip(" %")) == pytest.approx(
        100 * traj.explained_variance_ratio.sum(), rel=SHOWN)


def test_memory_decay_metrics_are_rnnlab_measurements_and_follow_the_sliders(app):
    at = open_page(app, "memory_decay")
    base = presets.preset(presets.LECTURE)
    for radius, length in ((None, 1000), (0.9, 500)):
        if radius is not None:
            find(at.checkbox, "Rescale A_h to a spectral radius ρ").check().run()
            find(at.slider, "Spectral radius ρ(A_h)").set_value(radius)
            find(at.select_slider, "Length T").set_value(length)
            at.run()
        config = base.replace(spectral_radius=radius)
        model = curves_model(config)
        x, _ = presets.sample_input(config, length)
        fit = memory.fit_decay(memory.influence_curve(model, x))
        spectrum = memory.recurrent_spectrum(model)
        assert not at.error
        assert number(metric(at, "Time constant τ (steps)")) == pytest.approx(fit.time_constant, rel=SHOWN)
        assert number(metric(at, "Half-life (steps)")) == pytest.approx(fit.half_life, rel=SHOWN)
        assert number(metric(at, "Horizon (steps)")) == fit.horizon
        assert number(metric(at, "Spectral radius ρ(A_h)")) == pytest.approx(spectrum.spectral_radius, rel=1e-3)
        assert number(metric(at, "Lyapunov exponent (/step)")) == pytest.approx(
            memory.lyapunov_exponent(model, x), rel=SHOWN)
    assert number(metric(at, "Spectral radius ρ(A_h)")) == pytest.approx(0.9, rel=1e-3)


def test_memory_decay_trains_on_demand_into_the_store_and_shows_after_training(app, tmp_path):
    at = open_page(app, "memory_decay")
    find(at.slider, "State size h").set_value(8)
    find(at.slider, "Training length T").set_value(5).run()  # the lag's range follows the length
    find(at.slider, "Lag to recall").set_value(2)
    find(at.slider, "Epochs").set_value(1)
    at.run()
    assert [s.value for s in at.subheader] == ["At initialisation"]
    train = [b for b in at.button if b.label.startswith("Train it now")]
    assert len(train) == 1
    train[0].click().run()
    assert not at.exception and not at.error
    config = presets.preset(presets.LECTURE).replace(hidden_size=8, length=5, lag=2, epochs=1)
    assert config in Store(tmp_path / "runs")
    assert [s.value for s in at.subheader] == ["At initialisation", "After training"]
    assert not [b for b in at.button if b.label.startswith("Train it now")]
    assert presets.cli_command(config) in at.code[-1].value


def test_dependencies_trains_the_missing_runs_once_and_shows_their_stored_accuracy(app, tmp_path):
    at = open_page(app, "dependencies")
    find(at.multiselect, "Configurations").set_value([presets.LECTURE])
    find(at.slider, "Sequence length T").set_value(6)
    find(at.multiselect, "Lags").set_value([0, 4])
    find(at.slider, "Epochs").set_value(1)
    find(at.select_slider, "Training sequences").set_value(250)
    at.run()
    assert list(at.dataframe[0].value.iloc[0][["lag 0", "lag 4"]]) == ["not trained"] * 2
    find(at.button, "Train the 2 missing runs (1 epoch each)").click().run()
    assert not at.exception and not at.error
    store = Store(tmp_path / "runs")
    base = presets.preset(presets.LECTURE).replace(length=6, epochs=1, n_train=250)
    row = at.dataframe[0].value.iloc[0]
    for lag in (0, 4):
        assert base.replace(lag=lag) in store
        accuracy = store.load(base.replace(lag=lag), weights=False).metrics["test_accuracy"]
        assert number(row[f"lag {lag}"]) == pytest.approx(accuracy, rel=SHOWN)
    assert not [b for b in at.button if b.label.startswith("Train the")]  # nothing left to train: reused


def test_add_to_compare_puts_the_configuration_in_compare_and_remove_takes_it_out(app):
    at = open_page(app, "compare")
    assert list(at.dataframe[0].value.columns)[1:] == [presets.LECTURE, "LSTM, same state size"]
    at = open_page(at, "memory_decay")
    find(at.slider, "State size h").set_value(16).run()
    find(at.text_input, "Name in Compare").set_value("small").run()
    find(at.button, "Add to compare").click().run()
    assert any("Added 'small'" in s.value for s in at.success)
    at = open_page(at, "compare")
    table = at.dataframe[0].value.set_index("")
    assert list(table.columns) == [presets.LECTURE, "LSTM, same state size", "small"]
    expected = count_parameters(presets.preset(presets.LECTURE).replace(hidden_size=16).build_model())
    assert table.loc["parameters", "small"] == f"{expected:,}"
    lecture = count_parameters(presets.preset(presets.LECTURE).build_model())
    assert table.loc["parameters", presets.LECTURE] == f"{lecture:,}"
    at.button(key="compare.remove.0").click().run()
    assert list(at.dataframe[0].value.set_index("").columns) == ["LSTM, same state size", "small"]


def test_compare_table_holds_rnnlab_measurements_for_each_configuration(app):
    at = open_page(app, "compare")
    table = at.dataframe[0].value.set_index("")
    length = 500
    for name in (presets.LECTURE, "LSTM, same state size"):
        config = presets.preset(name)
        model = curves_model(config)
        x, _ = presets.sample_input(config, length)
        fit = memory.fit_decay(memory.influence_curve(model, x))
        assert number(table.loc["time constant τ (steps)", name]) == pytest.approx(fit.time_constant, rel=SHOWN)
        assert number(table.loc["horizon (steps)", name]) == fit.horizon
        assert number(table.loc["Lyapunov exponent (/step)", name]) == pytest.approx(
            memory.lyapunov_exponent(model, x), rel=SHOWN)


def test_compare_says_so_when_a_flatten_model_shares_no_length_with_the_others(app):
    at = open_page(app, "compare")
    flat = presets.preset(presets.LECTURE).replace(head="flatten", length=30)
    entry = {"name": "flat", "config": json.dumps(flat.to_dict()), "source": "at initialisation"}
    at.session_state["compare"] = at.session_state["compare"] + [entry]
    at.run()
    assert not at.exception
    assert any("share no sequence length" in e.value and "30" in e.value for e in at.error)
    at.button(key="compare.remove.0").click().run()
    at.button(key="compare.remove.0").click().run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.set_index("").columns) == ["flat"]
    assert any(c.value.startswith("Length T: 30 (a Flatten head") for c in at.sidebar.caption)
    assert any("one random sequence of 30 steps" in c.value for c in at.main.caption)


# ------------------------------------------------------------------------------------------------ IMDB

def p_positive(model, config, vocabulary, text):
    """P(positive) of a typed review, read as in training: encoded, then padded in front to config.length."""
    return float(predict_proba(model, imdb.pad_sequences([vocabulary.encode(text)], config.length))[0])


def test_imdb_page_without_runs_or_data_explains_how_to_get_them_and_reads_with_the_untrained_model(app):
    at = open_page(app, "imdb")
    assert not at.error
    info = " ".join(i.value for i in at.info)
    assert "RNNLAB_IMDB_DIR" in info and "rnnlab imdb --data-dir" in info and "No IMDB run is stored yet" in info
    assert not [b for b in at.button if b.label.startswith("Train")]  # nothing to train on
    assert metric(at, "Test accuracy") == "untrained"
    assert any("Untrained" in w.value for w in at.warning)
    config = imdb_config()
    assert metric(at, "Parameters") == f"{count_parameters(config.build_model()):,}" == "322,113"
    text = "A dull film, and an even duller ending"
    find(at.text_area, "A review").set_value(text).run()
    words = imdb.Vocabulary(["a", "dull", "film", "and", "an", "even", "duller", "ending"], config.num_symbols)
    assert number(metric(at, "P(positive)")) == pytest.approx(
        p_positive(config.build_model(), config, words, text), rel=SHOWN)
    assert metric(at, "Words read") == "9"
    assert "&lt;start&gt;" in at.html[0].value and "duller" in at.html[0].value


def test_imdb_page_shows_a_stored_run_predicts_typed_reviews_and_measures_first_vs_last_words(app, tmp_path,
                                                                                              monkeypatch):
    data = tiny_reviews(tmp_path / "reviews")
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(data))
    result = imdb_experiment(n_train=40, n_test=40, length=12, num_symbols=20, embedding_dim=8, hidden_size=8,
                             epochs=6, batch_size=4, lr=1e-2, progress=False)
    config, model = result.config, result.model
    at = open_page(app, "imdb")
    assert not at.error
    assert find(at.selectbox, "Run").value == result.hash
    accuracy = result.metrics["test_accuracy"]
    assert number(metric(at, "Test accuracy").rstrip(" %")) == pytest.approx(100 * accuracy, abs=0.05)
    assert metric(at, "Parameters") == f"{count_parameters(model):,}"
    assert at.dataframe[0].value["run"].tolist() == [result.hash]
    shown = []
    for text in ("the long film was great", "the plot the story the music, awful"):
        find(at.text_area, "A review").set_value(text).run()
        shown.append(number(metric(at, "P(positive)")))
        assert shown[-1] == pytest.approx(p_positive(model, config, result.vocabulary, text), rel=SHOWN)
    assert shown[0] > 0.5 > shown[1]
    # first k / last k words of the 40 test reviews, k = 10 (the lecture's 20 is past this run's 12 words)
    test = imdb.load(num_words=20, maxlen=12, data_dir=data, progress=False)
    rows = [r[r != 0] for r in test.x_test[:40]]

    def accuracy_of(kept):
        x = imdb.pad_sequences(kept, 12)
        with torch.no_grad():
            return float(((torch.sigmoid(model(torch.from_numpy(x))) >= 0.5).numpy() == test.y_test[:40]).mean())

    assert number(metric(at, "Whole review").rstrip(" %")) == pytest.approx(100 * accuracy_of(rows), abs=0.05)
    assert number(metric(at, "Last 10 words").rstrip(" %")) == pytest.approx(
        100 * accuracy_of([r[-10:] for r in rows]), abs=0.05)
    assert number(metric(at, "First 10 words").rstrip(" %")) == pytest.approx(
        100 * accuracy_of([r[:10] for r in rows]), abs=0.05)


def test_imdb_page_trains_the_quick_lecture_model_on_demand_and_shows_it(app, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_IMDB_DIR", str(tiny_reviews(tmp_path / "reviews")))
    at = open_page(app, "imdb")
    find(at.radio, "How much").set_value(find(at.radio, "How much").options[1]).run()
    find(at.button, "Train SimpleRNN(32), last state").click().run()
    assert not at.exception and not at.error
    config = imdb_config(n_train=2000, length=200, epochs=1)
    stored = Store(tmp_path / "runs").load(config, weights=False)
    assert find(at.selectbox, "Run").value == config.hash
    assert number(metric(at, "Test accuracy").rstrip(" %")) == pytest.approx(
        100 * stored.metrics["test_accuracy"], abs=0.05)
    assert not [b for b in at.button if b.label.startswith("Train")]
    assert any("is stored" in s.value for s in at.success)
