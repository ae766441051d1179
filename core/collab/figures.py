"""The collab lesson's plotly figures (no streamlit here)."""
import re

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


def short_title(title: str, most: int = 24) -> str:
    """A movie's title as a label on the map: "Shawshank Redemption, The (1994)" -> "The Shawshank Redemption";
    the year and other names in brackets dropped (hovering shows the whole title), a long one cut at a word."""
    name = title.strip()
    while (shorter := re.sub(r"\s*\([^()]*\)$", "", name)) != name and shorter:
        name = shorter
    if m := re.fullmatch(r"(.+), (The|A|An)", name):
        name = f"{m[2]} {m[1]}"
    if len(name) > most:
        name = name[:most].rsplit(" ", 1)[0].rstrip(" :,-") + "…"
    return name


def placed_labels(x, y, labels, axes: tuple[tuple[float, float], tuple[float, float]] | None = None,
                  width: float = 900, height: float = 520, char_px: float = 5.6,
                  line_px: float = 13) -> tuple[list[str], list[str]]:
    """Each label above its point, else below it, in the order given (the most-rated first), unless it would cover
    a label already placed: then none (the point is still there to hover). A label that would stick out of the plot
    (which cuts it) goes to the point's other side: right of a point at the left edge, below one at the top edge.
    `axes`: the x and y axes' ranges (those of the points by default). Sizes are pixels of a plot area of about
    `width` x `height`, a laptop's narrower page rather than a wide screen's. Returns (texts, textpositions)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not len(x):
        return [], []
    (x_low, x_high), (y_low, y_high) = axes or ((x.min(), x.max()), (y.min(), y.max()))
    sx, sy = width / ((x_high - x_low) or 1.0), height / ((y_high - y_low) or 1.0)
    placed, texts, positions = [], [], []
    for px, py, label in zip((x - x_low) * sx, (y - y_low) * sy, labels):
        wide = len(label) * char_px + 4
        side, left = ("center", px - wide / 2)
        if left < 0:
            side, left = "right", px + 2
        elif left + wide > width:
            side, left = "left", px - 2 - wide
        rows = [(row, low) for row, low in (("top", py + 5), ("bottom", py - 5 - line_px))
                if 0 <= low and low + line_px <= height]
        for row, low in rows:
            box = (left, low, left + wide, low + line_px)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                placed.append(box)
                texts.append(label)
                positions.append(f"{row} {side}")
                break
        else:
            texts.append("")
            positions.append("top center")
    return texts, positions


def factor_map(table: pd.DataFrame, x: str = "PC1", y: str = "PC3", n_labels: int = 50,
               n_shown: int = MAP_MOVIES, plot_px: float = 900) -> go.Figure:
    """The chapter's scatter of movies on two principal components of their factors: the `n_shown` first rows of the
    table (the most-rated), the `n_labels` first of them marked and labelled where a label has room in a plot about
    `plot_px` wide. The browser draws each point as an element of its own: 300 keep the map readable and its page
    lighter than 1,000 did."""
    labelled, rest = table.head(n_labels), table.iloc[n_labels:n_shown]
    shown = table.head(n_shown)
    axes = ((shown[x].min(), shown[x].max()), (shown[y].min(), shown[y].max())) if len(shown) else None
    texts, positions = placed_labels(labelled[x], labelled[y], [short_title(t) for t in labelled["movie"]], axes,
                                     width=plot_px)
    data = [dict(type="scatter", x=rest[x], y=rest[y], mode="markers", name="other movies",
                 marker=dict(color=MUTED, size=5, opacity=0.4), text=rest["movie"],
                 hovertemplate="%{text}<extra></extra>"),
            dict(type="scatter", x=labelled[x], y=labelled[y], mode="markers+text", name=f"{n_labels} most rated",
                 marker=dict(color=ACCENT, size=7), text=texts, textposition=positions, textfont=dict(size=10),
                 hovertext=labelled["movie"], hovertemplate="%{hovertext}<extra></extra>")]
    return chart(data, f"The movies' learned factors: {x} and {y} of a PCA", x, y, height=640)


def predictions_by_rating(preds, targets) -> go.Figure:
    """The validation ratings' predictions, one box per real rating: a good model's boxes climb with the rating."""
    frame = pd.DataFrame({"rating": np.asarray(targets, dtype=float), "prediction": np.asarray(preds, dtype=float)})
    boxes = [dict(type="box", y=group["prediction"], name=f"{rating:g}", marker_color=TRAIN_COLOR, boxpoints=False,
                  hovertemplate=f"real rating {rating:g}: {len(group):,} ratings<extra></extra>")
             for rating, group in frame.groupby("rating")]
    return chart(boxes, "Predictions for each real rating", "real rating (validation)",
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
