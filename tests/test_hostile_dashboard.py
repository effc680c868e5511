"""The dashboard against a visitor who means harm: it listens on loopback unless told otherwise, a typed sweep path
reads nothing outside the folders it may read and says nothing about what lies there, and typed text or a sweep
file cannot make one request costly: each limit is said in the message.

The limits asserted are the documented ones (README, "Who can open it"): 5,000 characters of typed text, 1 MiB and
10,000 runs per sweep file, and steps × size within the curves' budget T·gates·h² ≤ 10,000·4·32².
"""
import os
import subprocess
import sys
import types

import pytest
from streamlit.testing.v1 import AppTest

from rnnlab import imdb
from rnnlab.runs import RunConfig, Store
from rnnlab.train import History
from test_dashboard import APP, ROOT, find, metric, open_page, started

REFUSED = "not a sweep file I may read: "
MAX_TEXT = 5_000
SECRET = "s3cret-d0-not-show"  # in the private files' content only, never in their names
TINY = 'seeds = [0]\n[base]\nlength = 6\nn_train = 64\nn_test = 32\nhidden_size = 4\nembedding_dim = 4\n'
PATH_LABEL = "Path of a sweep file (TOML)"


def test_the_dashboard_listens_on_loopback_unless_told_otherwise(tmp_path):
    """What Streamlit itself reads from the repository's config, with no user config (HOME is empty) and no
    STREAMLIT_* variables in the way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")} | {"HOME": str(tmp_path)}
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert [line for line in shown.splitlines() if line.startswith("address =")] == ['address = "127.0.0.1"']


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """tmp_path/sweeps stands for the repository's sweeps/ (so that a test may put links and FIFOs in it) and holds
    ok.toml; the run store is tmp_path/home/runs; no $RNNLAB_SWEEP_DIRS; tmp_path/private lies outside them all."""
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RNNLAB_SWEEP_DIRS", raising=False)
    monkeypatch.delenv("RNNLAB_IMDB_DIR", raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "dashboard"))
    import sweep_ui  # the module the pages import

    sweeps, private = tmp_path / "sweeps", tmp_path / "private"
    sweeps.mkdir()
    private.mkdir()
    (sweeps / "ok.toml").write_text(TINY)
    monkeypatch.setattr(sweep_ui, "SWEEPS", sweeps)
    return types.SimpleNamespace(sweep_ui=sweep_ui, sweeps=sweeps, private=private, store=tmp_path / "home" / "runs")


@pytest.fixture
def app(folders):
    yield from started(AppTest.from_file(APP, default_timeout=60))


def sweep_page(at):
    at = open_page(at, "dependencies")
    find(at.selectbox, "Sweep file").set_value("A file I name…").run()
    return at


def type_path(at, text):
    find(at.text_input, PATH_LABEL).set_value(text).run()
    assert not at.exception, at.exception
    return [e.value for e in at.error]


def page_text(at):
    """Everything on the page, sidebar included: each element's protobuf as text."""
    def walk(node):
        yield str(getattr(node, "proto", ""))
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "".join(walk(at.main)) + "".join(walk(at.sidebar))


def test_every_path_it_may_not_read_gets_the_same_message_and_nothing_of_the_file(app, folders, monkeypatch):
    sweeps, private = folders.sweeps, folders.private
    (private / "valid.toml").write_text(f'name = "{SECRET}"\n{TINY}')  # read, its name would be on the page
    (private / "broken.toml").write_text(f'seeds = [0]\n[grid]\ncell = ["{SECRET}"]\n')  # in the error
    (private / "keys.toml").write_text(f'[tool]\n{SECRET} = 1\n')  # "unknown sweep keys [...]"
    (sweeps / "link.toml").symlink_to(private / "valid.toml")
    (sweeps / "relative.toml").symlink_to("../private/broken.toml")
    (sweeps / "dangling.toml").symlink_to(private / "none.toml")
    (sweeps / "folder.toml").mkdir()
    shared = sweeps / "shared.toml"  # a file anyone could have written
    shared.write_text(f'name = "{SECRET}"\n{TINY}')
    shared.chmod(0o666)
    paths = ["/dev/zero", "pyproject.toml", "sweeps/../pyproject.toml", str(ROOT / "pyproject.toml"),
             *(str(private / name) for name in ("valid.toml", "broken.toml", "keys.toml", "none.toml")),
             *(str(sweeps / name) for name in ("none.toml", "link.toml", "relative.toml", "dangling.toml",
                                               "folder.toml", "shared.toml")),
             str(folders.store / "none.toml"), "~no-such-user-of-rnnlab/sweep.toml", str(sweeps / "ok.toml\0")]
    if hasattr(os, "mkfifo"):
        os.mkfifo(sweeps / "fifo.toml")
        paths.append(str(sweeps / "fifo.toml"))
    at = sweep_page(app)
    for text in paths:
        assert type_path(at, text) == [REFUSED + text]
        assert SECRET not in page_text(at), text
        assert not at.metric  # no sweep shown
    # the same files are read once the person who starts the server names their folder
    assert type_path(at, str(sweeps / "ok.toml")) == [] and metric(at, "Runs in the store") == "0 of 1"
    monkeypatch.setenv("RNNLAB_SWEEP_DIRS", os.pathsep.join([str(folders.store), str(private)]))
    assert type_path(at, str(sweeps / "link.toml")) == [] and f"Run the 1 missing run of {SECRET}" in page_text(at)
    assert any(SECRET in e for e in type_path(at, str(private / "broken.toml")))


def test_a_sweep_file_it_may_read_but_over_a_limit_says_the_limit(app, folders):
    big = folders.sweeps / "big.toml"
    big.write_text(TINY + "#" * 2**20 + "\n")
    grid = folders.sweeps / "grid.toml"
    grid.write_text(TINY + "[grid]\n" + "\n".join(f"{k} = {list(range(start, start + 100))}" for k, start in
                                                  (("lag", 0), ("length", 101), ("hidden_size", 1))))
    at = sweep_page(app)
    [error] = type_path(at, str(big))
    assert f"{2**20:,} bytes (1 MiB)" in error
    [error] = type_path(at, str(grid))
    assert f"{100**3:,} runs" in error and "max_runs = 10,000" in error


def test_the_parsed_sweep_is_kept_across_reruns_and_read_again_once_the_file_changes(app, folders, monkeypatch):
    sweep_ui, path = folders.sweep_ui, folders.sweeps / "mine.toml"
    path.write_text(TINY)
    read = str(path.resolve())  # what the dashboard reads, symlinks resolved
    reads = []
    load_sweep = sweep_ui.load_sweep
    monkeypatch.setattr(sweep_ui, "load_sweep", lambda p, **kwargs: reads.append(p) or load_sweep(p, **kwargs))
    at = sweep_page(app)
    type_path(at, str(path))
    for _ in range(3):
        at.run()
    assert reads == [read] and metric(at, "Runs in the store") == "0 of 1"
    path.write_text(TINY.replace("seeds = [0]", "seeds = [0, 1]"))
    at.run()
    assert reads == [read] * 2 and metric(at, "Runs in the store") == "0 of 2"


def trajectories(at, cell=None, hidden=None):
    at = open_page(at, "trajectories")
    if cell:
        find(at.selectbox, "Cell").set_value(cell).run()
        find(at.slider, "State size h").set_value(hidden).run()
    return at


def test_typed_symbols_over_5000_characters_get_the_limit_and_no_computation(app):
    at = trajectories(app)
    find(at.radio, "Input").set_value("Symbols I type").run()
    symbols = find(at.text_input, "Symbols 0 … 7, separated by spaces")
    symbols.set_value("1 " * 500_000).run()
    assert [e.value for e in at.error] == ["Symbols: at most 5,000 characters here, got 1,000,000"]
    assert not at.get("plotly_chart")
    text = "1 " * 100 + " " * (MAX_TEXT - 200)  # 100 symbols in exactly the limit
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value(text).run()
    assert not at.error and metric(at, "Steps T") == "100"
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value(text + " ").run()
    assert [e.value for e in at.error] == [f"Symbols: at most 5,000 characters here, got {MAX_TEXT + 1:,}"]


def test_typed_symbols_get_the_steps_a_random_sequence_may_have_at_that_size(app):
    at = trajectories(app, cell="lstm", hidden=256)
    lengths = (20, 50, 100, 200, 500, 1000, 2000)  # the page's choices for a random sequence
    longest = max(T for T in lengths if T * 4 * 256**2 <= 10_000 * 4 * 32**2)
    assert longest == 100 and find(at.select_slider, "Length T").proto.options[-1] == "100"
    find(at.radio, "Input").set_value("Symbols I type").run()
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value("3 " * longest).run()
    assert not at.error and metric(at, "Steps T") == "100"
    find(at.text_input, "Symbols 0 … 7, separated by spaces").set_value("3 " * (longest + 1)).run()
    [error] = [e.value for e in at.error]
    assert "101 steps" in error and "up to 100" in error and "LSTM h=256" in error
    assert not at.get("plotly_chart")


def test_a_review_over_5000_characters_for_a_stored_text_model_gets_the_limit(app, folders):
    config = RunConfig(task="imdb", length=12, num_symbols=10, hidden_size=6, embedding_dim=4, n_train=10,
                       n_test=10)
    vocabulary = imdb.Vocabulary(["the", "movie", "was", "great", "bad", "plot"], num_words=10)
    metrics = {"test_loss": 0.7, "test_accuracy": 0.5, "chance_metric": "accuracy", "chance": 0.5, "seconds": 0.0,
               "epochs": 0, "created": 0.0}  # all that load requires
    Store(folders.store).save(config, History(), metrics, config.build_model(), vocabulary)
    at = open_page(app, "trajectories")
    find(at.radio, "Model").set_value("Trained run from the store").run()
    find(at.text_area, "A review").set_value("great " * 200_000).run()
    assert [e.value for e in at.error] == ["The review: at most 5,000 characters here, got 1,200,000"]
    assert not at.get("plotly_chart")


def test_the_imdb_page_reads_only_the_first_5000_characters_of_a_review_and_says_so(app):
    at = open_page(app, "imdb")
    find(at.text_area, "A review").set_value("great " * 200_000).run()
    assert not at.exception and not at.error
    assert "Only the first 5,000 of the 1,200,000 characters typed are read." in [c.value for c in at.caption]
