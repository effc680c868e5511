"""A dashboard figure as the few lines of rnnlab that reproduce it, and as a Jupyter notebook.

code() writes the Python; notebook() wraps cells in an nbformat v4 notebook, written as JSON here so that neither
rnnlab nor its dashboard needs Jupyter installed to offer one.
"""
import json
import re
from dataclasses import fields

from .runs import RunConfig

# figure → what it shows, for the notebook's markdown cell
FIGURES = {
    "influence": "Memory decay: the influence ‖∂h_t/∂x_0‖ of the first input on the state, its fitted decay and "
                 "the bound σ_max(A_h)^t·‖∂h_0/∂x_0‖",
    "states": "State trajectories: the state h_t unit by unit along one random sequence of the task",
}
NBFORMAT, NBFORMAT_MINOR = 4, 5
TOKENS_SHOWN = 200  # the State trajectories page names a step's token in the heat map's hover up to this T


def code(config, figure="influence", length=1000, seed=0, source=None):
    """The Python that draws `figure` (a key of FIGURES) as the dashboard does for `config` on a random sequence of
    `length` steps drawn with `seed`: for the model at initialisation (source None) and, for source a run's hash,
    the model stored under it (rnnlab.load_run, from $RNNLAB_HOME's store). Its last line is the figure, so that a
    notebook shows it."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    if figure not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}")
    for name, value, least in (("length", length, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer ≥ {least}, got {value!r}")
    # the hash is pasted into the code: only the 12 hex digits a run's hash has
    if source is not None and not (isinstance(source, str) and re.fullmatch("[0-9a-f]{12}", source)):
        raise ValueError(f"source must be None (at initialisation) or a run's hash (12 hex digits), got {source!r}")
    default = RunConfig()
    changed = ", ".join(f"{f.name}={getattr(config, f.name)!r}" for f in fields(RunConfig)
                        if getattr(config, f.name) != getattr(default, f.name))
    names = ["plots"] + ["load_run"] * (source is not None)
    trained = f'load_run("{source}").model'
    lines = [f"config = RunConfig({changed})"]
    if figure == "influence":
        names.append("decay_report")
        lines.append(f'reports = {{"at initialisation": decay_report(config, {length}, seed={seed})}}')
        if source is not None:
            lines.append(f'reports["after training"] = decay_report(config, {length}, seed={seed}, model={trained})')
        lines += ["bounds = {name: r.bound for name, r in reports.items() if r.bound is not None}",
                  "fig = plots.influence_figure({name: r.influence for name, r in reports.items()},",
                  "                             fits={name: r.fit for name, r in reports.items()}, "
                  "bounds=bounds or None)"]
    else:
        names += ["presets", "state_trajectory"]
        tokens = ", tokens=trajectory.tokens" if length <= TOKENS_SHOWN else ""
        lines += [f"x, _ = presets.sample_input(config, {length}, seed={seed})",
                  f"model = {trained if source is not None else 'config.build_model().eval()'}",
                  "trajectory = state_trajectory(model, x)",
                  f"fig = plots.state_heatmap(trajectory.states{tokens})"]
    imports = [f"from rnnlab import {', '.join(sorted(names))}", "from rnnlab.runs import RunConfig", ""]
    return "\n".join(imports + lines + ["fig"]) + "\n"


def notebook(cells):
    """An nbformat v4 notebook (UTF-8 JSON bytes) of `cells`, pairs (kind, text) with kind "markdown" or "code",
    unexecuted, for a Python 3 kernel."""
    kinds = ("markdown", "code")
    out = []
    for i, (kind, text) in enumerate(cells):
        if kind not in kinds or not isinstance(text, str):
            raise ValueError(f"cell {i} must be (kind, text) with kind in {kinds} and text a str, "
                             f"got ({kind!r}, {type(text).__name__})")
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": text}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    document = {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR, "cells": out,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                             "language_info": {"name": "python"}}}
    return json.dumps(document, ensure_ascii=False, indent=1).encode()
