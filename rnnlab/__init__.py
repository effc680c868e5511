"""rnnlab: see why a recurrent network forgets.

    h_t = tanh(A·[h_{t-1}; x_t] + b)

One module per idea: models (SimpleRNN, LSTM, GRU, SequenceClassifier), params (counts and summaries), tasks
(synthetic dependencies of known length), train (fit, evaluate), runs (configurations and the run store), memory
(influence and gradient decay), plots (Plotly figures), imdb (the lecture's data set).
"""
from .models import GRU, LSTM, SequenceClassifier, SimpleRNN
from .params import count_parameters, gru_params, lstm_params, simple_rnn_params, summary

__version__ = "0.1.0"
