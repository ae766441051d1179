"""The tabular lesson's own plotly figures (lr_find, loss curves and the confusion matrix: core/plots.py)."""
import pandas as pd
import plotly.graph_objects as go

from core.plots import figure

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9e9e9e"


def _figure(data: list[dict], title: str, height: int = 320, **layout) -> go.Figure:
    return figure(data, title=title, height=height, margin=dict(l=10, r=10, t=50, b=10), **layout)


def missing_per_column(df: pd.DataFrame) -> go.Figure:
    missing = df.isna().sum()
    bars = dict(type="bar", x=missing.index.astype(str), y=missing.values,
                marker_color=[ORANGE if m else GREY for m in missing.values],
                text=[f"{m:,}" if m else "" for m in missing.values], textposition="outside")
    return _figure([bars], f"Missing values per column ({len(df):,} rows)", yaxis=dict(title="missing values"))


def target_balance(df: pd.DataFrame, target: str) -> go.Figure:
    counts = df[target].value_counts(dropna=False)
    share = counts / counts.sum()
    bars = dict(type="bar", x=counts.index.astype(str), y=counts.values, marker_color=BLUE,
                text=[f"{c:,} ({s:.0%})" for c, s in zip(counts.values, share.values)], textposition="outside")
    return _figure([bars], f"How often each '{target}' value appears", yaxis=dict(title="rows"))


def importance_bars(records: list[dict]) -> go.Figure:
    df = pd.DataFrame(records).sort_values("importance")
    bars = dict(type="bar", x=df["importance"] * 100, y=df["column"], orientation="h", marker_color=BLUE,
                error_x=dict(type="data", array=df["std"] * 100, visible=True))
    return _figure([bars], "Which columns does the model rely on?", height=120 + 28 * len(df),
                   xaxis=dict(title="accuracy lost when shuffled (points)"))


def probability_bars(probs: dict[str, float], reference: dict[str, float] | None = None) -> go.Figure:
    classes = list(probs)
    bars = []
    if reference is not None:
        bars.append(dict(type="bar", x=[reference[c] for c in classes], y=classes, orientation="h",
                         name="the original row", marker_color=GREY, text=[f"{reference[c]:.1%}" for c in classes],
                         textposition="auto"))
    bars.append(dict(type="bar", x=[probs[c] for c in classes], y=classes, orientation="h", name="with your changes",
                     marker_color=ORANGE, text=[f"{probs[c]:.1%}" for c in classes], textposition="auto"))
    return _figure(bars, "What the model predicts for this person", height=260, barmode="group",
                   legend=dict(orientation="h", y=-0.35),
                   xaxis=dict(range=[0, 1], tickformat=".0%", title="predicted probability"))
