"""A dashboard figure as the few lines of rnnlab that reproduce it, and as a Jupyter notebook.

code() writes the Python of a figure of one model, lags_code() that of a figure of several configurations against the
lag; notebook() wraps cells in an nbformat v4 notebook, written as JSON here so that neither rnnlab nor its dashboard
needs Jupyter installed to offer one.
"""
import json
import re
from dataclasses import fields

from . import checks
from .runs import RunConfig

# figure → what it shows, for the notebook's markdown cell
FIGURES = {
    "influence": "Memory decay: the influence ‖∂h_t/∂x_0‖ of the first input on the state, its fitted decay and "
                 "the bound σ_max(A_h)^t·‖∂h_0/∂x_0‖",
    "states": "State trajectories: the state h_t unit by unit along one random sequence of the task",
    "accuracy_vs_lag": "Short vs long dependencies: the test accuracy of one model trained per lag k to recall "
                       "x_{t−k}, read from the run store",
    "memory_profile": "Short vs long dependencies: the memory profile r²_k of each model at initialisation, how much "
                      "of x_{t−k} a linear read-out of h_t recovers",
}
MODEL_FIGURES = ("influence", "states")  # code()'s; the others are lags_code()'s
NBFORMAT, NBFORMAT_MINOR = 4, 5
TOKENS_SHOWN = 200  # the State trajectories page names a step's token in the heat map's hover up to this T


def code(config, figure="influence", length=1000, seed=0, source=None):
    """The Python that draws `figure` (one of MODEL_FIGURES) as the dashboard does for `config` on a random sequence of
    `length` steps drawn with `seed`: for the model at initialisation (source None) and, for source a run's hash,
    the model stored under it (rnnlab.load_run, from $RNNLAB_HOME's store). Its last line is the figure, so that a
    notebook shows it."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    if figure not in MODEL_FIGURES:
        raise ValueError(f"figure must be one of {', '.join(MODEL_FIGURES)}, got {figure!r}")
    for name, value, least in (("length", length, 1), ("seed", seed, 0)):
        if not _count(value, least):
            raise ValueError(f"{name} must be an integer ≥ {least}, got {value!r}")
    # the hash is pasted into the code: only the 12 hex digits a run's hash has
    if source is not None and not (isinstance(source, str) and re.fullmatch("[0-9a-f]{12}", source)):
        raise ValueError(f"source must be None (at initialisation) or a run's hash (12 hex digits), got {source!r}")
    names = ["plots"] + ["load_run"] * (source is not None)
    trained = f'load_run("{source}").model'
    lines = [f"config = {_spelt(config)}"]
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
    return _program(names, lines)


def lags_code(configs, figure, lags, length=None, names=None):
    """The Python that draws `figure` as Short vs long dependencies does for `configs` (name → RunConfig, a task
    with a lag) at `lags`: "accuracy_vs_lag", the test accuracy of the run trained at each lag, from $RNNLAB_HOME's
    store (rnnlab.dependency_profile trains any it lacks), or "memory_profile", the memory profile of each model at
    initialisation on sequences of `length` steps (default max(lags) + 1). names: the order that gives each
    configuration its colour, as rnnlab.plots takes it (default: that of configs). Its last line is the figure."""
    if figure not in FIGURES or figure in MODEL_FIGURES:
        raise ValueError(f"figure must be accuracy_vs_lag or memory_profile, got {figure!r}")
    if not isinstance(configs, dict) or not configs:
        raise TypeError(f"configs must be a non-empty dict name → RunConfig, got {checks.short(configs)}")
    for name, config in configs.items():
        if not (isinstance(name, str) and isinstance(config, RunConfig)):
            raise TypeError(f"configs must map a str to a RunConfig, got {checks.short(name)} → "
                            f"{type(config).__name__}")
    if not isinstance(lags, (list, tuple)) or not lags:
        raise ValueError(f"lags must be a non-empty list of integers ≥ 0, got {checks.short(lags)}")
    for k in lags:
        if not _count(k, 0):
            raise ValueError(f"lags must be integers ≥ 0, got {checks.short(k)}")
    if length is not None and not _count(length, max(lags) + 1):
        raise ValueError(f"length must be None or an integer ≥ max(lags) + 1 = {max(lags) + 1}, got {length!r}")
    names = list(configs) if names is None else list(names)
    missing = [n for n in configs if n not in names]
    if missing:
        raise ValueError(f"names must hold each name in configs, got {checks.short(names)}, which lacks "
                         f"{checks.short(missing[0])}")
    # repr: a name a person typed (a Compare entry's) reaches the code as a string literal, never as code
    lines = ["configs = {"] + [f"    {n!r}: {_spelt(c)}," for n, c in configs.items()] + ["}", f"lags = {list(lags)}"]
    if figure == "accuracy_vs_lag":
        imported = ["dependency_profile", "plots"]
        lines.append("profiles = {name: dependency_profile(config, lags) for name, config in configs.items()}")
    else:
        imported = ["memory_profile", "plots"]
        steps = "" if length is None else f", length={length}"
        lines.append(f"profiles = {{name: memory_profile(config.build_model().eval(), lags{steps}) "
                     "for name, config in configs.items()}")
    colours = "" if names == list(configs) else f", names={names!r}"
    lines.append(f"fig = plots.{figure}_figure(profiles{colours})")
    return _program(imported, lines)


def _count(value, least):
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def _spelt(config):
    """RunConfig(…) of the fields that differ from the defaults: the same configuration, and all that sets it apart."""
    default = RunConfig()
    return "RunConfig(" + ", ".join(f"{f.name}={getattr(config, f.name)!r}" for f in fields(RunConfig)
                                    if getattr(config, f.name) != getattr(default, f.name)) + ")"


def _program(names, lines):
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
