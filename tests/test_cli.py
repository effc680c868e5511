"""rnnlab.cli: summary, train, runs through main(argv), and `python -m rnnlab` in a subprocess."""
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import rnnlab
from rnnlab.cli import build_parser, main
from rnnlab.runs import RunConfig, list_runs

REPO = Path(rnnlab.__file__).resolve().parent.parent
TINY = ["--length", "5", "--n-train", "64", "--n-test", "40", "--hidden-size", "8", "--epochs", "2",
        "--batch-size", "16", "--no-progress"]


def _exit(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_summary_defaults_are_the_lecture_model_with_322113_parameters(capsys):
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    total = 10000 * 32 + (32 * (32 + 32) + 32) + (32 + 1)  # Embedding + SimpleRNN h·(h+x)+h + Dense
    assert total == 322_113 and f"Total params: {total:,}" in out
    assert "Embedding" in out and "SimpleRNN" in out and "Dense" in out and "(None, 500, 32)" in out


def test_summary_options_change_the_count_by_the_closed_form(capsys):
    main(["summary", "--vocab-size", "100", "--embedding-dim", "4", "--hidden-size", "6", "--cell", "lstm",
          "--head", "flatten", "--seq-len", "7"])
    total = 100 * 4 + 4 * (6 * (6 + 4) + 6) + (7 * 6 + 1)  # Embedding + LSTM 4·(h·(h+x)+h) + Dense on 7·h
    assert f"Total params: {total:,}" in capsys.readouterr().out


def test_train_option_for_every_run_config_field_generated_from_the_dataclass():
    other = {"task": "adding", "cell": "gru", "nonlinearity": "relu", "init": "torch", "head": "flatten",
             "optimizer": "sgd", "spectral_radius": 0.5, "lr": 0.01, "clip": 2.5}
    parser = build_parser()
    for f in fields(RunConfig):
        value = other.get(f.name, f.default + 1 if isinstance(f.default, int) else None)
        args = parser.parse_args(["train", "--" + f.name.replace("_", "-"), str(value)])
        assert getattr(args, f.name) == value, f.name
        assert all(getattr(args, g.name) == g.default for g in fields(RunConfig) if g.name != f.name)
    args = parser.parse_args(["train", "--spectral-radius", "none", "--clip", "None"])
    assert args.spectral_radius is None and args.clip is None


def test_train_stores_the_run_prints_its_history_then_serves_it_from_the_store(tmp_path, capsys):
    argv = ["train", *TINY, "--lag", "1", "--store", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    config = RunConfig(length=5, n_train=64, n_test=40, hidden_size=8, epochs=2, batch_size=16, lag=1)
    assert f"run {config.hash}" in out and f"stored in {tmp_path / config.hash}" in out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["1", "2"]
    stored = list_runs(tmp_path)
    assert [r.hash for r in stored] == [config.hash]
    assert float(rows[-1][1]) == pytest.approx(stored[0].history.loss[-1], abs=1e-4)
    assert f"test accuracy {stored[0].metrics['test_accuracy']:.4f}" in out
    assert main(argv) == 0
    assert f"loaded from {tmp_path / config.hash}" in capsys.readouterr().out


def test_runs_lists_hash_task_cell_length_lag_and_test_accuracy(tmp_path, capsys):
    main(["runs", "--store", str(tmp_path)])
    assert "no runs in" in capsys.readouterr().out
    main(["train", *TINY, "--lag", "2", "--store", str(tmp_path)])
    main(["train", *TINY, "--task", "adding", "--store", str(tmp_path)])
    capsys.readouterr()
    main(["runs", "--store", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    stored = list_runs(tmp_path)
    assert lines[0].split() == ["hash", "task", "cell", "length", "lag", "test_acc", "files"]
    for line, r in zip(lines[1:3], stored):
        acc = r.metrics["test_accuracy"]
        assert line.split() == [r.hash, r.config.task, r.config.cell, str(r.config.length), str(r.config.lag),
                                "-" if acc is None else f"{acc:.4f}", "ok"]
    assert lines[3].startswith("2 runs in")


@pytest.mark.parametrize("argv, words", [
    (["train", "--hidden-size", "0"], ["hidden_size", "0"]),
    (["train", "--lag", "20"], ["lag", "20", "length=20"]),
    (["train", "--cell", "lstm", "--nonlinearity", "relu"], ["nonlinearity", "'relu'", "cell='lstm'"]),
    (["train", "--cell", "transformer"], ["--cell", "'transformer'", "simple_rnn"]),
    (["train", "--lr", "fast"], ["--lr", "'fast'"]),
    (["train", "--lr", "-1"], ["lr", "-1"]),
    (["train", "--epochs", "2.5"], ["--epochs", "'2.5'"]),
    (["train", "--speed", "3"], ["--speed"]),
    (["summary", "--seq-len", "0"], ["--seq-len", "0"]),
    (["summary", "--vocab-size", "ten"], ["--vocab-size", "'ten'"]),
    (["fly"], ["'fly'"]),
    ([], ["required"]),
])
def test_a_bad_value_exits_2_with_one_line_naming_it(argv, words, capsys, tmp_path):
    code, out, err = _exit(argv + (["--store", str(tmp_path)] if argv[:1] == ["train"] else []), capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rnnlab: error: ")
    for w in words:
        assert w in err, (w, err)
    assert list(tmp_path.iterdir()) == []


def test_a_diverging_run_exits_1_with_one_line_and_stores_nothing(tmp_path, capsys):
    code, _, err = _exit(["train", *TINY, "--length", "60", "--nonlinearity", "relu", "--spectral-radius", "10",
                          "--store", str(tmp_path)], capsys)
    assert code == 1 and err.count("\n") == 1 and "diverged" in err and "epoch 1, step 1" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["summary", "train", "runs"])
def test_help_on_every_command(command, capsys):
    code, out, _ = _exit([command, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: rnnlab {command}")
    if command == "train":
        for f in fields(RunConfig):
            assert "--" + f.name.replace("_", "-") in out
        assert "--store" in out and "--no-progress" in out


def test_python_dash_m_rnnlab_help_and_a_bad_value_in_a_subprocess(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "rnnlab", "--help"], env=env, capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: rnnlab") and "train" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "rnnlab", "train", "--spectral-radius", "-2", "--store",
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("rnnlab: error: spectral_radius") and "-2" in bad.stderr
