"""What the pages show: rnnlab.plots' figures with their downloads, and numbers as text."""
import math

import streamlit as st

from rnnlab import plots


def show_figure(fig, name, key):
    """The figure, with its data (CSV, rnnlab.plots.figure_data) and itself (HTML, figure_html) to download; both
    files are made only when asked for."""
    st.plotly_chart(fig, key=f"{key}.chart")
    row = st.container(horizontal=True)
    row.download_button("Data (CSV)", lambda: plots.figure_data(fig), file_name=f"{name}.csv", mime="text/csv",
                        key=f"{key}.csv", on_click="ignore", icon=":material/download:")
    row.download_button("Figure (HTML)", lambda: plots.figure_html(fig), file_name=f"{name}.html",
                        mime="text/html", key=f"{key}.html", on_click="ignore", icon=":material/download:")


def fmt(value, digits=3, unit=""):
    """A number for st.metric: ∞ and nan spelled out, thousands separated."""
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return f"{text}{unit}"
