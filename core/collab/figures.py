"""The collab lesson's plotly figures (no streamlit here)."""
import pandas as pd
import plotly.graph_objects as go

from core.plots import ACCENT, MUTED, TRAIN_COLOR, _layout


def rating_counts(ratings: pd.DataFrame) -> go.Figure:
    """How often each rating is given: most people rate what they chose to watch, so high ratings dominate."""
    counts = ratings["rating"].value_counts().sort_index()
    fig = go.Figure(go.Bar(x=counts.index.astype(float), y=counts.to_numpy(), marker_color=TRAIN_COLOR,
                           hovertemplate="rating %{x}: %{y:,} times<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=counts.index.astype(float))
    return _layout(fig, "How often each rating is given", "rating", "number of ratings", height=320)


def ratings_per_user(ratings: pd.DataFrame) -> go.Figure:
    """A few users rate a lot, most rate a little: the long tail."""
    per_user = ratings.groupby("user").size()
    fig = go.Figure(go.Histogram(x=per_user.to_numpy(), nbinsx=60, marker_color=MUTED,
                                 hovertemplate="%{x} ratings: %{y} users<extra></extra>"))
    fig.update_yaxes(type="log", dtick=1)
    return _layout(fig, "Ratings per user", "ratings by one user", "users (log scale)", height=320)


def factor_map(table: pd.DataFrame, x: str = "PC1", y: str = "PC3", n_labels: int = 50) -> go.Figure:
    """The chapter's scatter of movies on two principal components of their factors, the most-rated labelled."""
    labelled, rest = table.head(n_labels), table.iloc[n_labels:]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=rest[x], y=rest[y], mode="markers", name="other movies",
                             marker=dict(color=MUTED, size=5, opacity=0.4), text=rest["movie"],
                             hovertemplate="%{text}<extra></extra>"))
    fig.add_trace(go.Scatter(x=labelled[x], y=labelled[y], mode="markers+text", name=f"{n_labels} most rated",
                             marker=dict(color=ACCENT, size=7), text=labelled["movie"].str.slice(0, 28),
                             textposition="top center", textfont=dict(size=10),
                             hovertext=labelled["movie"], hovertemplate="%{hovertext}<extra></extra>"))
    return _layout(fig, f"Movies by two directions of their learned factors ({x} and {y} of a PCA)", x, y,
                   height=640)

