"""The collab lesson's plotly figures (no streamlit here)."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.plots import ACCENT, MUTED, TRAIN_COLOR, chart


def rating_counts(ratings: pd.DataFrame) -> go.Figure:
    """How often each rating is given: most people rate what they chose to watch, so high ratings dominate."""
    counts = ratings["rating"].value_counts().sort_index()
    bars = dict(type="bar", x=counts.index.astype(float), y=counts.to_numpy(), marker_color=TRAIN_COLOR,
                hovertemplate="rating %{x}: %{y:,} times<extra></extra>")
    return chart([bars], "How often each rating is given", "rating", "number of ratings", height=320,
                 xaxis=dict(tickmode="array", tickvals=counts.index.astype(float)))


def ratings_per_user(ratings: pd.DataFrame) -> go.Figure:
    """A few users rate a lot, most rate a little: the long tail."""
    per_user = ratings.groupby("user").size()
    bars = dict(type="histogram", x=per_user.to_numpy(), nbinsx=60, marker_color=MUTED,
                hovertemplate="%{x} ratings: %{y} users<extra></extra>")
    return chart([bars], "Ratings per user", "ratings by one user", "users (log scale)", height=320,
                 yaxis=dict(type="log", dtick=1))


MAP_MOVIES = 300        # points on the map of the movies: each is an element the browser draws


def factor_map(table: pd.DataFrame, x: str = "PC1", y: str = "PC3", n_labels: int = 50,
               n_shown: int = MAP_MOVIES) -> go.Figure:
    """The chapter's scatter of movies on two principal components of their factors: the `n_shown` first rows of the
    table (the most-rated), the `n_labels` first of them labelled. The browser draws each point as an element of its
    own: 300 keep the map readable and its page lighter than 1,000 did."""
    labelled, rest = table.head(n_labels), table.iloc[n_labels:n_shown]
    data = [dict(type="scatter", x=rest[x], y=rest[y], mode="markers", name="other movies",
                 marker=dict(color=MUTED, size=5, opacity=0.4), text=rest["movie"],
                 hovertemplate="%{text}<extra></extra>"),
            dict(type="scatter", x=labelled[x], y=labelled[y], mode="markers+text", name=f"{n_labels} most rated",
                 marker=dict(color=ACCENT, size=7), text=labelled["movie"].str.slice(0, 28),
                 textposition="top center", textfont=dict(size=10), hovertext=labelled["movie"],
                 hovertemplate="%{hovertext}<extra></extra>")]
    return chart(data, f"Movies by two directions of their learned factors ({x} and {y} of a PCA)", x, y, height=640)


def predictions_by_rating(preds, targets) -> go.Figure:
    """The validation ratings' predictions, one box per real rating: a good model's boxes climb with the rating."""
    frame = pd.DataFrame({"rating": np.asarray(targets, dtype=float), "prediction": np.asarray(preds, dtype=float)})
    boxes = [dict(type="box", y=group["prediction"], name=f"{rating:g}", marker_color=TRAIN_COLOR, boxpoints=False,
                  hovertemplate=f"real rating {rating:g}: {len(group):,} ratings<extra></extra>")
             for rating, group in frame.groupby("rating")]
    return chart(boxes, "What the model predicts for each real rating (validation)", "real rating",
                 "predicted rating", height=360, showlegend=False)


def prediction_parts(parts: dict) -> go.Figure:
    """One prediction as a waterfall: user bias + item bias + dot product = the sum, which sigmoid_range squashes."""
    names = ["user's bias (u_bias)", "movie's bias (i_bias)", "dot product of factors", "sum"]
    values = [parts["user_bias"], parts["item_bias"], parts["dot"], parts["sum"]]
    steps = dict(type="waterfall", x=names, y=values, measure=["relative", "relative", "relative", "total"],
                 text=[f"{v:+.3f}" for v in values[:3]] + [f"{values[3]:.3f}"], textposition="outside",
                 increasing=dict(marker_color=TRAIN_COLOR), decreasing=dict(marker_color=ACCENT),
                 totals=dict(marker_color=MUTED), connector=dict(line=dict(color=MUTED)))
    return chart([steps], "The sum before sigmoid_range", "", "activation", height=340)
