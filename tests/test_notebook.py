"""rnnlab.notebook: the Python a page offers for its figure, and the notebook of it. The round trip: the page's code
run as a notebook by a real Jupyter kernel (nbclient) draws the page's own figure, point by point."""
import ast
import csv
import io
import os
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient

from rnnlab import notebook, plots, presets
from rnnlab.runs import RunConfig, Store, run
from test_dashboard import _decoded, app, chart, find, open_page  # noqa: F401 (app is a fixture)

LECTURE = presets.preset(presets.LECTURE)
ROOT = Path(__file__).resolve().parents[1]  # the kernel imports this checkout's rnnlab
KERNEL_TIMEOUT = 120  # seconds per cell: a kernel's start and a few hundred steps of a tiny model take a few


@pytest.mark.parametrize("kwargs, field, allowed", [
    ({"figure": "loss"}, "figure", "influence, states"),
    ({"length": 0}, "length", "≥ 1"),
    ({"length": 2.0}, "length", "integer"),
    ({"length": True}, "length", "integer"),
    ({"seed": -1}, "seed", "≥ 0"),
    ({"source": "abc"}, "source", "12 hex digits"),
    ({"source": "0123456789ab\nimport os"}, "source", "12 hex digits"),  # nothing but a hash reaches the code
])
def test_code_refuses_bad_arguments_naming_the_field_the_value_and_what_is_allowed(kwargs, field, allowed):
    with pytest.raises(ValueError) as e:
        notebook.code(LECTURE, **kwargs)
    value = next(iter(kwargs.values()))
    assert field in str(e.value) and repr(value) in str(e.value) and allowed in str(e.value)


def test_code_refuses_a_config_that_is_not_a_runconfig():
    with pytest.raises(TypeError, match="config must be a RunConfig, got dict"):
        notebook.code(LECTURE.to_dict())


def test_code_spells_out_the_fields_that_differ_from_the_defaults_and_rebuilds_the_same_config():
    config = RunConfig(cell="lstm", hidden_size=7, init="chrono", spectral_radius=0.9, lag=3)
    text = notebook.code(config, "states", 50, 2)
    line = next(line for line in text.splitlines() if line.startswith("config = "))
    assert eval(line.removeprefix("config = "), {"RunConfig": RunConfig}) == config  # our own text, not a user's
    assert line.count("=") - 1 == 5  # only the five changed fields


def test_code_loads_a_trained_run_by_its_hash_only_when_given_one():
    for figure in notebook.MODEL_FIGURES:
        assert "load_run" not in notebook.code(LECTURE, figure)
        assert f'load_run("{LECTURE.hash}").model' in notebook.code(LECTURE, figure, source=LECTURE.hash)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"figure": "influence"}, ValueError, "figure must be accuracy_vs_lag or memory_profile, got 'influence'"),
    ({"configs": {}}, TypeError, "configs must be a non-empty dict name → RunConfig, got a JSON object of 0"),
    ({"configs": {"a": LECTURE.to_dict()}}, TypeError, "configs must map a str to a RunConfig, got 'a' → dict"),
    ({"lags": []}, ValueError, "lags must be a non-empty list of integers ≥ 0, got a list of 0"),
    ({"lags": [0, -1]}, ValueError, "lags must be integers ≥ 0, got -1"),
    ({"lags": [0, 1.0]}, ValueError, "lags must be integers ≥ 0, got 1.0"),
    ({"length": 4}, ValueError, "length must be None or an integer ≥ max(lags) + 1 = 5, got 4"),
    ({"names": ["other"]}, ValueError, "names must hold each name in configs, got a list of 1, which lacks 'a'"),
])
def test_lags_code_refuses_bad_arguments_naming_the_field_the_value_and_what_is_allowed(kwargs, error, message):
    arguments = {"configs": {"a": LECTURE}, "figure": "memory_profile", "lags": [0, 4], **kwargs}
    with pytest.raises(error) as e:
        notebook.lags_code(**arguments)
    assert str(e.value) == message


def test_lags_code_names_the_colour_order_only_where_it_differs_from_the_configurations():
    configs = {"b": LECTURE.replace(cell="gru"), "a": LECTURE}
    assert "names=" not in notebook.lags_code(configs, "accuracy_vs_lag", [0, 2])
    assert "names=['a', 'b']" in notebook.lags_code(configs, "accuracy_vs_lag", [0, 2], names=["a", "b"])
    text = notebook.lags_code({"it's \"typed\"\n": LECTURE}, "memory_profile", [1], length=9)
    tree = ast.parse(text)  # a typed name stays a string literal: one dict key, no other statement
    assert [type(node).__name__ for node in tree.body] == ["ImportFrom", "ImportFrom", "Assign", "Assign", "Assign",
                                                           "Assign", "Expr"]
    assert ast.literal_eval(tree.body[2].value.keys[0]) == "it's \"typed\"\n"
    assert "memory_profile(config.build_model().eval(), lags, length=9)" in text


def test_notebook_is_a_valid_nbformat_v4_notebook_of_the_cells_in_order():
    cells = [("markdown", "# Memory decay ‖∂h_t/∂x_0‖"), ("code", notebook.code(LECTURE)), ("code", "fig")]
    nb = nbformat.reads(notebook.notebook(cells).decode("utf-8"), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)  # raises on anything nbformat's own schema refuses
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    assert [(c.cell_type, c.source) for c in nb.cells] == cells
    assert len({c.id for c in nb.cells}) == 3 and all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("cell", [("raw", "x"), ("code", b"x")])
def test_notebook_refuses_a_cell_that_is_not_markdown_or_code_text(cell):
    with pytest.raises(ValueError, match=r"cell 1 must be \(kind, text\)"):
        notebook.notebook([("markdown", "ok"), cell])


# ------------------------------------------------------------------------------------------------ the round trip

def executed(python, home):
    """The figure the notebook of `python` shows once a python3 kernel (ipykernel) has run it, with the run store
    in `home`; the kernel talks over IPC, not TCP, on a shared machine."""
    cells = [("markdown", "test"), ("code", python)]
    nb = nbformat.reads(notebook.notebook(cells).decode("utf-8"), as_version=4)
    env = {**os.environ, "RNNLAB_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(home / "kernel"))
    NotebookClient(nb, km=km, timeout=KERNEL_TIMEOUT).execute(env=env, cwd=str(home))
    [shown] = [o for o in nb.cells[1].outputs if o.output_type in ("display_data", "execute_result")]
    return go.Figure(_decoded(shown.data["application/vnd.plotly.v1+json"]))


def assert_same_points(page, ours, rel=1e-4):
    """figure_data of both, cell by cell: labels the same text, numbers within rtol. Both sides run the same
    float64 (decay) or float32 (states) operations on the same weights and input; only a different summation
    order in the kernel's BLAS could move a value, by a few ulps per dot product of h terms, compounded over T
    steps of a contracting map: h·T·ε ≈ 8·1000·1.1e-16 ≈ 1e-12 in float64, 8·100·6e-8 ≈ 5e-5 in float32. rtol
    1e-4 covers both, and is far below any change of configuration, seed or weights."""
    rows = [list(csv.reader(io.StringIO(plots.figure_data(f)))) for f in (page, ours)]
    assert len(rows[0]) == len(rows[1]) > 2 and rows[0][0] == rows[1][0]
    for a, b in zip(*rows):
        for x, y in zip(a, b):
            try:
                assert float(y) == pytest.approx(float(x), rel=rel, abs=0), (a, b)
            except ValueError:  # a trace's name, a token
                assert x == y


def page_code(at):
    [python] = [c.value for c in at.code if c.language == "python"]
    return python


@pytest.mark.slow
def test_memory_decay_notebook_draws_the_pages_influence_figure_before_and_after_training(app, tmp_path):
    config = LECTURE.replace(hidden_size=6, length=5, lag=4, epochs=1)  # lag 4: the slider's default at T = 5
    run(config, store=Store(tmp_path / "runs"), progress=False)
    at = open_page(app, "memory_decay")
    for slider, value in (("State size h", 6), ("Training length T", 5), ("Epochs", 1)):
        find(at.slider, slider).set_value(value).run()
    find(at.number_input, "Random sequence (seed)").set_value(3).run()
    assert not at.exception and not at.error
    python = page_code(at)
    assert f'load_run("{config.hash}")' in python and "decay_report(config, 1000, seed=3" in python
    page = go.Figure(chart(at, "Influence of x_0"))
    ours = executed(python, tmp_path)
    assert {t.name for t in ours.data} >= {"at initialisation", "after training"}
    assert_same_points(page, ours)


@pytest.mark.slow
def test_trajectories_notebook_draws_the_pages_state_heat_map_with_its_tokens(app, tmp_path):
    at = open_page(app, "trajectories")
    find(at.number_input, "Random sequence (seed)").set_value(4).run()
    assert not at.exception and not at.error
    python = page_code(at)
    assert "sample_input(config, 100, seed=4)" in python and "tokens=" in python
    page = go.Figure(chart(at, "Hidden state h_t"))
    assert_same_points(page, executed(python, tmp_path))
    find(at.radio, "Input").set_value("Symbols I type").run()
    assert not [c for c in at.code if c.language == "python"]  # typed input: the CLI command alone


@pytest.mark.slow
def test_dependencies_notebooks_draw_the_pages_accuracy_and_memory_profile_figures(app, tmp_path):
    lecture = LECTURE.replace(task="marked_recall", length=6, epochs=1, n_train=250)
    for lag in (0, 4):  # the lecture's model trained at both lags, the LSTM at none
        run(lecture.replace(lag=lag), store=Store(tmp_path / "runs"), progress=False)
    at = open_page(app, "dependencies")
    find(at.multiselect, "Configurations").set_value([presets.LECTURE, "LSTM, same state size"])
    find(at.slider, "Sequence length T").set_value(6)
    find(at.multiselect, "Lags").set_value([0, 4])
    find(at.slider, "Epochs").set_value(1)
    find(at.select_slider, "Training sequences").set_value(250)
    at.run()
    assert not at.exception and not at.error
    accuracy, memory = [c.value for c in at.code if c.language == "python"]
    assert "names=['Lecture SimpleRNN', 'LSTM, same state size']" in accuracy  # the LSTM keeps its colour
    # The accuracies are the stored runs' own numbers. r² is a float64 regression on float32 states of h = 32 units
    # over T = 55 steps, which a different summation order moves by up to h·T·ε ≈ 32·55·6e-8 ≈ 1e-4 relative, and
    # the regression, linear in them, by a few times that: rtol 1e-3. A change of model or seed moves r² ≈ 0.1 by
    # its sampling error √((r² + h/n_train)/n_held_out) ≈ √(0.12/500) ≈ 0.015, fifteen times more.
    for python, title, rel in ((accuracy, "Test accuracy against the lag", 1e-4), (memory, "Memory profile", 1e-3)):
        assert_same_points(go.Figure(chart(at, title)), executed(python, tmp_path), rel)
