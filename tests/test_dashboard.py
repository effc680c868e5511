"""Every dashboard page through Streamlit's AppTest: it runs without an exception, shows its widgets and metrics, and
what it shows follows the widgets. AppTest cannot read charts, so the numbers on screen (metrics, tables) are
checked against rnnlab called directly on the same inputs, or against closed forms.

The run store is a temporary folder (RNNLAB_HOME), never the user's.
"""
import base64
import copy
import json
import math
import shutil
import sys
import types
import warnings
from multiprocessing import spawn
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Multiselect as MultiselectWidget

from rnnlab import imdb, memory, presets
from rnnlab.experiments import decay_report, imdb_config
from rnnlab.experiments import imdb as imdb_experiment
from rnnlab.explain import predict_proba
from rnnlab.params import count_parameters
from rnnlab.runs import RunConfig, Store, load_run, run
from rnnlab.sweeps import load_sweep, run_sweep, stored_results, summarize
from rnnlab.train import History, TrainingDiverged
from rnnlab.trajectories import state_trajectory
import diverging
from tiny_imdb import tiny_reviews

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ("overview", "parameters", "trajectories", "memory_decay", "dependencies", "compare", "imdb")
SHOWN = 5e-3  # metrics show 3 significant digits


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard on its first page, with the run store in tmp_path and no IMDB reviews (unless a test names
    some in $RNNLAB_IMDB_DIR)."""
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    monkeypatch.setenv("RNNLAB_SWEEP_DIRS", str(tmp_path))  # the tests' sweep files; see test_hostile_dashboard.py
    yield from started(AppTest.from_file(APP, default_timeout=60))


def started(at):
    """An AppTest after its first run, as a fixture yields it; afterwards this process as it was before.

    The app pins torch to one thread: the other tests get theirs back. AppTest leaves the page script as __main__,
    which a process that multiprocessing starts from here (run_sweep in a test or a later test file) would run
    first (see test_sweep_workers_start_without_running_the_dashboard_script): the test's own is put back."""
    main, threads = sys.modules["__main__"], torch.get_num_threads()
    at.run()
    sys.modules["__main__"] = main
    yield at
    sys.modules["__main__"] = main
    torch.set_num_threads(threads)


@pytest.fixture
def dashboard(monkeypatch):
    """The dashboard's modules (sources, sweep_ui, ...) importable as its pages import them: Streamlit puts the
    folder of app.py on sys.path."""
    monkeypatch.syspath_prepend(str(ROOT / "dashboard"))


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
    assert not at.select_slider  # the curves wait, closed, until a person opens their expander
    at.session_state["overview.curves"] = True
    at.run()
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


def drawn(widget):
    """The value a browser draws the widget at: the one its element carries (set_value), else its default; a browser
    keeps nothing of a widget it stopped drawing. As option labels: the default is their indices."""
    p = widget.proto
    if p.set_value:
        return list(p.raw_values if isinstance(widget, MultiselectWidget) else p.raw_value)
    return [p.options[int(i)] for i in p.default]


def test_overview_curves_widgets_keep_their_values_when_the_expander_is_closed_and_reopened(app):
    at = app
    at.session_state["overview.curves"] = True
    at.run()
    chosen = [presets.LECTURE, "GRU, same state size"]
    find(at.multiselect, "Configurations").set_value(chosen).run()
    find(at.select_slider, "Sequence length T").set_value(500).run()
    for is_open in (False, True):
        at.session_state["overview.curves"] = is_open
        at.run()
    assert not at.exception and not at.error
    assert drawn(find(at.multiselect, "Configurations")) == chosen
    assert drawn(find(at.select_slider, "Sequence length T")) == ["500"]
    assert [m.label for m in at.metric if "half-life" in m.label] == [f"{n}: half-life of x_0 (steps)" for n in chosen]


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


def test_trajectories_at_10000_steps_of_an_lstm_draw_every_10th_state_in_a_bounded_page(app):
    """Oracle: state_trajectory of the preset at initialisation on the same sequence, indexed at the steps the
    heat map's columns name; the same computation on this machine, equal but for the JSON's encoding (1e-15)."""
    at = open_page(app, "trajectories")
    find(at.selectbox, "Preset configuration").set_value("LSTM, same state size").run()
    find(at.select_slider, "Length T").set_value(10_000).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    config = presets.preset("LSTM, same state size")
    traj = state_trajectory(config.build_model().eval(), presets.sample_input(config, 10_000, 0)[0])
    figure = chart(at, "Hidden state h_t")
    heat = figure["data"][0]
    np.testing.assert_array_equal(heat["x"], np.arange(0, 10_000, 10))
    np.testing.assert_allclose(np.asarray(heat["z"]), traj.states[::10].T, rtol=1e-15, atol=0)
    assert figure["layout"]["xaxis"]["title"]["text"] == "time step t (one step in 10: 1,000 of 10,000 drawn)"
    # five charts, 13.6 MB before the cap: 1,000 columns of 32 units and lines of 10,000 points weigh about 2.4 MB
    assert sum(len(c.proto.spec) for c in at.get("plotly_chart")) < 3e6


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
    assert any(presets.cli_command(config) in c.value for c in at.code)  # the CLI, then the Python


def test_the_run_selector_names_runs_by_what_tells_them_apart_and_details_the_chosen_one(app, tmp_path):
    store = Store(tmp_path / "runs")
    first = RunConfig(hidden_size=8, embedding_dim=4, length=6, lag=2, epochs=1, n_train=64, n_test=16)
    results = [run(c, store=store, progress=False) for c in (first, first.replace(seed=1, epochs=2),
                                                             first.replace(cell="lstm", hidden_size=4))]
    at = open_page(app, "trajectories")
    find(at.radio, "Model").set_value("Trained run from the store").run()
    acc = [f"{r.metrics['test_accuracy']:.0%}" for r in results]
    # task, length and lag are the same for all three, so they are left out
    assert sorted(find(at.selectbox, "Run").options) == [f"LSTM · h=4 · 1 ep · seed 0 · {acc[2]}",
                                                         f"SimpleRNN · h=8 · 1 ep · seed 0 · {acc[0]}",
                                                         f"SimpleRNN · h=8 · 2 ep · seed 1 · {acc[1]}"]
    find(at.selectbox, "Run").set_value(results[1].hash).run()
    assert (f"SimpleRNN h=8 · lag_recall T=6 lag=2, 2 epochs, seed 1, test accuracy {acc[1]} · {results[1].hash}"
            in [c.value for c in at.sidebar.caption])


def test_trajectories_of_a_stored_text_model_read_the_review_typed_with_its_vocabulary(app, tmp_path):
    """A stored imdb run (made here without the data: a small vocabulary and the model at initialisation)."""
    config = RunConfig(task="imdb", length=12, num_symbols=10, hidden_size=6, embedding_dim=4, n_train=10,
                       n_test=10, head="flatten")
    vocabulary = imdb.Vocabulary(["the", "movie", "was", "great", "bad", "plot"], num_words=10)
    metrics = {"test_loss": 0.7, "test_accuracy": 0.5, "chance_metric": "accuracy", "chance": 0.5, "seconds": 0.0,
               "epochs": 0, "created": 0.0}  # all that load requires
    Store(tmp_path / "runs").save(config, History(), metrics, config.build_model(), vocabulary)
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


def test_the_name_in_compare_follows_the_configuration_until_the_person_types_one(app):
    at = open_page(app, "memory_decay")
    base = presets.preset(presets.LECTURE)
    assert find(at.text_input, "Name in Compare").value == "SimpleRNN h=32"
    find(at.checkbox, "Rescale A_h to a spectral radius ρ").check().run()
    find(at.slider, "Spectral radius ρ(A_h)").set_value(0.9).run()
    assert find(at.text_input, "Name in Compare").value == "SimpleRNN h=32, ρ=0.9"
    find(at.text_input, "Name in Compare").set_value("forgetful").run()
    find(at.button, "Add to compare").click().run()
    at = open_page(at, "compare")
    table = at.dataframe[0].value.set_index("")
    assert table.loc["spectral radius ρ(A_h)", "forgetful"] == "0.9"
    assert table.loc["model", "forgetful"] == "SimpleRNN h=32, ρ=0.9"


def test_compare_labels_a_stored_runs_accuracy_apart_from_the_weights_its_column_measures(app, dashboard, tmp_path):
    from sources import AtInit, CompareEntry

    config = presets.preset(presets.LECTURE).replace(length=6, lag=2, n_train=100, n_test=50, epochs=1)
    accuracy = run(config, Store(tmp_path / "runs")).metrics["test_accuracy"]
    at = open_page(app, "compare")
    at.session_state["compare"] = at.session_state["compare"] + [CompareEntry("tiny", config, AtInit())]
    at.run()
    table = at.dataframe[0].value.set_index("")
    assert table.loc["weights measured", "tiny"] == "at initialisation"
    assert number(table.loc["test accuracy, lag 2 (trained run in the store)", "tiny"]) == pytest.approx(
        accuracy, rel=SHOWN)
    assert not [row for row in table.index if row.startswith("test accuracy") and "trained run" not in row]


def test_the_length_a_person_chose_comes_back_once_the_state_size_allows_it(app):
    """BUDGET = 10,000·4·32² and a SimpleRNN costs T·1·h² per curve: h = 256 allows T ≤ 625 (so 500 of LENGTHS)."""
    at = open_page(app, "memory_decay")
    find(at.select_slider, "Length T").set_value(2000).run()
    find(at.slider, "State size h").set_value(256).run()
    assert find(at.select_slider, "Length T").value == 500 and find(at.select_slider, "Length T").options[-1] == "500"
    find(at.slider, "State size h").set_value(32).run()
    assert find(at.select_slider, "Length T").value == 2000
    # a length chosen while the budget is cut is the new choice
    find(at.slider, "State size h").set_value(256).run()
    find(at.select_slider, "Length T").set_value(300).run()
    find(at.slider, "State size h").set_value(32).run()
    assert find(at.select_slider, "Length T").value == 300


def test_memory_decay_says_where_the_influence_underflowed_and_that_it_is_measured_in_float64(app):
    at = open_page(app, "memory_decay")
    find(at.selectbox, "Preset configuration").set_value("GRU, same state size").run()
    find(at.select_slider, "Length T").set_value(5000).run()
    influence = decay_report(presets.preset("GRU, same state size"), 5000).influence
    start = int(np.flatnonzero(influence == 0)[0])  # this seed's GRU underflows after about 2,400 steps
    (note,) = [c.value for c in at.main.caption if c.value.startswith("✕ on the bottom edge")]
    assert f"at initialisation from t = {start:,})" in note and "measured in float64" in note
    find(at.select_slider, "Length T").set_value(1000).run()  # far above underflow: no ✕, no note
    assert not [c for c in at.main.caption if c.value.startswith("✕")]


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
    assert [s.value for s in at.subheader] == ["At initialisation", "After training", "Memory while training"]
    assert not [b for b in at.button if b.label.startswith("Train it now")]
    assert any(presets.cli_command(config) in c.value for c in at.code)  # the CLI, then the Python
    history = load_run(config.hash, store=tmp_path / "runs").history
    assert len(history.influence) == 2 and find(at.slider, "After epoch (0: at initialisation)").value == 1


def test_memory_while_training_shows_the_influence_recorded_after_each_epoch(tmp_path):
    """Oracle: influence_curve of the model at initialisation, and the stored weights after the last epoch, on the
    run's first 16 test sequences: what run() records in History.influence."""
    config = presets.preset(presets.LECTURE).replace(hidden_size=6, length=8, lag=3, epochs=2, n_train=64, n_test=32)
    result = run(config, store=Store(tmp_path / "runs"), progress=False)
    (_, _), (x, _) = config.make_data()
    probe = torch.from_numpy(x[:16])
    np.testing.assert_allclose(result.history.influence[0], memory.influence_curve(config.build_model().eval(), probe),
                               rtol=1e-6)
    np.testing.assert_allclose(result.history.influence[-1], memory.influence_curve(result.model, probe), rtol=1e-6)
    assert len(result.history.influence) == result.history.epochs + 1
    again = load_run(result.hash, store=tmp_path / "runs").history
    assert again.influence == result.history.influence


def test_memory_decay_metrics_are_decay_report_of_each_source(app, tmp_path):
    """Before and after training: the page's metrics are rnnlab.experiments.decay_report of the model at
    initialisation and of the stored run's model, on the sequence of the chosen length and seed. Both sides measure
    the same weights the same way, so they differ only by the display's rounding: 3 significant digits (SHOWN), 4
    for the spectrum (5e-4), and the horizon is the same words."""
    config = presets.preset(presets.LECTURE).replace(hidden_size=6, length=5, lag=3, epochs=1)  # this test's own
    run(config, store=Store(tmp_path / "runs"), progress=False)
    at = open_page(app, "memory_decay")
    find(at.slider, "State size h").set_value(6)
    find(at.slider, "Training length T").set_value(5).run()
    find(at.slider, "Lag to recall").set_value(3)
    find(at.slider, "Epochs").set_value(1)
    find(at.select_slider, "Length T").set_value(500)
    find(at.number_input, "Random sequence (seed)").set_value(3)
    at.run()
    assert not at.error and [s.value for s in at.subheader] == ["At initialisation", "After training",
                                                                  "Memory while training"]
    trained = load_run(config.hash, tmp_path / "runs").model
    reports = [decay_report(config, 500, 3), decay_report(config, 500, 3, model=trained)]
    assert reports[0].fit.time_constant != reports[1].fit.time_constant  # training changed the memory

    def shown(label):
        return [m.value for m in at.metric if m.label == label]  # at initialisation, then after training

    assert shown("Horizon (steps)") == [r.horizon for r in reports]
    for label, value, rel in (("Time constant τ (steps)", lambda r: r.fit.time_constant, SHOWN),
                              ("Half-life (steps)", lambda r: r.fit.half_life, SHOWN),
                              ("Spectral radius ρ(A_h)", lambda r: r.spectrum.spectral_radius, 5e-4),
                              ("σ_max(A_h)", lambda r: r.spectrum.sigma_max, 5e-4),
                              ("Lyapunov exponent (/step)", lambda r: r.lyapunov, SHOWN)):
        assert [number(v) for v in shown(label)] == pytest.approx([value(r) for r in reports], rel=rel), label


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
    base = presets.preset(presets.LECTURE).replace(task="marked_recall", length=6, epochs=1, n_train=250)
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


def test_compare_says_so_when_a_flatten_model_shares_no_length_with_the_others(app, dashboard):
    from sources import AtInit, CompareEntry

    at = open_page(app, "compare")
    flat = presets.preset(presets.LECTURE).replace(head="flatten", length=30)
    at.session_state["compare"] = at.session_state["compare"] + [CompareEntry("flat", flat, AtInit())]
    at.run()
    assert not at.exception
    assert any("share no sequence length" in e.value and "30" in e.value for e in at.error)
    at.button(key="compare.remove.0").click().run()
    at.button(key="compare.remove.0").click().run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.set_index("").columns) == ["flat"]
    assert any(c.value.startswith("Length T: 30 (a Flatten head") for c in at.sidebar.caption)
    assert any("one random sequence of 30 steps" in c.value for c in at.main.caption)


def test_a_source_gives_the_model_at_initialisation_or_the_stored_weights_and_says_which(tmp_path, monkeypatch,
                                                                                        dashboard):
    from sources import AtInit, StoredRun

    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path))
    config = RunConfig(hidden_size=5, embedding_dim=3, length=6, epochs=2, n_train=64, n_test=16)  # this test's own
    run(config, store=Store(tmp_path / "runs"), progress=False)
    stored = load_run(config.hash, tmp_path / "runs").model.state_dict()  # the weights as the store's files hold them
    initial = config.build_model().state_dict()  # seeded by config.seed: the same weights every time
    at_init, trained = AtInit().model(config).state_dict(), StoredRun(config.hash).model(config).state_dict()
    assert at_init.keys() == trained.keys() == initial.keys()
    assert all(torch.equal(at_init[k], initial[k]) and torch.equal(trained[k], stored[k]) for k in initial)
    assert not all(torch.equal(initial[k], stored[k]) for k in initial)  # training moved the weights
    assert (AtInit().label, StoredRun(config.hash).label) == ("at initialisation", "trained")
    assert (AtInit().key, StoredRun(config.hash).key) == ("at initialisation", config.hash)
    assert (AtInit().vocabulary(), StoredRun(config.hash).vocabulary()) == (None, None)  # a synthetic task


def cancellable():
    """A page with one train_with_cancel whose work reports a quarter, then past the end, and is then stopped as a
    click stops it (Streamlit's StopException at the next st call) unless session state says "interrupt": False;
    it logs what it did."""
    import streamlit as st

    from rnnlab.train import TrainingDiverged
    from widgets import train_with_cancel

    log = st.session_state.setdefault("log", [])

    def work(progress):
        log.append("started")
        progress(0.25, "a quarter")
        progress(1.5, "past the end")
        if st.session_state.get("diverge"):
            raise TrainingDiverged(epoch=1, step=3, loss=float("nan"))
        if st.session_state.get("interrupt", True):
            st.stop()
        log.append("finished")

    train_with_cancel("t", "Train it", work, pending="finished" not in log, cancelled="Cancelled; the rest is kept.")


@pytest.fixture
def cancellable_page(dashboard):
    yield from started(AppTest.from_function(cancellable, default_timeout=30))


def progress_bars(at):
    return [(p.proto.value, p.proto.text) for p in at.get("progress")]


def test_train_with_cancel_trains_on_click_with_progress_and_cancel_stops_it(cancellable_page):
    at = cancellable_page
    assert [b.label for b in at.button] == ["Train it"] and not progress_bars(at) and not at.session_state["log"]
    find(at.button, "Train it").click().run()  # stopped at its last progress update, as a click would stop it
    assert at.session_state["log"] == ["started"]
    assert progress_bars(at) == [(100, "past the end")]  # the bar clamped to [0, 1]
    assert [b.label for b in at.button] == ["Cancel"] and at.session_state["t.training"]
    find(at.button, "Cancel").click().run()
    assert [w.value for w in at.warning] == ["Cancelled; the rest is kept."]
    assert at.session_state["log"] == ["started"] and not progress_bars(at)  # not started again
    assert [b.label for b in at.button] == ["Train it"] and not at.session_state["t.training"]
    at.session_state["interrupt"] = False
    find(at.button, "Train it").click().run()  # runs to the end, then the page runs again: nothing left to train
    assert at.session_state["log"] == ["started", "started", "finished"]
    assert not at.button and not at.warning and not progress_bars(at) and not at.exception


def test_train_with_cancel_shows_a_training_error_and_offers_the_button_again(cancellable_page):
    at = cancellable_page
    at.session_state["diverge"] = True
    find(at.button, "Train it").click().run()
    assert [e.value for e in at.error] == [str(TrainingDiverged(epoch=1, step=3, loss=float("nan")))]
    assert not at.exception
    assert [b.label for b in at.button] == ["Train it"] and not at.session_state["t.training"]


# ------------------------------------------------------------------------------------------------ sweeps

# cell × hidden_size × lag × 3 seeds = 24 runs of a few milliseconds each
TINY_SWEEP = """seeds = [0, 1, 2]
[base]
length = 6
n_train = 64
n_test = 32
embedding_dim = 4
epochs = 2
batch_size = 16
[grid]
cell = ["simple_rnn", "gru"]
hidden_size = [4, 8]
lag = [0, 3]
"""


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    """The tiny sweep trained once (rnnlab.sweeps.run_sweep) into a folder that tests copy into their store."""
    folder = tmp_path_factory.mktemp("tiny_sweep")
    (folder / "tiny.toml").write_text(TINY_SWEEP)
    result = run_sweep(load_sweep(folder / "tiny.toml"), store=folder / "runs", workers=2, progress=False)
    assert not result.failures
    return folder


def with_tiny(tmp_path, trained=None):
    """The tiny sweep file in tmp_path, and its runs in the test's store when `trained` holds them."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SWEEP)
    if trained is not None:
        shutil.copytree(trained / "runs", tmp_path / "runs")
    return path


def choose_sweep(at, path):
    find(at.selectbox, "Sweep file").set_value("A file I name…").run()
    find(at.text_input, "Path of a sweep file (TOML)").set_value(str(path)).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _decoded(value):
    """Plotly's JSON with its typed arrays ({"dtype", "bdata", "shape"?}) as NumPy arrays."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return array.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else array
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def chart(at, title_start):
    """The one figure on the page whose title starts with title_start, as a dict (AppTest does not read charts:
    the element's proto carries the figure's JSON)."""
    figures = [_decoded(json.loads(c.proto.spec)) for c in at.get("plotly_chart")]
    matches = [f for f in figures if f["layout"]["title"]["text"].startswith(title_start)]
    assert len(matches) == 1, [f["layout"]["title"]["text"] for f in figures]
    return matches[0]


def traced(figure):
    return {t.get("name"): t for t in figure["data"]}


# Student's t quantile t_0.975 for ν = n − 1 degrees of freedom, closed forms: ν = 1 the Cauchy quantile, ν = 2
# t = (2p − 1)·√(2 / (1 − (2p − 1)²))
T_975 = {1: math.tan(math.pi * (0.975 - 0.5)), 2: 0.95 * math.sqrt(2 / (1 - 0.95**2))}


def across_seeds(store, sweep, seeds=3, **fields):
    """Mean, std and 95% interval of the stored test accuracies of the sweep's runs with these fields, one per seed
    (NumPy, std with n − 1, and T_975): independent of rnnlab.sweeps."""
    configs = [c for c in sweep.configs if all(getattr(c, k) == v for k, v in fields.items()) and c in store]
    accuracy = np.array([store.load(c, weights=False).metrics["test_accuracy"] for c in configs], dtype=np.float64)
    assert len(accuracy) == seeds == len({c.seed for c in configs})
    mean, std = accuracy.mean(), accuracy.std(ddof=1)
    half = T_975[seeds - 1] * std / math.sqrt(seeds)
    return mean, std, mean - half, mean + half


@pytest.mark.parametrize("page", ["dependencies", "compare"])
def test_sweep_section_on_an_empty_store_shows_0_of_n_runs_and_the_button_and_trains_nothing(app, tmp_path, page):
    at = open_page(app, page)
    assert not at.error
    default = load_sweep(ROOT / "sweeps" / "reach.toml")  # the lesson's sweep
    assert find(at.selectbox, "Sweep file").value == "reach.toml"
    assert metric(at, "Runs in the store") == f"0 of {len(default.configs)}"
    assert metric(at, "Configurations × seeds") == f"{len(default.configs) // 3} × 3"
    find(at.button, f"Run the {len(default.configs)} missing runs of reach")
    assert "rnnlab sweep sweeps/reach.toml" in [c.value for c in at.code]
    assert not at.get("progress")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_dependencies_runs_a_sweep_through_its_button_and_draws_the_mean_and_interval_across_seeds(app, tmp_path):
    path = with_tiny(tmp_path)
    sweep = load_sweep(path)
    at = choose_sweep(open_page(app, "dependencies"), path)
    assert metric(at, "Runs in the store") == f"0 of {len(sweep.configs)}" == "0 of 24"
    find(at.button, "Run the 24 missing runs of tiny").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = Store(tmp_path / "runs")
    assert all(c in store for c in sweep.configs)
    assert metric(at, "Runs in the store") == "24 of 24" and metric(at, "Failed runs") == "0"
    assert not [b for b in at.button if b.label.startswith("Run the")]
    # defaults: lag on x, a curve per cell, hidden_size held at its first value, the 95% interval as the band
    assert (find(at.selectbox, "x axis").value, find(at.selectbox, "Curves (colour) by").value) == ("lag", "cell")
    assert find(at.selectbox, "Hold hidden_size at").value == 4
    traces = traced(chart(at, "tiny: test accuracy against lag"))
    assert set(traces) == {"simple_rnn", "simple_rnn band", "gru", "gru band", "chance 0.125"}
    table = at.dataframe[-1].value
    summary = summarize([r for r in stored_results(sweep, store) if r.config.hidden_size == 4], by=["cell", "lag"])
    for cell in ("simple_rnn", "gru"):
        oracle = [across_seeds(store, sweep, cell=cell, hidden_size=4, lag=lag) for lag in (0, 3)]
        mean, _, lower, upper = (np.array(v) for v in zip(*oracle))
        assert list(traces[cell]["x"]) == [0, 3]
        np.testing.assert_allclose(traces[cell]["y"], mean, rtol=1e-12)
        np.testing.assert_allclose(traces[f"{cell} band"]["y"], np.concatenate([upper, lower[::-1]]), rtol=1e-12)
        rows = [r for r in summary if r["cell"] == cell]  # what summarize gives on the stored runs directly
        np.testing.assert_allclose(traces[cell]["y"], [r["test_accuracy_mean"] for r in rows], rtol=1e-12)
        for lag, (m, s, lo, hi) in zip((0, 3), oracle):
            row = table[(table["cell"] == cell) & (table["lag"] == str(lag))].iloc[0]
            assert row["seeds (n)"] == 3 and row["seeds"] == "0 1 2"
            assert [row["test accuracy mean"], row["test accuracy std"], row["test accuracy 95% low"],
                    row["test accuracy 95% high"]] == pytest.approx([m, s, lo, hi], rel=1e-9)
    assert "Summary (CSV)" in [b.label for b in at.get("download_button")]


def test_dependencies_sweep_widgets_choose_the_curves_the_x_axis_and_the_band(app, tmp_path, trained_tiny):
    path = with_tiny(tmp_path, trained_tiny)
    sweep, store = load_sweep(path), Store(tmp_path / "runs")
    at = choose_sweep(open_page(app, "dependencies"), path)
    assert metric(at, "Runs in the store") == "24 of 24"
    find(at.selectbox, "Curves (colour) by").set_value("hidden_size").run()
    find(at.selectbox, "Hold cell at").set_value("gru").run()
    traces = traced(chart(at, "tiny: test accuracy against lag"))
    assert set(traces) == {"4", "4 band", "8", "8 band", "chance 0.125"}  # one curve per state size now
    for h in (4, 8):
        oracle = [across_seeds(store, sweep, cell="gru", hidden_size=h, lag=lag) for lag in (0, 3)]
        np.testing.assert_allclose(traces[str(h)]["y"], [o[0] for o in oracle], rtol=1e-12)
    find(at.radio, "Band across seeds").set_value("± 1 std").run()
    traces = traced(chart(at, "tiny: test accuracy against lag"))
    oracle = [across_seeds(store, sweep, cell="gru", hidden_size=8, lag=lag) for lag in (0, 3)]
    mean, std = np.array([o[0] for o in oracle]), np.array([o[1] for o in oracle])
    np.testing.assert_allclose(traces["8 band"]["y"], np.concatenate([mean + std, (mean - std)[::-1]]), rtol=1e-12)
    find(at.radio, "Band across seeds").set_value("none").run()
    assert set(traced(chart(at, "tiny: test accuracy against lag"))) == {"4", "8", "chance 0.125"}
    find(at.selectbox, "x axis").set_value("hidden_size").run()  # accuracy against the state size, a curve per cell
    assert find(at.selectbox, "Curves (colour) by").value == "cell"
    find(at.selectbox, "Hold lag at").set_value(3).run()
    traces = traced(chart(at, "tiny: test accuracy against hidden_size"))
    assert set(traces) == {"simple_rnn", "gru", "chance 0.125"}
    for cell in ("simple_rnn", "gru"):
        assert list(traces[cell]["x"]) == [4, 8]
        np.testing.assert_allclose(traces[cell]["y"], [across_seeds(store, sweep, cell=cell, hidden_size=h, lag=3)[0]
                                                       for h in (4, 8)], rtol=1e-12)
    assert not at.exception and not at.error


def test_a_partly_stored_sweep_shows_what_the_store_holds_and_the_seeds_behind_each_point(app, tmp_path,
                                                                                           trained_tiny):
    path = with_tiny(tmp_path, trained_tiny)
    sweep, store = load_sweep(path), Store(tmp_path / "runs")
    gone = [c for c in sweep.configs
            if c.hidden_size == 8 or (c.cell, c.hidden_size, c.lag, c.seed) == ("gru", 4, 0, 2)]
    assert all(store.delete(c) for c in gone)
    at = choose_sweep(open_page(app, "dependencies"), path)
    assert metric(at, "Runs in the store") == f"{24 - len(gone)} of 24" == "11 of 24"
    find(at.button, "Run the 13 missing runs of tiny")
    traces = traced(chart(at, "tiny: test accuracy against lag"))
    mean, _, lower, upper = across_seeds(store, sweep, seeds=2, cell="gru", hidden_size=4, lag=0)  # ν = 1
    assert traces["gru"]["y"][0] == pytest.approx(mean, rel=1e-12)
    assert [traces["gru band"]["y"][0], traces["gru band"]["y"][-1]] == pytest.approx([upper, lower], rel=1e-12)
    table = at.dataframe[-1].value
    assert list(table["seeds (n)"]) == [3, 3, 2, 3] and list(table["seeds"])[2] == "0 1"
    find(at.selectbox, "Hold hidden_size at").set_value(8).run()
    assert not at.exception and not at.error
    assert any("holds no run of tiny with hidden_size = 8" in i.value for i in at.info)


def test_compare_draws_sweep_groups_side_by_side_with_error_bars_across_seeds(app, tmp_path, trained_tiny):
    path = with_tiny(tmp_path, trained_tiny)
    sweep, store = load_sweep(path), Store(tmp_path / "runs")
    at = choose_sweep(open_page(app, "compare"), path)
    assert list(at.dataframe[0].value.columns)[1:] == [presets.LECTURE, "LSTM, same state size"]  # still first
    assert (find(at.selectbox, "Groups (colour) by").value, find(at.selectbox, "Side by side at each").value) == \
        ("cell", "lag")
    bars = traced(chart(at, "tiny: Test accuracy by cell at each lag"))
    assert set(bars) == {"simple_rnn", "gru"}
    for cell in ("simple_rnn", "gru"):
        oracle = [across_seeds(store, sweep, cell=cell, hidden_size=4, lag=lag) for lag in (0, 3)]
        mean, _, lower, upper = (np.array(v) for v in zip(*oracle))
        assert list(bars[cell]["x"]) == ["lag = 0", "lag = 3"] and bars[cell]["type"] == "bar"
        np.testing.assert_allclose(bars[cell]["y"], mean, rtol=1e-12)
        np.testing.assert_allclose(bars[cell]["error_y"]["array"], upper - mean, rtol=1e-9)
        np.testing.assert_allclose(bars[cell]["error_y"]["arrayminus"], mean - lower, rtol=1e-9)
    # a bar per state size, everything else held: the GRUs at lag 3
    find(at.selectbox, "Groups (colour) by").set_value("hidden_size").run()
    find(at.selectbox, "Side by side at each").set_value("— (one bar per group)").run()
    find(at.selectbox, "Hold cell at").set_value("gru").run()
    find(at.selectbox, "Hold lag at").set_value(3).run()
    bars = traced(chart(at, "tiny: Test accuracy by hidden_size"))
    assert set(bars) == {"4", "8"}
    for h in (4, 8):
        assert bars[str(h)]["y"] == pytest.approx([across_seeds(store, sweep, cell="gru", hidden_size=h, lag=3)[0]])
    table = at.dataframe[-1].value
    assert list(table["hidden_size"]) == ["4", "8"] and list(table["seeds (n)"]) == [3, 3]
    # the decay of ‖∂h_t/∂x_0‖ of each trained model, as rnnlab.sweeps.summarize(influence=True) gives it; a mean
    # that is not finite (a curve that never decays: τ = inf) gets no bar but a note naming its group
    find(at.selectbox, "Statistic").set_value("time_constant").run()
    drawn = []
    for cell in ("gru", "simple_rnn"):
        find(at.selectbox, "Hold cell at").set_value(cell).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        runs = [r for r in stored_results(sweep, store) if r.config.cell == cell and r.config.lag == 3]
        summary = summarize(runs, by=["hidden_size"], influence=True)
        table = at.dataframe[-1].value
        assert list(table["seeds (n)"]) == [3, 3]
        assert list(table["time constant τ mean"]) == pytest.approx([r["time_constant_mean"] for r in summary])
        assert list(table["time constant τ 95% high"]) == pytest.approx(
            [r["time_constant_upper"] for r in summary], nan_ok=True)
        figure = chart(at, "tiny: Time constant τ of ‖∂h_t/∂x_0‖ by hidden_size")
        notes = " ".join(a["text"] for a in figure["layout"].get("annotations", []) if "not finite" in a["text"])
        for row in summary:
            y = traced(figure)[str(row["hidden_size"])]["y"][0]
            if math.isfinite(row["time_constant_mean"]):
                drawn.append(y)
                assert y == pytest.approx(row["time_constant_mean"]) and str(row["hidden_size"]) not in notes
            else:
                mean = row["time_constant_mean"]  # kept in the data (inf or nan), not drawn
                assert (y == mean or math.isnan(y) and math.isnan(mean)) and str(row["hidden_size"]) in notes
    assert drawn  # the GRUs' influence decays within the 6 steps


def test_a_sweep_file_that_cannot_be_read_is_a_message_naming_it(app, tmp_path):
    at = open_page(app, "dependencies")
    find(at.selectbox, "Sweep file").set_value("A file I name…").run()
    assert any("Type the path of a sweep file" in i.value for i in at.info)
    missing, bad = tmp_path / "none.toml", tmp_path / "bad.toml"
    bad.write_text('seeds = [0]\n[grid]\ncell = ["lstn"]\n')
    for path, words in ((missing, "not a sweep file I may read"), (bad, "grid.cell = 'lstn' gives no valid run")):
        find(at.text_input, "Path of a sweep file (TOML)").set_value(str(path)).run()
        assert not at.exception
        assert any(words in e.value and str(path) in e.value for e in at.error), [e.value for e in at.error]


def test_a_sweep_run_that_failed_is_counted_and_its_error_shown(app, tmp_path):
    path = tmp_path / "diverge.toml"
    base = "\n".join(f"{k} = {v}" for k, v in dict(length=6, n_train=64, n_test=32, hidden_size=4, embedding_dim=4,
                                                   epochs=1, batch_size=16).items())
    path.write_text(f'seeds = [0]\n[base]\n{base}\n{diverging.TOML}\n[grid]\n'
                    f'spectral_radius = [0.5, {diverging.RHO}]\n')
    result = run_sweep(load_sweep(path), store=tmp_path / "runs", workers=1, progress=False)
    assert len(result.failures) == 1 and result.failures[0]["config"]["spectral_radius"] == diverging.RHO
    at = choose_sweep(open_page(app, "dependencies"), path)
    assert metric(at, "Runs in the store") == "1 of 2" and metric(at, "Failed runs") == "1"
    assert any("1 run failed, the last after 2 attempts with TrainingDiverged" in w.value for w in at.warning)
    find(at.button, "Run the 1 missing run of diverge")


def test_sweep_workers_start_without_running_the_dashboard_script(monkeypatch, dashboard):
    """Streamlit runs a page as the module __main__ of dashboard/app.py; multiprocessing.spawn's preparation data
    is what a forkserver or spawn worker imports before its first task, so it must not name that script."""
    import sweep_ui

    page = types.ModuleType("__main__")
    page.__file__ = APP
    monkeypatch.setitem(sys.modules, "__main__", page)
    assert spawn.get_preparation_data("worker")["init_main_from_path"] == APP  # what a worker would run
    with sweep_ui.main_script_hidden():
        prepared = spawn.get_preparation_data("worker")
        assert "init_main_from_path" not in prepared and "init_main_from_name" not in prepared
    assert sys.modules["__main__"] is page


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
    (untrained,) = [w.value for w in at.warning if "Untrained" in w.value]
    assert "word index is not on this machine" in untrained
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
    (untrained,) = [w.value for w in at.warning if "Untrained" in w.value]  # the reviews are here, a word index too
    assert "word index is here" in untrained
    find(at.button, "Train SimpleRNN(32), last state").click().run()
    assert not at.exception and not at.error
    config = imdb_config(n_train=2000, length=200, epochs=1)
    stored = Store(tmp_path / "runs").load(config, weights=False)
    assert find(at.selectbox, "Run").value == config.hash
    assert number(metric(at, "Test accuracy").rstrip(" %")) == pytest.approx(
        100 * stored.metrics["test_accuracy"], abs=0.05)
    assert not [b for b in at.button if b.label.startswith("Train")]
    assert any("is stored" in s.value for s in at.success)
    assert all(a.value.strip() for a in [*at.info, *at.warning, *at.success])  # no empty alert box left behind
