"""Short vs long dependencies: test accuracy against the lag to recall, trained on demand and kept in the store."""
import streamlit as st

import common
from rnnlab import plots, presets
from rnnlab.runs import run
from rnnlab.train import TrainingDiverged

KEY = "deps"
TRAINING = f"{KEY}.training"  # session flag: a training loop is under way (survives the reruns it causes)
N_TRAIN = (250, 500, 1000, 2000, 5000)

st.title("Short vs long dependencies")
st.write("lag_recall asks for the symbol seen `lag` steps before the end of the sequence. One model is trained per "
         "lag; its test accuracy against the lag shows how far back each architecture learns to look. Chance is "
         "1/8. Beside it, the memory profile of each model at initialisation: how much of x_{t−k} a linear "
         "read-out can still recover from h_t.")

choices = {name: config for name, config in presets.PRESETS.items()}
for entry in common.compare_list():
    if common.from_json(entry["config"]).task == "lag_recall":
        choices[f"Compare: {entry['name']}"] = common.from_json(entry["config"])

with st.sidebar:
    st.header("Configurations")
    names = st.multiselect("Configurations", list(choices), [presets.LECTURE, "LSTM, same state size"],
                           key=f"{KEY}.names", max_selections=common.MAX_COMPARE)
    st.header("Task and training")
    length = st.slider("Sequence length T", 5, 60, 20, key=f"{KEY}.length")
    default_lags = [k for k in (0, 5, 10, 15) if k < length]
    lags = st.multiselect("Lags", list(range(length)), default_lags, key=f"{KEY}.lags", max_selections=8)
    epochs = st.slider("Epochs", 1, 30, 10, key=f"{KEY}.epochs")
    n_train = st.select_slider("Training sequences", N_TRAIN, 2000, key=f"{KEY}.n_train")

lags = sorted(lags)
configs = {n: choices[n].replace(task="lag_recall", length=length, lag=0, epochs=epochs, n_train=n_train)
           for n in names}
if not configs or not lags:
    st.info("Choose at least one configuration and one lag in the sidebar.")
    st.stop()

store = common.store()
runs = {(n, k): c.replace(lag=k) for n, c in configs.items() for k in lags}
missing = [key for key, c in runs.items() if c not in store]

training = st.session_state.get(TRAINING, False)
# Any click while the loop below runs (Cancel included) reruns the page, which stops the loop at its next progress
# update; the runs that finished stay in the store.
cancel = st.empty()
if training and cancel.button("Cancel", key=f"{KEY}.cancel", icon=":material/cancel:"):
    cancel.empty()
    training = st.session_state[TRAINING] = False
    st.warning("Training cancelled; the runs that finished are kept in the store.")
if training and missing:
    bar = st.progress(0.0, text="starting…")
    try:
        for i, (name, k) in enumerate(missing):
            def report(fraction, message, i=i, name=name, k=k):
                bar.progress(min(1.0, (i + fraction) / len(missing)),
                             text=f"run {i + 1}/{len(missing)}: {name}, lag {k} · {message}")

            run(runs[name, k], store, progress=report)
    except TrainingDiverged as error:
        st.error(f"{error}")
    else:
        st.session_state[TRAINING] = False
        st.rerun()
st.session_state[TRAINING] = False  # done, cancelled or diverged (a rerun that interrupts the loop skips this)
if missing:
    st.button(f"Train the {len(missing)} missing run{'s' if len(missing) > 1 else ''} "
              f"({epochs} epoch{'s' if epochs > 1 else ''} each)", key=f"{KEY}.train", type="primary",
              on_click=lambda: st.session_state.update({TRAINING: True}), icon=":material/model_training:")
    st.caption("Runs are stored under their configuration's hash and reused; `rnnlab train` from a terminal fills "
               "the same store.")

with common.errors_shown():
    st.dataframe([{"test accuracy": n, **{f"lag {k}": common.fmt(common.stored_accuracy(runs[n, k]))
                                          if runs[n, k] in store else "not trained" for k in lags}}
                  for n in configs], hide_index=True, key=f"{KEY}.table")
    done = [n for n in configs if all(runs[n, k] in store for k in lags)]
    left, right = st.columns(2)
    with left:
        if done:
            profiles = {n: common.dependency(common.to_json(configs[n]), tuple(lags)) for n in done}
            common.show_figure(plots.accuracy_vs_lag_figure(profiles, names=list(configs)), "accuracy_vs_lag",
                               f"{KEY}.accuracy")
        else:
            st.info("Accuracy against the lag appears here once a configuration is trained at every lag.")
    with right:
        memories = {n: common.linear_memory(common.to_json(c), tuple(lags)) for n, c in configs.items()}
        common.show_figure(plots.memory_profile_figure(memories, names=list(configs)), "memory_profile",
                           f"{KEY}.memory")

for name, config in configs.items():
    with st.expander(f"{name}: command line"):
        st.code("\n".join(presets.cli_command(config.replace(lag=k)) for k in lags), language="bash")
