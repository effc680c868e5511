"""Compare: two to four configurations side by side, one colour each, in one table and overlaid curves; below, a
sweep's groups side by side with error bars across seeds."""
import streamlit as st

import common
from rnnlab import plots, presets
from rnnlab.sweeps import DECAY_STATISTICS

KEY = "compare"
ONE_PLACE = "— (one bar per group)"

st.title("Compare")
st.write("The configurations you added with “Add to compare” on the other pages (it starts with the lecture's "
         "SimpleRNN and an LSTM of the same state size). Each keeps its colour in every figure.")

entries = common.compare_list()


def rename(i):
    name = st.session_state[f"{KEY}.name.{i}"].strip()
    if name and all(e["name"] != name for j, e in enumerate(entries) if j != i):
        entries[i]["name"] = name


def remove(i):
    del entries[i]
    for j in range(len(entries) + 1):  # names are keyed by position: let the fields take the new names
        st.session_state.pop(f"{KEY}.name.{j}", None)


with st.sidebar:
    st.header("Configurations")
    for i, entry in enumerate(entries):
        config = common.from_json(entry["config"])
        st.text_input(f"Name {i + 1}", entry["name"], key=f"{KEY}.name.{i}", on_change=rename, args=(i,),
                      max_chars=40)
        st.caption(f"{common.describe(config)}, {entry['source'] if entry['source'] == common.AT_INIT else 'trained'}")
        st.button("Remove", key=f"{KEY}.remove.{i}", on_click=remove, args=(i,), icon=":material/delete:")
    if len(entries) < common.MAX_COMPARE:
        st.header("Add a preset")
        name = common.preset_select(f"{KEY}.add_preset", label="Preset")
        if st.button("Add to compare", key=f"{KEY}.add", icon=":material/add:"):
            if any(e["name"] == name for e in entries):
                st.warning(f"Compare already holds {name!r}.")
            else:
                entries.append({"name": name, "config": common.to_json(presets.preset(name)),
                                "source": common.AT_INIT})
                st.rerun()

names = [e["name"] for e in entries]
configs = {e["name"]: common.from_json(e["config"]) for e in entries}
sources = {e["name"]: e["source"] for e in entries}
jsons = {n: common.to_json(c) for n, c in configs.items()}
length = None
if entries:
    with st.sidebar:
        st.header("Sequence")
        with common.errors_shown():
            length = common.length_select("Length T", list(configs.values()), f"{KEY}.length", default=500)
        seed = st.number_input("Random sequence (seed)", 0, 10_000, 0, key=f"{KEY}.seed")
else:
    st.info("Nothing to compare yet: add configurations here (sidebar) or with “Add to compare” on any page.")

if length is not None:  # else nothing to compare, or the sidebar says why
    with common.errors_shown():
        curves = {k: {} for k in ("influence", "perturbation", "gradient")}
        for n in names:
            curves["influence"][n] = common.influence(jsons[n], sources[n], length, seed)
            curves["perturbation"][n] = common.perturbation(jsons[n], sources[n], length, seed)
            curves["gradient"][n] = common.gradient(jsons[n], sources[n], length, seed)
        fits = {n: common.fit(c) for n, c in curves["influence"].items()}
        spectra = {n: common.spectrum(jsons[n], sources[n]) for n in names}
        trained = {n: common.trained_lags(configs[n]) for n in names}
        all_lags = sorted({k for lags in trained.values() for k in lags})
        rows = {
            "model": [common.describe(configs[n]) for n in names],
            "weights": ["trained" if sources[n] != common.AT_INIT else "at initialisation" for n in names],
            "parameters": [f"{common.parameters(jsons[n], sources[n]):,}" for n in names],
            "spectral radius ρ(A_h)": [common.fmt(spectra[n].spectral_radius, 4) for n in names],
            "σ_max(A_h)": [common.fmt(spectra[n].sigma_max, 4) for n in names],
            "regime of ‖∂h_t/∂x_0‖": [fits[n].regime if fits[n] else "—" for n in names],
            "time constant τ (steps)": [common.fmt(fits[n] and fits[n].time_constant) for n in names],
            "half-life (steps)": [common.fmt(fits[n] and fits[n].half_life) for n in names],
            "horizon (steps)": [common.fmt(fits[n].horizon) if fits[n] and fits[n].horizon is not None
                                else f"> {length - 1:,}" for n in names],
            "Lyapunov exponent (/step)": [common.fmt(common.lyapunov(jsons[n], sources[n], length, seed), 3)
                                          for n in names],
        }
        for k in all_lags:
            rows[f"test accuracy, lag {k}"] = [common.fmt(trained[n].get(k)) for n in names]
        st.dataframe([{"": label, **dict(zip(names, values))} for label, values in rows.items()], hide_index=True,
                     height="content", key=f"{KEY}.table")
        st.caption(f"Measured on one random sequence of {length:,} steps (seed {seed}); accuracy from the runs in the "
                   "store that share the configuration (train them on Short vs long dependencies).")

        common.show_figure(plots.influence_figure(curves["influence"], fits=fits, names=names), "compare_influence",
                           f"{KEY}.influence")
        left, right = st.columns(2)
        with left:
            common.show_figure(plots.perturbation_figure(curves["perturbation"], names=names), "compare_perturbation",
                               f"{KEY}.perturbation")
        with right:
            common.show_figure(plots.gradient_figure(curves["gradient"], names=names), "compare_gradient",
                               f"{KEY}.gradient")
        left, right = st.columns(2)
        with left:
            common.show_figure(plots.spectrum_figure(spectra, names=names), "compare_spectrum", f"{KEY}.spectrum")
        with right:
            profiles = {n: common.dependency(jsons[n], tuple(sorted(trained[n]))) for n in names if len(trained[n]) > 1}
            if profiles:
                common.show_figure(plots.accuracy_vs_lag_figure(profiles, names=names), "compare_accuracy",
                                   f"{KEY}.accuracy")
            else:
                st.info("Accuracy against the lag appears here for configurations trained at two lags or more "
                        "(Short vs long dependencies).")

st.header("Sweep groups across seeds")
st.write("A sweep's configurations side by side: the mean of a statistic across seeds, one colour per group, with "
         "its error bar (the 95% t-interval of the mean, or ± one standard deviation of the seeds). The time "
         "constant and horizon are those of ‖∂h_t/∂x_0‖ of each trained model, averaged over 64 of its test "
         "sequences and fitted as on Memory decay.")
sweep, key, results = common.sweep_section(f"{KEY}.sweep")
if sweep is not None:
    fields = common.varying(sweep) or ["cell"]
    if not results:
        st.info("The groups appear here once the store holds runs of this sweep.")
    else:
        c = st.columns(4)
        group = c[0].selectbox("Groups (colour) by", fields, key=f"{key}.group",
                               index=fields.index("cell") if "cell" in fields else 0)
        places = [ONE_PLACE] + [f for f in fields if f != group]
        x = c[1].selectbox("Side by side at each", places, key=f"{key}.x",
                           index=places.index("lag") if "lag" in places else 0)
        x = None if x == ONE_PLACE else x
        statistic = c[2].selectbox("Statistic", list(common.STATISTIC_NAMES), key=f"{key}.statistic",
                                   format_func=common.STATISTIC_NAMES.get)
        band = c[3].radio("Error bars", list(common.BANDS), horizontal=True, key=f"{key}.band")
        by = (group,) if x is None else (group, x)
        shown, fixed = common.hold_fixed(key, sweep, results, by)
        held = "".join(f", {f} = {v}" for f, v in fixed.items())
        if not shown:
            st.info(f"The store holds no run of {sweep.name} with {held[2:]} yet.")
        else:
            with common.errors_shown():
                summary = common.sweep_summary(str(common.store().root), tuple(r.hash for r in shown), by,
                                               influence=statistic in DECAY_STATISTICS)
                fig = plots.summary_figure(summary, statistic, by=group, x=x, band=common.BANDS[band],
                                           names=common.values_of(sweep, group))
                fig.update_layout(title=f"{sweep.name}: {fig.layout.title.text}{held}")
                common.show_figure(fig, f"{sweep.name}_{statistic}_by_{group}", f"{key}.bars")
                st.caption(f"{len(shown)} runs{held}. A group with one seed has no error bar.")
                common.summary_table(summary, by, (statistic,), f"{key}.summary",
                                     f"{sweep.name}_{statistic}_summary")
