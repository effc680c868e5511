"""rnnlab.cli: summary, train, runs through main(argv), and `python -m rnnlab` in a subprocess."""
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import rnnlab
from rnnlab.cli import build_parser, main
from rnnlab.imdb import Vocabulary
from rnnlab.runs import RunConfig, Store, list_runs
from rnnlab.train import History
from tiny_imdb import tiny_reviews

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


def test_runs_shows_the_fields_that_tell_the_listed_runs_apart_and_json_for_scripts(tmp_path, capsys):
    main(["runs", "--store", str(tmp_path)])
    assert "no runs in" in capsys.readouterr().out
    main(["train", *TINY, "--lag", "2", "--store", str(tmp_path)])
    main(["train", *TINY, "--lag", "2", "--seed", "1", "--epochs", "3", "--store", str(tmp_path)])
    capsys.readouterr()
    main(["runs", "--store", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    stored = {r.hash: r for r in list_runs(tmp_path)}
    # the two runs differ in epochs and seed only: the other fields would be the same on both lines
    assert lines[0].split() == ["hash", "task", "cell", "epochs", "seed", "test_acc", "files"]
    shown = {line.split()[0]: line.split()[1:] for line in lines[1:3]}
    for h, r in stored.items():
        acc = r.metrics["test_accuracy"]
        assert shown[h] == [r.config.task, r.config.cell, str(r.config.epochs), str(r.config.seed), f"{acc:.4f}", "ok"]
    assert lines[3].startswith("2 runs in")

    main(["runs", "--json", "--store", str(tmp_path)])
    listed = {d["hash"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed.keys() == stored.keys()
    for h, r in stored.items():
        assert RunConfig.from_dict(listed[h]["config"]) == r.config
        assert listed[h]["test_accuracy"] == r.metrics["test_accuracy"] and listed[h]["files"] == "ok"
        assert listed[h]["test_loss"] == r.metrics["test_loss"]

    # a review has no lag to recall: its line shows "-" where the others show theirs
    config = RunConfig(task="imdb", length=12, num_symbols=10, hidden_size=6, embedding_dim=4, n_train=10, n_test=10)
    metrics = {"test_loss": 0.7, "test_accuracy": 0.5, "chance_metric": "accuracy", "chance": 0.5, "seconds": 0.0,
               "epochs": 0, "created": 0.0}
    Store(tmp_path).save(config, History(), metrics, config.build_model(), Vocabulary(["a", "b"], num_words=10))
    main(["runs", "--store", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    lag = lines[0].split().index("lag")
    assert sorted(line.split()[lag] for line in lines[1:4]) == ["-", "2", "2"]
    assert [line.split()[0] for line in lines[1:4] if line.split()[lag] == "-"] == [config.hash]


def test_imdb_header_names_the_run_without_a_lag(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNLAB_HOME", str(tmp_path / "home"))
    data = tiny_reviews(tmp_path / "reviews", n=20)
    main(["imdb", "--data-dir", str(data), "--n-train", "20", "--n-test", "20", "--length", "12", "--num-symbols", "20",
          "--embedding-dim", "4", "--hidden-size", "4", "--epochs", "1", "--store", str(tmp_path / "runs"),
          "--no-progress"])
    (run,) = list_runs(tmp_path / "runs")
    assert capsys.readouterr().out.splitlines()[0] == f"run {run.hash}: imdb, simple_rnn, length 12"


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


@pytest.mark.parametrize("command", ["summary", "train", "runs", "analyse"])
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


@pytest.mark.parametrize("argv", [["--help"], [], ["fly"]])
def test_the_list_of_commands_answers_without_importing_torch(argv):
    """--help, no command and an unknown one need only the command names: torch (seconds to import) stays out."""
    code = ("import sys\nfrom rnnlab.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print(e.code, 'torch' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)")
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=120)
    assert done.stderr.splitlines()[-1] == f"{0 if argv == ['--help'] else 2} False False"
    assert "summary" in (done.stdout if argv == ["--help"] else done.stderr)


MODELS = REPO / "tests" / "fixtures" / "models"


def _recurrent_blocks(name):
    """The recurrent matrices of a fixture as its framework wrote them (h5py, torch.load), one square block per
    gate: Keras' recurrent_kernel is A_hᵀ, PyTorch's weight_hh_l0 is A_h, gates stacked either way."""
    if name.endswith(".keras"):
        import io
        import zipfile

        import h5py
        with zipfile.ZipFile(MODELS / name) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            A_h = f["layers/simple_rnn/cell/vars/1"][()].T
    else:
        import torch
        A_h = torch.load(MODELS / name, weights_only=True)["rnn.weight_hh_l0"].double().numpy()
    h = A_h.shape[1]
    return [A_h[i : i + h] for i in range(0, len(A_h), h)]


@pytest.mark.parametrize("name", ["keras_lecture.keras", "torch_lstm.pt"])
def test_analyse_prints_the_memory_of_a_model_file_and_writes_its_figures(name, tmp_path, capsys):
    """The issue's 'done when': the lecture's Keras model and a PyTorch nn.LSTM state_dict, each read from its file
    and measured. ρ(A_h) is checked against NumPy's eigenvalues of the matrices the frameworks wrote (printed to 4
    decimals, so a difference below 5e-5 cannot show), the rest against experiments.model_report on the same
    seeded sequence of 500 steps."""
    import numpy as np

    from rnnlab.experiments import model_report
    from rnnlab.modelfile import load_model
    assert main(["analyse", str(MODELS / name), "--out", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    model = load_model(MODELS / name)
    report = model_report(model, 500, 0)
    rho = max(np.abs(np.linalg.eigvals(block)).max() for block in _recurrent_blocks(name))
    assert out.startswith(model.origin + "\n")
    assert f"Total params: {sum(p.numel() for p in model.parameters()):,}" in out
    assert f"ρ(A_h)  {rho:.4f}" in out and "of 500 steps (seed 0)" in out
    assert f"half-life {report.fit.half_life:.4g} steps" in out and f"τ {report.fit.time_constant:.4g}" in out
    assert f"(10⁻³ of start) {report.horizon} steps" in out
    assert f"Lyapunov exponent λ     {report.lyapunov:.4f} per step" in out and report.lyapunov < 0
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == ["gradient.html", "influence.html"]
    assert "Influence of x_0 on h_t" in (tmp_path / "figures" / "influence.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, words", [
    (["analyse", "README.md"], ["not a model file"]),
    (["analyse", "missing.keras"], ["cannot read", "missing.keras"]),
    (["analyse", str(MODELS / "keras_flatten.keras"), "--length", "30"], ["length must be 20", "got 30"]),
    (["analyse", str(MODELS / "keras_lecture.keras"), "--length", "0"], ["--length", "0"]),
])
def test_analyse_of_a_bad_file_or_length_exits_2_with_one_line(argv, words, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, out, err = _exit(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("rnnlab: error: ")
    for w in words:
        assert w in err, (w, err)


def test_analyse_into_a_folder_it_cannot_write_exits_1_and_leaves_nothing(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file, not a folder")
    code, _, err = _exit(["analyse", str(MODELS / "keras_gru_legacy.h5"), "--length", "50", "--out",
                          str(tmp_path / "taken")], capsys)
    assert code == 1 and err.startswith("rnnlab: cannot write into") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("argv, error", [
    (["summary", "--hidden-size", "0"], "argument --hidden-size: must be an int >= 1, got 0"),
    (["summary", "--vocab-size", "9" * 30], "argument --vocab-size: must be <= 2**63 - 1, got 99999...(30 digits)"),
    (["summary", "--cell", "rnn"], "argument --cell: invalid choice: 'rnn' (choose from 'simple_rnn', 'lstm', 'gru')"),
    (["summary", "--head", "all"], "argument --head: invalid choice: 'all' (choose from 'last', 'flatten', 'each')"),
    (["summary", "--cells"], "unrecognized arguments: --cells"),
    (["runs", "--store", " "], "argument --store: must be a folder path, got ' '"),
    (["runs", "--jsn"], "unrecognized arguments: --jsn"),
])
def test_argument_errors_of_summary_and_runs_answer_without_importing_torch(argv, error):
    """Their options need nothing of torch (seconds to import): a mistyped value is one line and exit 2 at once."""
    code = ("import sys\nfrom rnnlab.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print(e.code, 'torch' in sys.modules, file=sys.stderr)")
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=120)
    assert done.stderr.splitlines() == [f"rnnlab: error: {error}", "2 False"]


def _runs_in_a_fresh_process(*argv):
    """`rnnlab runs …` in a new interpreter: (stdout, stderr), stderr ending with main's return value and whether
    torch was imported."""
    code = "import sys\nfrom rnnlab.cli import main\nprint(main(sys.argv[1:]), 'torch' in sys.modules, file=sys.stderr)"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, "runs", *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    return done.stdout, done.stderr


@pytest.mark.parametrize("options", [[], ["--json"]])
def test_runs_lists_a_store_without_importing_torch(options, tmp_path):
    """Listing reads config.json and metrics.json and hashes the weights' bytes: torch (seconds to import) stays out,
    for an intact run, one with a vocabulary and one whose weights changed since saved. Oracle: each run's config and
    metrics as this process (which has torch) saved them, and the one weights file whose byte was flipped."""
    metrics = {"test_loss": 0.7, "test_accuracy": 0.5, "chance_metric": "accuracy", "chance": 0.5, "seconds": 0.0,
               "epochs": 0, "created": 0.0}
    small = dict(length=5, hidden_size=4, embedding_dim=2)
    configs = [RunConfig(**small), RunConfig(**small, seed=1), RunConfig(**small, task="imdb", num_symbols=10)]
    for c in configs:
        vocabulary = Vocabulary(["a", "b"], num_words=10) if c.task == "imdb" else None
        Store(tmp_path).save(c, History(), metrics | {"test_accuracy": c.seed / 4}, c.build_model(), vocabulary)
    weights = tmp_path / configs[1].hash / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the zip's data: it still opens as a zip, its sha256 differs
    weights.write_bytes(bytes(data))
    out, err = _runs_in_a_fresh_process("--store", str(tmp_path), *options)
    assert err == "0 False\n"
    files = {c.hash: "changed" if c is configs[1] else "ok" for c in configs}
    if options:
        listed = {d["hash"]: d for d in json.loads(out)}
        assert listed == {c.hash: {"hash": c.hash, "config": c.to_dict(), "files": files[c.hash],
                                   "test_accuracy": c.seed / 4, "test_loss": 0.7} for c in configs}
    else:
        lines = out.splitlines()
        assert {line.split()[0]: line.split()[-1] for line in lines[1:4]} == files
        assert lines[4:] == [f"3 runs in {tmp_path}", "1 marked: the files are not those saved (sha256); loading "
                             "such a run sets it aside and trains it again"]


def test_runs_of_an_empty_store_answers_without_importing_torch(tmp_path):
    assert _runs_in_a_fresh_process("--store", str(tmp_path / "none")) == (f"no runs in {tmp_path / 'none'}\n",
                                                                           "0 False\n")


def test_summary_offers_the_cells_and_heads_of_rnnlab_models():
    from rnnlab.cli import build_parser
    from rnnlab.models import CELLS, HEADS
    summary = build_parser("summary")._subparsers._group_actions[0].choices["summary"]
    offered = {a.dest: tuple(a.choices) for a in summary._actions if a.choices}
    assert (offered["cell"], offered["head"]) == (CELLS, HEADS)
