"""Compare: two to four configurations side by side, one colour each, in one table and overlaid curves; below, a
sweep's groups side by side with error bars across seeds."""
import streamlit as st

from figures import fmt, show_figure
from measurements import dependency, report, trained_lags
from rnnlab import plots, presets
from rnnlab.params import count_parameters
from rnnlab.sweeps import DECAY_STATISTICS
from sources import MAX_COMPARE, AtInit, CompareEntry, add_to_compare, compare_list, store
from sweep_ui import BANDS, STATISTIC_NAMES, hold_fixed, summary_table, sweep_section, sweep_summary, values_of, varying
from uploads import current
from widgets import describe, errors_shown, length_select, preset_select, to_json

KEY = "compare"
ONE_PLACE = "— (one bar per group)"

st.title("Compare")
st.write("The configurations you added with “Add to compare” on the other pages (it starts with the lecture's "
         "SimpleRNN and an LSTM of the same state size). Each keeps its colour in every figure.")

entries = compare_list()


def rename(i):
    name = st.session_state[f"{KEY}.name.{i}"].strip()
    if name and all(e.name != name for j, e in enumerate(entries) if j != i):
        entries[i].name = name


def remove(i):
    del entries[i]
    for j in range(len(entries) + 1):  # names are keyed by position: let the fields take the new names
        st.session_state.pop(f"{KEY}.name.{j}", None)


with st.sidebar:
    st.header("Configurations")
    for i, entry in enumerate(entries):
        st.text_input(f"Name {i + 1}", entry.name, key=f"{KEY}.name.{i}", on_change=rename, args=(i,),
                      max_chars=40)
        st.caption(f"{describe(entry.config)}, {entry.source.label}")
        st.button("Remove", key=f"{KEY}.remove.{i}", on_click=remove, args=(i,), icon=":material/delete:")
    if len(entries) < MAX_COMPARE:
        st.header("Add a preset")
        name = preset_select(f"{KEY}.add_preset", label="Preset")
        if st.button("Add to compare", key=f"{KEY}.add", icon=":material/add:"):
            if any(e.name == name for e in entries):
                st.warning(f"Compare already holds {name!r}.")
            else:
                entries.append(CompareEntry(name, presets.preset(name), AtInit()))
                st.rerun()
    mine = current()
    if mine is not None:
        st.header("Add your model")
        st.caption(mine.label)
        add_to_compare(mine.config, mine.source, f"{KEY}.yours", default_name=mine.name[:40])

names = [e.name for e in entries]
length = None
if entries:
    with st.sidebar:
        st.header("Sequence")
        with errors_shown():
            length = length_select("Length T", [e.config for e in entries], f"{KEY}.length", default=500)
        seed = st.number_input("Random sequence (seed)", 0, 10_000, 0, key=f"{KEY}.seed")
else:
    st.info("Nothing to compare yet: add configurations here (sidebar) or with “Add to compare” on any page.")

if length is not None:  # else nothing to compare, or the sidebar says why
    with errors_shown():
        reports = {e.name: report(to_json(e.config), e.source, length, seed) for e in entries}
        fits = {n: r.fit for n, r in reports.items()}
        spectra = {n: r.spectrum for n, r in reports.items()}
        trained = {e.name: trained_lags(e.config) for e in entries}
        all_lags = sorted({k for lags in trained.values() for k in lags})
        rows = {
            "model": [describe(e.config) for e in entries],
            "weights measured": [e.source.label for e in entries],
            "parameters": [f"{count_parameters(e.source.model(e.config)):,}" for e in entries],
            "spectral radius ρ(A_h)": [fmt(spectra[n].spectral_radius, 4) for n in names],
            "σ_max(A_h)": [fmt(spectra[n].sigma_max, 4) for n in names],
            "regime of ‖∂h_t/∂x_0‖": [fits[n].regime if fits[n] else "—" for n in names],
            "time constant τ (steps)": [fmt(fits[n] and fits[n].time_constant) for n in names],
            "half-life (steps)": [fmt(fits[n] and fits[n].half_life) for n in names],
            "horizon (steps)": [reports[n].horizon for n in names],
            "Lyapunov exponent (/step)": [fmt(reports[n].lyapunov, 3) for n in names],
        }
        for k in all_lags:
            rows[f"test accuracy, lag {k} (trained run in the store)"] = [fmt(trained[n].get(k)) for n in names]
        st.dataframe([{"": label, **dict(zip(names, values))} for label, values in rows.items()], hide_index=True,
                     height="content", key=f"{KEY}.table")
        st.caption(f"Measured with the weights the row “weights measured” names, on one random sequence of {length:,} "
                   f"steps (seed {seed}). The test accuracies are those of the trained runs in the store that share "
                   "the configuration, whatever weights the column measures (train them on Short vs long "
                   "dependencies).")

        show_figure(plots.influence_figure({n: r.influence for n, r in reports.items()}, fits=fits, names=names),
                    "compare_influence", f"{KEY}.influence")
        left, right = st.columns(2)
        with left:
            show_figure(plots.perturbation_figure({n: r.perturbation for n, r in reports.items()}, names=names),
                        "compare_perturbation", f"{KEY}.perturbation")
        with right:
            show_figure(plots.gradient_figure({n: r.gradient for n, r in reports.items()}, names=names),
                        "compare_gradient", f"{KEY}.gradient")
        left, right = st.columns(2)
        with left:
            show_figure(plots.spectrum_figure(spectra, names=names), "compare_spectrum", f"{KEY}.spectrum")
        with right:
            profiles = {e.name: dependency(to_json(e.config), tuple(sorted(trained[e.name]))) for e in entries
                        if len(trained[e.name]) > 1}
            if profiles:
                show_figure(plots.accuracy_vs_lag_figure(profiles, names=names), "compare_accuracy",
                            f"{KEY}.accuracy")
            else:
                st.info("Accuracy against the lag appears here for configurations trained at two lags or more "
                        "(Short vs long dependencies).")

st.header("Sweep groups across seeds")
st.write("A sweep's configurations side by side: the mean of a statistic across seeds, one colour per group, with "
         "its error bar (the 95% t-interval of the mean, or ± one standard deviation of the seeds). The time "
         "constant and horizon are those of ‖∂h_t/∂x_0‖ of each trained model, averaged over 64 of its test "
         "sequences and fitted as on Memory decay.")
sweep, key, results = sweep_section(f"{KEY}.sweep")
if sweep is not None:
    fields = varying(sweep) or ["cell"]
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
        statistic = c[2].selectbox("Statistic", list(STATISTIC_NAMES), key=f"{key}.statistic",
                                   format_func=STATISTIC_NAMES.get)
        band = c[3].radio("Error bars", list(BANDS), horizontal=True, key=f"{key}.band")
        by = (group,) if x is None else (group, x)
        shown, fixed = hold_fixed(key, sweep, results, by)
        held = "".join(f", {f} = {v}" for f, v in fixed.items())
        if not shown:
            st.info(f"The store holds no run of {sweep.name} with {held[2:]} yet.")
        else:
            with errors_shown():
                summary = sweep_summary(str(store().root), tuple(r.hash for r in shown), by,
                                        influence=statistic in DECAY_STATISTICS)
                fig = plots.summary_figure(summary, statistic, by=group, x=x, band=BANDS[band],
                                           names=values_of(sweep, group))
                fig.update_layout(title=f"{sweep.name}: {fig.layout.title.text}{held}")
                show_figure(fig, f"{sweep.name}_{statistic}_by_{group}", f"{key}.bars")
                st.caption(f"{len(shown)} runs{held}. A group with one seed has no error bar.")
                summary_table(summary, by, (statistic,), f"{key}.summary", f"{sweep.name}_{statistic}_summary")
