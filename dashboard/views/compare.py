"""Compare: two to four configurations side by side, one colour each, in one table and overlaid curves."""
import streamlit as st

import common
from rnnlab import plots, presets

KEY = "compare"

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

if not entries:
    st.info("Nothing to compare yet: add configurations here (sidebar) or with “Add to compare” on any page.")
    st.stop()

names = [e["name"] for e in entries]
configs = {e["name"]: common.from_json(e["config"]) for e in entries}
sources = {e["name"]: e["source"] for e in entries}
jsons = {n: common.to_json(c) for n, c in configs.items()}
with st.sidebar:
    st.header("Sequence")
    length = None
    with common.errors_shown():
        length = common.length_select("Length T", list(configs.values()), f"{KEY}.length", default=500)
    seed = st.number_input("Random sequence (seed)", 0, 10_000, 0, key=f"{KEY}.seed")
if length is None:
    st.stop()  # the sidebar says why

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
