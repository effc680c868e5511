"""rnnlab.presets: the named configurations, their seeded inputs, and the command lines that reproduce them."""
import shlex

import numpy as np
import pytest
import torch

from rnnlab import imdb, presets, tasks
from rnnlab.cli import build_parser
from rnnlab.runs import RunConfig


def parsed(command):
    """The RunConfig that `rnnlab train ...` builds from a command line (the CLI's own parser is the oracle)."""
    args = build_parser().parse_args(shlex.split(command.replace("\\\n", " "))[1:])
    return RunConfig(**{name: getattr(args, name) for name in RunConfig().to_dict()})


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_cli_command_of_every_preset_parses_back_to_the_same_config(name):
    config = presets.preset(name)
    assert parsed(presets.cli_command(config)) == config
    assert parsed(presets.cli_command(config)).hash == config.hash


def test_cli_command_round_trips_floats_ints_and_choices_through_the_cli_parser():
    config = RunConfig(task="adding", length=300, lag=7, cell="gru", hidden_size=64, spectral_radius=0.95,
                       lr=3e-4, clip=1.0, epochs=3, optimizer="adam", seed=11, head="flatten")
    assert parsed(presets.cli_command(config)) == config
    assert presets.cli_command(RunConfig()) == "rnnlab train"


def test_presets_hold_what_their_names_say():
    """Oracles: A's shape h × (h + x), eigenvalues of A_h by torch.linalg.eigvals, A_h = I for the IRNN."""
    lecture = presets.preset(presets.LECTURE).build_model().rnn
    assert tuple(lecture.A.shape) == (32, 32 + 32) and lecture.nonlinearity == "tanh"
    lstm = presets.preset("LSTM, same state size").build_model().rnn
    assert tuple(lstm.A.shape) == (4 * 32, 32 + 32)
    irnn = presets.preset("IRNN (relu, A_h = I)").build_model().rnn
    assert irnn.nonlinearity == "relu" and torch.equal(irnn.A_h, torch.eye(32))
    for name, rho in (("SimpleRNN, ρ = 0.9", 0.9), ("SimpleRNN, ρ = 1.1", 1.1)):
        A_h = presets.preset(name).build_model().rnn.A_h.detach().double()
        assert torch.linalg.eigvals(A_h).abs().max().item() == pytest.approx(rho, rel=1e-5)


def test_preset_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="name must be one of .*Lecture SimpleRNN.*got 'nope'"):
        presets.preset("nope")


def test_sample_input_is_the_task_generator_with_the_lag_clipped_to_the_length():
    config = presets.preset(presets.LECTURE).replace(length=20, lag=10)
    x, y = presets.sample_input(config, length=50, seed=3, batch=4)
    x_ref, y_ref = tasks.lag_recall(4, 50, 10, config.num_symbols, seed=3)
    assert np.array_equal(x.numpy(), x_ref) and np.array_equal(y.numpy(), y_ref)
    x, y = presets.sample_input(config, length=6, seed=3)  # lag 10 does not fit: recall x_0
    x_ref, y_ref = tasks.lag_recall(1, 6, 5, config.num_symbols, seed=3)
    assert np.array_equal(x.numpy(), x_ref) and np.array_equal(y.numpy(), y_ref)
    adding = RunConfig(task="adding", length=30)
    x, y = presets.sample_input(adding, seed=2)
    x_ref, y_ref = tasks.adding(1, 30, seed=2)
    assert x.dtype == torch.float32 and np.allclose(x.numpy(), x_ref) and np.allclose(y.numpy(), y_ref)


@pytest.mark.parametrize("length", [0, -3, 2.5, True])
def test_sample_input_rejects_a_bad_length_naming_it(length):
    with pytest.raises(ValueError, match=f"length must be an int >= 1 .*got {length!r}"):
        presets.sample_input(RunConfig(), length=length)


def test_alternative_first_input_changes_x0_only_and_stays_a_valid_input():
    config = RunConfig(num_symbols=5)
    x, _ = presets.sample_input(config, length=40, seed=1, batch=64)
    alt = presets.alternative_first_input(config, x)
    assert alt.shape == (64,) and bool((alt != x[:, 0]).all())
    assert int(alt.min()) >= 0 and int(alt.max()) < 5
    adding = RunConfig(task="adding", length=10)
    x, _ = presets.sample_input(adding, batch=16)
    alt = presets.alternative_first_input(adding, x)
    assert torch.equal(alt[:, 1], x[:, 0, 1])  # the marker stays
    assert bool((alt[:, 0] != x[:, 0, 0]).all()) and bool(((alt[:, 0] >= 0) & (alt[:, 0] < 1)).all())


def test_build_gives_the_seeded_model_at_initialisation_in_eval_mode():
    config = presets.preset("GRU, same state size").replace(seed=5)
    model, x, y = presets.build(config, length=12, seed=1)
    reference = config.build_model()
    assert not model.training
    for (name, p), (_, q) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(p, q), name
    assert x.shape == (1, 12) and y.shape == (1,)


def test_parse_symbols_reads_token_ids_and_names_what_it_rejects():
    assert presets.parse_symbols("3 1, 4 1 5", 8).tolist() == [[3, 1, 4, 1, 5]]
    for text, bad in (("1 8", "'8'"), ("1 -1", "'-1'"), ("2 x", "'x'"), ("1.5", "'1.5'"), ("1 ²", "'²'")):
        with pytest.raises(ValueError, match=f"symbols 0 … 7 separated by spaces, got {bad}"):
            presets.parse_symbols(text, 8)
    with pytest.raises(ValueError, match="at least one symbol"):
        presets.parse_symbols("  ", 8)
    with pytest.raises(TypeError, match="text must be a str"):
        presets.parse_symbols(3, 8)


def test_functions_taking_a_config_reject_anything_else():
    for function in (presets.sample_input, presets.build, presets.cli_command):
        with pytest.raises(TypeError, match="config must be a RunConfig, got dict"):
            function({"task": "lag_recall"})


def test_sample_input_of_an_imdb_config_is_a_seeded_random_review_in_the_vocabulary():
    config = RunConfig(task="imdb", length=30, num_symbols=50, n_train=10, n_test=10)
    x, y = presets.sample_input(config, length=40, seed=7, batch=3)
    again, _ = presets.sample_input(config, length=40, seed=7, batch=3)
    assert x.shape == (3, 40) and torch.equal(x, again)
    assert bool((x[:, 0] == imdb.START).all())
    assert int(x[:, 1:].min()) >= imdb.INDEX_FROM + 1 and int(x[:, 1:].max()) < 50
    assert set(y.tolist()) <= {0, 1}


def test_encode_text_is_the_vocabulary_encoding_padded_only_for_a_flatten_head():
    vocabulary = imdb.Vocabulary(["the", "movie", "was", "great"], num_words=8)
    config = RunConfig(task="imdb", length=6, num_symbols=8, n_train=10, n_test=10)
    x, words = presets.encode_text(config, vocabulary, "The movie was GREAT, truly!")
    assert x.tolist() == [vocabulary.encode("The movie was GREAT, truly!")] == [[1, 4, 5, 6, 7, 2]]
    assert words == ["<start>", "the", "movie", "was", "great", "<oov>"]
    x, words = presets.encode_text(config.replace(head="flatten"), vocabulary, "great movie")
    assert x.tolist() == imdb.pad_sequences([[1, 7, 5]], 6).tolist() == [[0, 0, 0, 1, 7, 5]]
    assert words == ["<pad>"] * 3 + ["<start>", "great", "movie"]
    with pytest.raises(ValueError, match="config.task must be 'imdb' to read text, got 'lag_recall'"):
        presets.encode_text(RunConfig(), vocabulary, "great")
