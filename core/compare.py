"""Comparing two to four runs of one lesson: their loss curves on one chart, the settings that differ, their final
numbers. Plain functions over run records and their progress (core/runs.py); pages/compare.py draws them.

Runs with different batch sizes or image sizes take different numbers of steps an epoch, so the curves are drawn
against epochs (a batch's position in its epoch), where every run's axis means the same thing.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go

from core.live import smoothed_losses
from core.plots import figure
from core.runs import Progress, RunRecord
from core.schedules import lr_text

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
LETTERS = "ABCD"
MAX_RUNS = 4


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """Nested settings as one level (`spec.target`), every value as the text a table shows."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = setting_text(key, value)
    return out


def setting_text(key: str, value) -> str:
    """A setting's value as people read it: 1e-2 (not 0.01), yes/no, a list as words, nothing as "–"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "–"
    if key in ("lr", "base_lr") and isinstance(value, (int, float)):
        return lr_text(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(setting_text(key, v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def label(index: int, record: RunRecord, differ: Sequence[str] = ()) -> str:
    """"A: lr=1e-3" when the runs' settings differ (what tells them apart), else "A: <its title>"."""
    flat = flatten(record.config)
    shown = [f"{k.rsplit('.', 1)[-1]}={flat[k]}" for k in differ if k in flat]
    text = ", ".join(shown)
    return f"{LETTERS[index]}: {text if shown and len(text) <= 48 else record.title or record.kind}"


def settings_table(records: Sequence[RunRecord], name: Callable[[str], str] = str
                   ) -> tuple[pd.DataFrame, list[str]]:
    """One row per setting (the data first), named by `name`, one column per run; and the keys of the settings
    whose values differ."""
    rows = {"data": [r.data.get("name") or r.data.get("dataset") or "?" for r in records]}
    flat = [flatten(r.config) for r in records]
    for key in sorted({k for f in flat for k in f}):
        rows[key] = [f.get(key, "–") for f in flat]
    differ = [key for key, values in rows.items() if len(set(values)) > 1]
    table = pd.DataFrame.from_dict({name(k) if k != "data" else k: v for k, v in rows.items()}, orient="index",
                                   columns=[LETTERS[i] for i in range(len(records))])
    return table, differ


def _in_epochs(losses: Sequence[dict]) -> list[float]:
    """Each batch's x in epochs: its epoch (counted across fine_tune's phases) plus its place in that epoch."""
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(losses):
        groups.setdefault((row.get("phase"), row.get("epoch")), []).append(i)
    x = [0.0] * len(losses)
    for g, members in enumerate(groups.values()):
        for k, i in enumerate(members):
            x[i] = g + (k + 1) / len(members)
    return x


def loss_figure(runs: Sequence[tuple[str, Progress]], title: str = "Loss as training goes") -> go.Figure:
    """Every run's smoothed training loss (solid) and validation loss at each epoch's end (dashed), one colour
    per run."""
    lines = []
    for i, (name, progress) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        if progress.losses:
            lines.append(dict(type="scatter", x=_in_epochs(progress.losses),
                              y=smoothed_losses(progress), mode="lines", name=f"{name} · train",
                              legendgroup=name, line=dict(color=color, width=2)))
        if progress.valid_losses:
            lines.append(dict(type="scatter", x=list(range(1, len(progress.valid_losses) + 1)),
                              y=[r["valid_loss"] for r in progress.valid_losses], mode="lines+markers",
                              name=f"{name} · valid", legendgroup=name, line=dict(color=color, width=2, dash="dash"),
                              marker=dict(size=9)))
    return figure(lines, title=title, xaxis=dict(title="epochs"), yaxis=dict(title="loss"), height=420,
                  margin=dict(l=10, r=10, t=50, b=10),
                  legend=dict(orientation="h", yanchor="top", y=-0.15, xanchor="left", x=0))


def final_numbers(records: Sequence[RunRecord], key: str, higher_is_better: bool) -> list[float | None]:
    return [r.metrics.get(key) if isinstance(r.metrics.get(key), (int, float)) else None for r in records]


def best(values: Sequence[float | None], higher_is_better: bool) -> int | None:
    """Which run has the best value (None if none has one, or they tie)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if len(known) < 2 or len({v for v, _ in known}) == 1:
        return None
    return (max if higher_is_better else min)(known)[1]
