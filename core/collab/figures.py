"""The collab lesson's plotly figures (no streamlit here)."""
import numpy as np
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



def predictions_by_rating(preds, targets) -> go.Figure:
    """The validation ratings' predictions, one box per real rating: a good model's boxes climb with the rating."""
    frame = pd.DataFrame({"rating": np.asarray(targets, dtype=float), "prediction": np.asarray(preds, dtype=float)})
    fig = go.Figure()
    for rating, group in frame.groupby("rating"):
        fig.add_trace(go.Box(y=group["prediction"], name=f"{rating:g}", marker_color=TRAIN_COLOR, boxpoints=False,
                             hovertemplate=f"real rating {rating:g}: {len(group):,} ratings<extra></extra>"))
    fig.update_layout(showlegend=False)
    return _layout(fig, "What the model predicts for each real rating (validation)", "real rating",
                   "predicted rating", height=360)


def prediction_parts(parts: dict) -> go.Figure:
    """One prediction as a waterfall: user bias + item bias + dot product = the sum, which sigmoid_range squashes."""
    names = ["user's bias (u_bias)", "movie's bias (i_bias)", "dot product of factors", "sum"]
    values = [parts["user_bias"], parts["item_bias"], parts["dot"], parts["sum"]]
    fig = go.Figure(go.Waterfall(x=names, y=values, measure=["relative", "relative", "relative", "total"],
                                 text=[f"{v:+.3f}" for v in values[:3]] + [f"{values[3]:.3f}"], textposition="outside",
                                 increasing=dict(marker_color=TRAIN_COLOR), decreasing=dict(marker_color=ACCENT),
                                 totals=dict(marker_color=MUTED), connector=dict(line=dict(color=MUTED))))
    return _layout(fig, "The sum before sigmoid_range", "", "activation", height=340)
