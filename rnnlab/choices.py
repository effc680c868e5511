"""The names a model and its training are chosen by, importable without torch: RunConfig validates with them, so
that reading the run store (`rnnlab runs`) needs no torch. rnnlab.models and rnnlab.train read them here."""

CELLS = ("simple_rnn", "lstm", "gru")  # the recurrent layers, rnnlab.models.LAYERS (test_runs holds them equal)
NONLINEARITIES = ("tanh", "relu", "linear")
INITS = ("keras", "torch", "orthogonal", "identity", "chrono")
HEADS = ("last", "flatten", "each")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
