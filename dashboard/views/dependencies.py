"""Short vs long dependencies: test accuracy against the lag to recall, trained on demand and kept in the store;
below, a sweep's runs across seeds with error bands."""
import streamlit as st

import common
from rnnlab import plots, presets
from rnnlab.runs import run
from rnnlab.sweeps import profiles
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
    if configs and lags:
        st.dataframe([{"test accuracy": n, **{f"lag {k}": common.fmt(common.stored_accuracy(runs[n, k]))
                                              if runs[n, k] in store else "not trained" for k in lags}}
                      for n in configs], hide_index=True, key=f"{KEY}.table")
        done = [n for n in configs if all(runs[n, k] in store for k in lags)]
        left, right = st.columns(2)
        with left:
            if done:
                trained = {n: common.dependency(common.to_json(configs[n]), tuple(lags)) for n in done}
                common.show_figure(plots.accuracy_vs_lag_figure(trained, names=list(configs)), "accuracy_vs_lag",
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

st.header("Across seeds: a sweep")
st.write("One run per lag is an anecdote: another seed may land a few points higher or lower. A sweep trains every "
         "configuration of a grid once per seed (`rnnlab sweep`); here its runs in the store, the mean across seeds "
         "and a band: the 95% t-interval of that mean, or ± one standard deviation of the seeds.")
sweep, key, results = common.sweep_section(f"{KEY}.sweep")
if sweep is not None:
    axes = [f for f in common.varying(sweep) if common.numeric(sweep, f)]
    if not results:
        st.info("Accuracy across seeds appears here once the store holds runs of this sweep.")
    elif not axes:
        st.info(f"{sweep.name} varies no numeric field to draw accuracy against; compare its groups on the Compare "
                "page.")
    else:
        c = st.columns(3)
        x = c[0].selectbox("x axis", axes, index=axes.index("lag") if "lag" in axes else 0, key=f"{key}.x")
        colours = [f for f in common.varying(sweep) if f != x] or ["cell"]
        colour = c[1].selectbox("Curves (colour) by", colours, key=f"{key}.colour",
                                index=colours.index("cell") if "cell" in colours else 0)
        band = c[2].radio("Band across seeds", list(common.BANDS), horizontal=True, key=f"{key}.band")
        shown, fixed = common.hold_fixed(key, sweep, results, [x, colour])
        held = "".join(f", {f} = {v}" for f, v in fixed.items())
        if not shown:
            st.info(f"The store holds no run of {sweep.name} with {held[2:]} yet.")
        else:
            with common.errors_shown():
                summary = common.sweep_summary(str(common.store().root), tuple(r.hash for r in shown), (colour, x))
                curves = profiles(summary, by=colour, band=common.BANDS[band], x=x)
                fig = plots.accuracy_vs_lag_figure(
                    curves, names=common.values_of(sweep, colour), x_label=plots.FIELD_LABELS.get(x, x),
                    title=f"{sweep.name}: test accuracy against {x}, mean across seeds{held}")
                common.show_figure(fig.update_layout(legend_title_text=colour), f"{sweep.name}_accuracy_vs_{x}",
                                   f"{key}.accuracy")
                st.caption(f"{len(shown)} runs{held}. The band: "
                           + {"interval": "the 95% t-interval of the mean across seeds (mean ± t·s/√n)",
                              "std": "mean ± one standard deviation of the seeds", None: "none"}[common.BANDS[band]]
                           + "; a point with one seed has none.")
                common.summary_table(summary, (colour, x), ("test_accuracy",), f"{key}.summary",
                                     f"{sweep.name}_summary")
