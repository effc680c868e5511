"""Sweep files a user mistyped or someone crafted: rnnlab.sweeps.load_sweep and `rnnlab sweep` refuse them in one
line, naming the file and the limit, before reading more than 1 MiB or expanding more than max_runs runs."""
import os
import threading
from pathlib import Path

import pytest

from rnnlab import sweeps
from rnnlab.cli import main
from rnnlab.sweeps import Sweep, load_sweep

MIB = 2**20  # the documented size limit of a sweep file
MAX_RUNS = 10_000  # the documented default limit of runs (configurations × seeds)
TINY = 'seeds = [0]\n[base]\nlength = 6\nn_train = 64\nn_test = 32\nhidden_size = 4\nembedding_dim = 4\n'


def refused(path, **kwargs):
    """The message of load_sweep's ValueError, checked to be one line naming the file."""
    with pytest.raises(ValueError) as e:
        load_sweep(path, **kwargs)
    message = str(e.value)
    assert "\n" not in message and str(path) in message, message
    return message


def file_of(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["[" * 5_000 + "]" * 5_000, "{a = " * 5_000 + "1" + "}" * 5_000],
                         ids=["arrays", "inline tables"])
def test_deeply_nested_toml_is_a_one_line_value_error_not_a_recursion_traceback(tmp_path, value):
    # 5,000 levels: far past Python's recursion limit (1,000 frames), which the parser recurses into per level
    message = refused(file_of(tmp_path, f"seeds = [0]\nx = {value}\n"))
    assert "nests" in message or "not valid TOML" in message


def test_a_grid_of_a_million_runs_is_refused_before_any_runconfig_is_built(tmp_path, monkeypatch):
    def expanded(**fields):
        raise AssertionError("the grid was expanded before its size was checked")

    monkeypatch.setattr(sweeps, "RunConfig", expanded)
    axes = "\n".join(f"{k} = {list(range(start, start + 100))}" for k, start in
                     (("lag", 0), ("length", 101), ("hidden_size", 1)))
    message = refused(file_of(tmp_path, f"seeds = [0]\n[grid]\n{axes}\n"))
    assert f"{100 * 100 * 100:,} runs" in message and f"max_runs = {MAX_RUNS:,}" in message
    assert "--max-runs" in message  # how to allow more


def test_seeds_count_as_runs_up_to_the_limit_inclusive(tmp_path):
    path = file_of(tmp_path, TINY.replace("seeds = [0]", f"seeds = {list(range(MAX_RUNS + 1))}"))
    assert f"{MAX_RUNS + 1:,} runs" in refused(path)
    sweep = Sweep(base={"length": 6}, axes={}, seeds=list(range(MAX_RUNS)))
    assert len(sweep.configs) == MAX_RUNS and {c.seed for c in sweep.configs} == set(range(MAX_RUNS))


def test_max_runs_moves_the_limit_to_exactly_the_product_of_the_axes_times_the_seeds(tmp_path):
    path = file_of(tmp_path, TINY.replace("seeds = [0]", "seeds = [0, 1]") +
                   '[grid]\ncell = ["simple_rnn", "lstm", "gru"]\nlag = [0, 1, 2, 3]\n')
    runs = 3 * 4 * 2
    assert f"{runs} runs (3 cell × 4 lag × 2 seeds)" in refused(path, max_runs=runs - 1)
    sweep = load_sweep(path, max_runs=runs)
    assert len(sweep.configs) == runs and not sweep.invalid


@pytest.mark.parametrize("max_runs", [0, -1, True, 1.5, "10", None])
def test_max_runs_must_be_an_int_of_at_least_1(tmp_path, max_runs):
    with pytest.raises(ValueError, match=f"max_runs must be an int >= 1, got {max_runs!r}"):
        load_sweep(file_of(tmp_path, TINY), max_runs=max_runs)


def test_a_file_of_1_mib_is_read_and_one_byte_more_is_refused_naming_the_limit(tmp_path):
    padding = "#" * (MIB - len(TINY) - 1) + "\n"  # a comment fills the file up to exactly 1 MiB
    path = file_of(tmp_path, TINY + padding)
    assert path.stat().st_size == MIB and len(load_sweep(path).configs) == 1
    path = file_of(tmp_path, TINY + "#" + padding)
    assert f"{MIB:,} bytes (1 MiB)" in refused(path)


def test_a_file_whose_size_says_less_than_it_holds_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    """Files in /proc say size 0: the read itself stops at the limit, whatever stat said."""
    monkeypatch.setattr(sweeps, "_regular_and_small", lambda path, info: None)
    path = file_of(tmp_path, TINY + "#" * (2 * MIB) + "\n")
    assert f"{MIB:,} bytes (1 MiB)" in refused(path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ValueError, load_sweep, fifo)))
    reader.start()
    reader.join(60)  # a guard against hanging the suite, not a measurement
    if reader.is_alive():  # blocked in open() until a writer comes: be that writer, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join()
        pytest.fail("load_sweep blocked on a FIFO")
    message = str(outcome[0].value)
    assert "not a regular file" in message and str(fifo) in message


@pytest.mark.parametrize("target", ["/dev/zero", "folder"])
def test_a_device_or_a_folder_is_refused_as_not_a_regular_file(tmp_path, target):
    path = tmp_path if target == "folder" else Path(target)
    if not path.exists():
        pytest.skip(f"{target} does not exist on this platform")
    assert "not a regular file" in refused(path)


def test_a_file_that_is_not_utf8_text_is_a_one_line_value_error(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"seeds = [0]\n\xff\xfe\x00")
    assert "not UTF-8" in refused(path)


# ------------------------------------------------------------------------------------------------ the CLI

def sweep_exit(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_sweep_over_the_limit_exits_2_with_one_line_and_max_runs_lets_the_dry_run_through(tmp_path, capsys):
    runs = 101 * 100  # lag 0…100 × hidden_size 1…100, every combination valid at length 200
    path = file_of(tmp_path, f"seeds = [0]\n[base]\nlength = 200\n[grid]\nlag = {list(range(101))}\n"
                             f"hidden_size = {list(range(1, 101))}\n", name="big.toml")
    store = ["--store", str(tmp_path / "runs"), "--dry-run"]
    code, out, err = sweep_exit(["sweep", str(path), *store], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("rnnlab: error: ") and f"{runs:,} runs" in err and str(path) in err
    assert main(["sweep", str(path), "--max-runs", str(runs), *store]) == 0
    out = capsys.readouterr().out
    assert f"sweep big: {runs} runs = {runs} configurations × 1 seed" in out and "0 already in" in out
    assert f"{runs} to train" in out and not (tmp_path / "runs").exists()  # a dry run writes nothing


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_cli_sweep_max_runs_must_be_a_positive_int(tmp_path, capsys, value):
    code, _, err = sweep_exit(["sweep", str(file_of(tmp_path, TINY)), "--max-runs", value, "--dry-run"], capsys)
    assert code == 2 and err.count("\n") == 1 and "argument --max-runs:" in err and value in err


def test_cli_sweep_of_a_fifo_exits_2_with_one_line_naming_it(tmp_path, capsys):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    code, out, err = sweep_exit(["sweep", str(fifo), "--store", str(tmp_path / "runs"), "--dry-run"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "not a regular file" in err and str(fifo) in err


def test_a_length_of_lag_plus_n_follows_each_lag_of_the_grid(tmp_path):
    sweep = load_sweep(file_of(tmp_path, 'seeds = [0, 1]\n[base]\ntask = "marked_recall"\nlength = "lag + 11"\n'
                                         '[grid]\ncell = ["simple_rnn", "lstm"]\nlag = [1, 8, 64]\n'))
    assert [(c.cell, c.lag, c.length, c.seed) for c in sweep.configs[:4]] == [
        ("simple_rnn", 1, 12, 0), ("simple_rnn", 1, 12, 1), ("simple_rnn", 8, 19, 0), ("simple_rnn", 8, 19, 1)]
    assert all(c.length == c.lag + 11 for c in sweep.configs) and len(sweep.configs) == 12
    assert str(sweep.base["length"]) == "lag + 11"


@pytest.mark.parametrize("length", ['"lag + 0"', '"lag * 2"', '"11 + lag"', '"lag + 1e3"'])
def test_a_length_formula_other_than_lag_plus_n_is_refused_naming_the_field(tmp_path, length):
    with pytest.raises((TypeError, ValueError), match="length"):
        load_sweep(file_of(tmp_path, f'seeds = [0]\n[base]\nlength = {length}\n[grid]\nlag = [1, 2]\n'))
