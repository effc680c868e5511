"""The lecture's IMDB experiment, as one RunConfig.

    Embedding(10000, 32) → SimpleRNN(32) → Dense(1, sigmoid), reviews cut or padded to 500 words,
    RMSprop lr 1e-3, binary cross-entropy, batch 32, 3 epochs; head="last" reads h_{T-1},
    head="flatten" reads all 500 states (Embedding 320,000 + SimpleRNN 2,080 + Dense 33 = 322,113 parameters,
    or 320,000 + 2,080 + 16,001 = 338,081 with Flatten).

The lecture reports about 84% test accuracy, Chollet's book about 85% validation accuracy. A run is stored like any
other (history, test loss and accuracy, weights, vocabulary), so the dashboard and `rnnlab runs` find it.
"""
from .runs import RunConfig, run

LECTURE_IMDB = dict(task="imdb", length=500, num_symbols=10000, n_train=25000, n_test=25000, cell="simple_rnn",
                    hidden_size=32, embedding_dim=32, init="keras", head="last", epochs=3, batch_size=32,
                    optimizer="rmsprop", lr=1e-3)


def imdb_config(**changes):
    """The lecture's configuration with some fields changed (e.g. head="flatten", cell="lstm", n_train=2000)."""
    return RunConfig(**{**LECTURE_IMDB, **changes})


def imdb(head="last", cell="simple_rnn", epochs=3, store=None, data_dir=None, progress=True, **changes):
    """Train (or load from the store) the lecture's model on IMDB and test it on the whole test set.

    data_dir: the reviews (default $RNNLAB_IMDB_DIR, the cache, else the official archive is downloaded).
    Returns the RunResult: .metrics["test_accuracy"], .history, .model, .vocabulary."""
    config = imdb_config(head=head, cell=cell, epochs=epochs, **changes)
    return run(config, store=store, progress=progress, data_dir=data_dir)
