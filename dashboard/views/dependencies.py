"""Short vs long dependencies: test accuracy against the lag to recall, trained on demand and kept in the store;
below, a sweep's runs across seeds with error bands."""
import streamlit as st

from figures import fmt, show_figure
from measurements import WASHOUT, dependency, linear_memory, stored_accuracy
from rnnlab import notebook, plots, presets, tasks
from rnnlab.runs import run
from rnnlab.sweeps import profiles
from sources import MAX_COMPARE, compare_list, store
from sweep_ui import BANDS, hold_fixed, numeric, summary_table, sweep_section, sweep_summary, values_of, varying
from widgets import errors_shown, show_python, to_json, train_with_cancel

KEY = "deps"
N_TRAIN = (250, 500, 1000, 2000, 5000)

st.title("Short vs long dependencies")
st.write("One model is trained per lag; its test accuracy against the lag shows how far back each architecture "
         "learns to look. marked_recall marks the symbol to recall, so it measures memory alone; lag_recall gives "
         "no marker, so the network must also count the steps from the end (and lag T−1, x_0, follows a zero "
         "state). Chance is 1/8. Beside it, the memory profile of each model at initialisation: how much of "
         "x_{t−k} a linear read-out can still recover from h_t.")
LAGGED = [name for name, task in tasks.TASKS.items() if task.lagged]

choices = {name: config for name, config in presets.PRESETS.items()}
for entry in compare_list():
    if tasks.TASKS[entry.config.task].lagged:
        choices[f"Compare: {entry.name}"] = entry.config

with st.sidebar:
    st.header("Configurations")
    names = st.multiselect("Configurations", list(choices), [presets.LECTURE, "LSTM, same state size"],
                           key=f"{KEY}.names", max_selections=MAX_COMPARE)
    st.header("Task and training")
    task = st.selectbox("Task", LAGGED, LAGGED.index("marked_recall"), key=f"{KEY}.task",
                        help="; ".join(f"{name}: {tasks.TASKS[name].measures}" for name in LAGGED))
    length = st.slider("Sequence length T", 5, 60, 20, key=f"{KEY}.length")
    default_lags = [k for k in (0, 5, 10, 15) if k < length]
    lags = st.multiselect("Lags", list(range(length)), default_lags, key=f"{KEY}.lags", max_selections=8)
    epochs = st.slider("Epochs", 1, 30, 10, key=f"{KEY}.epochs")
    n_train = st.select_slider("Training sequences", N_TRAIN, 2000, key=f"{KEY}.n_train")

lags = sorted(lags)
configs = {n: choices[n].replace(task=task, length=length, lag=0, epochs=epochs, n_train=n_train)
           for n in names}
if not configs or not lags:
    st.info("Choose at least one configuration and one lag in the sidebar.")

runs = {(n, k): c.replace(lag=k) for n, c in configs.items() for k in lags}
missing = [key for key, c in runs.items() if c not in store()]


def train(progress):
    for i, (name, k) in enumerate(missing):
        def report(fraction, message, i=i, name=name, k=k):
            progress((i + fraction) / len(missing), f"run {i + 1}/{len(missing)}: {name}, lag {k} · {message}")

        run(runs[name, k], store(), progress=report)


train_with_cancel(KEY, f"Train the {len(missing)} missing run{'s' if len(missing) > 1 else ''} "
                       f"({epochs} epoch{'s' if epochs > 1 else ''} each)", train, pending=bool(missing),
                  cancelled="Training cancelled; the runs that finished are kept in the store.")
if missing:
    st.caption("Runs are stored under their configuration's hash and reused; `rnnlab train` from a terminal fills "
               "the same store.")

done = [n for n in configs if all(runs[n, k] in store() for k in lags)]  # trained at every lag
with errors_shown():
    if configs and lags:
        st.dataframe([{"test accuracy": n, **{f"lag {k}": fmt(stored_accuracy(runs[n, k]))
                                              if runs[n, k] in store() else "not trained" for k in lags}}
                      for n in configs], hide_index=True, key=f"{KEY}.table")
        left, right = st.columns(2)
        with left:
            if done:
                trained = {n: dependency(to_json(configs[n]), tuple(lags)) for n in done}
                show_figure(plots.accuracy_vs_lag_figure(trained, names=list(configs)), "accuracy_vs_lag",
                            f"{KEY}.accuracy")
            else:
                st.info("Accuracy against the lag appears here once a configuration is trained at every lag.")
        with right:
            memories = {n: linear_memory(to_json(c), tuple(lags)) for n, c in configs.items()}
            show_figure(plots.memory_profile_figure(memories, names=list(configs)), "memory_profile", f"{KEY}.memory")

if configs and lags:
    with st.expander("CLI commands and Python"), errors_shown():
        st.caption("Reproduce from a terminal (the runs then appear here):")
        st.code("\n".join(f"# {name}\n" + "\n".join(presets.cli_command(c.replace(lag=k)) for k in lags)
                          for name, c in configs.items()), language="bash")
        if done:
            show_python(notebook.lags_code({n: configs[n] for n in done}, "accuracy_vs_lag", lags,
                                           names=list(configs)), "accuracy_vs_lag", f"{KEY}.accuracy")
        show_python(notebook.lags_code(configs, "memory_profile", lags, length=max(lags) + 1 + WASHOUT),
                    "memory_profile", f"{KEY}.memory")

st.header("Across seeds: a sweep")
st.write("One run per lag is an anecdote: another seed may land a few points higher or lower. A sweep trains every "
         "configuration of a grid once per seed (`rnnlab sweep`); here its runs in the store, the mean across seeds "
         "and a band: the 95% t-interval of that mean, or ± one standard deviation of the seeds.")
sweep, key, results = sweep_section(f"{KEY}.sweep")
if sweep is not None:
    axes = [f for f in varying(sweep) if numeric(sweep, f)]
    if not results:
        st.info("Accuracy across seeds appears here once the store holds runs of this sweep.")
    elif not axes:
        st.info(f"{sweep.name} varies no numeric field to draw accuracy against; compare its groups on the Compare "
                "page.")
    else:
        c = st.columns(3)
        x = c[0].selectbox("x axis", axes, index=axes.index("lag") if "lag" in axes else 0, key=f"{key}.x")
        colours = [f for f in varying(sweep) if f != x] or ["cell"]
        colour = c[1].selectbox("Curves (colour) by", colours, key=f"{key}.colour",
                                index=colours.index("cell") if "cell" in colours else 0)
        band = c[2].radio("Band across seeds", list(BANDS), horizontal=True, key=f"{key}.band")
        shown, fixed = hold_fixed(key, sweep, results, [x, colour])
        held = "".join(f", {f} = {v}" for f, v in fixed.items())
        if not shown:
            st.info(f"The store holds no run of {sweep.name} with {held[2:]} yet.")
        else:
            with errors_shown():
                summary = sweep_summary(str(store().root), tuple(r.hash for r in shown), (colour, x))
                curves = profiles(summary, by=colour, band=BANDS[band], x=x)
                fig = plots.accuracy_vs_lag_figure(
                    curves, names=values_of(sweep, colour), x_label=plots.FIELD_LABELS.get(x, x),
                    title=f"{sweep.name}: test accuracy against {x}, mean across seeds{held}")
                show_figure(fig.update_layout(legend_title_text=colour), f"{sweep.name}_accuracy_vs_{x}",
                            f"{key}.accuracy")
                st.caption(f"{len(shown)} runs{held}. The band: "
                           + {"interval": "the 95% t-interval of the mean across seeds (mean ± t·s/√n)",
                              "std": "mean ± one standard deviation of the seeds", None: "none"}[BANDS[band]]
                           + "; a point with one seed has none.")
                summary_table(summary, (colour, x), ("test_accuracy",), f"{key}.summary", f"{sweep.name}_summary")
