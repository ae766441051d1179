"""The tabular lesson's own plotly figures (lr_find, loss curves and the confusion matrix: core/plots.py)."""
import pandas as pd
import plotly.graph_objects as go

from core.plots import TEMPLATE

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9e9e9e"


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10), template=TEMPLATE)
    return fig


def missing_per_column(df: pd.DataFrame) -> go.Figure:
    missing = df.isna().sum()
    fig = go.Figure(go.Bar(x=missing.index.astype(str), y=missing.values,
                           marker_color=[ORANGE if m else GREY for m in missing.values],
                           text=[f"{m:,}" if m else "" for m in missing.values], textposition="outside"))
    fig.update_yaxes(title="missing values")
    return _layout(fig, f"Missing values per column ({len(df):,} rows)")


def target_balance(df: pd.DataFrame, target: str) -> go.Figure:
    counts = df[target].value_counts(dropna=False)
    share = counts / counts.sum()
    fig = go.Figure(go.Bar(x=counts.index.astype(str), y=counts.values, marker_color=BLUE,
                           text=[f"{c:,} ({s:.0%})" for c, s in zip(counts.values, share.values)],
                           textposition="outside"))
    fig.update_yaxes(title="rows")
    return _layout(fig, f"How often each '{target}' value appears")


def importance_bars(records: list[dict]) -> go.Figure:
    df = pd.DataFrame(records).sort_values("importance")
    fig = go.Figure(go.Bar(x=df["importance"] * 100, y=df["column"], orientation="h", marker_color=BLUE,
                           error_x=dict(type="data", array=df["std"] * 100, visible=True)))
    fig.update_xaxes(title="accuracy lost when shuffled (points)")
    return _layout(fig, "Which columns does the model rely on?", height=120 + 28 * len(df))


def probability_bars(probs: dict[str, float], reference: dict[str, float] | None = None) -> go.Figure:
    classes = list(probs)
    fig = go.Figure()
    if reference is not None:
        fig.add_bar(x=[reference[c] for c in classes], y=classes, orientation="h", name="the original row",
                    marker_color=GREY, text=[f"{reference[c]:.1%}" for c in classes], textposition="auto")
    fig.add_bar(x=[probs[c] for c in classes], y=classes, orientation="h", name="with your changes",
                marker_color=ORANGE, text=[f"{probs[c]:.1%}" for c in classes], textposition="auto")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="predicted probability")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.35))
    return _layout(fig, "What the model predicts for this person", height=260)
