"""The lesson's figures show the numbers they are given."""
import pandas as pd

from core.collab import figures
from tests.test_collab_data import tiny_ratings


def test_rating_counts_has_one_bar_per_rating():
    ratings = tiny_ratings()
    fig = figures.rating_counts(ratings)
    counts = ratings["rating"].value_counts().sort_index()
    assert list(fig.data[0].x) == counts.index.tolist() and list(fig.data[0].y) == counts.tolist()


def test_ratings_per_user_counts_users():
    ratings = tiny_ratings()
    assert sorted(figures.ratings_per_user(ratings).data[0].x) == sorted(ratings.groupby("user").size())


def test_factor_map_labels_the_first_rows_only():
    table = pd.DataFrame({"movie": [f"m{i}" for i in range(10)], "PC1": range(10), "PC2": range(10),
                          "PC3": range(10, 20), "ratings": range(10, 0, -1)})
    fig = figures.factor_map(table, "PC1", "PC3", n_labels=3)
    rest, labelled = fig.data
    assert list(labelled.text) == ["m0", "m1", "m2"] and list(labelled.y) == [10, 11, 12] and len(rest.x) == 7


def test_factor_map_leaves_out_a_label_that_would_cover_another_but_keeps_its_point_and_title():
    table = pd.DataFrame({"movie": ["Fargo (1996)", "Seven (a.k.a. Se7en) (1995)", "Heat (1995)", "Up (2009)",
                                    "Alien (1979)"],
                          "PC1": [0.5, 0.5, 0.5, 1.0, 0.0], "PC3": [0.5, 0.5, 0.5, 1.0, 0.0]})
    labelled = figures.factor_map(table, "PC1", "PC3", n_labels=4).data[1]
    assert list(labelled.text) == ["Fargo", "Seven", "", "Up"]          # above, below, no room left, far away
    # "Up" is the top right corner: its label goes below it and to its left, where the plot does not cut it
    assert list(labelled.textposition) == ["top center", "bottom center", "top center", "bottom left"]
    assert list(labelled.hovertext) == list(table["movie"])[:4] and len(labelled.x) == 4



def test_a_map_for_a_narrow_place_labels_fewer_movies():
    # six titles in a row, 0.05 apart on an axis spanning 1: room for all six in a plot 900 px wide (45 px apart),
    # not in one 400 px wide (a phone, half a laptop's window): there one is left out rather than overlap
    names = ["Casablanca (1942)", "Vertigo (1958)", "Psycho (1960)", "Alien (1979)", "Heat (1995)", "Fargo (1996)"]
    table = pd.DataFrame({"movie": names + ["near", "far"], "PC1": [0.3 + i * 0.05 for i in range(6)] + [0.0, 1.0],
                          "PC3": [0.5] * 6 + [0.0, 1.0]})
    wide = figures.factor_map(table, "PC1", "PC3", n_labels=6).data[1]
    narrow = figures.factor_map(table, "PC1", "PC3", n_labels=6, plot_px=400).data[1]
    assert "" not in list(wide.text) and "" in list(narrow.text)


def label_boxes(x, y, texts, positions, width=900, height=520):
    """The pixel box of each placed label, from its point and its textposition (5.6 px a character, 13 a line)."""
    import numpy as np
    sx, sy = width / np.ptp(x), height / np.ptp(y)
    boxes = []
    for xi, yi, text, position in zip((x - x.min()) * sx, (y - y.min()) * sy, texts, positions):
        if text:
            row, side = position.split()
            wide = len(text) * 5.6 + 4
            left = {"center": xi - wide / 2, "right": xi + 2, "left": xi - 2 - wide}[side]
            low = yi + 5 if row == "top" else yi - 18
            boxes.append((left, low, left + wide, low + 13))
    return boxes


def test_placed_labels_never_overlap_nor_leave_the_plot():
    import numpy as np
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=60), rng.normal(size=60)
    labels = [f"movie number {i}" for i in range(60)]
    texts, positions = figures.placed_labels(x, y, labels, width=400, height=520)
    boxes = label_boxes(x, y, texts, positions, width=400)
    assert 10 < len(boxes) < 60                                        # some placed, some left out
    assert not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(0 <= b[0] and b[2] <= 400 and 0 <= b[1] and b[3] <= 520 for b in boxes)     # the plot cuts them
    first = int(np.argmin(x))                                          # the leftmost point's label: to its right
    assert texts[first] and positions[first].endswith("right")


def test_short_titles_read_as_names():
    assert figures.short_title("Shawshank Redemption, The (1994)") == "The Shawshank Redemption"
    assert figures.short_title("Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark) (1981)") \
        == "Raiders of the Lost Ark"
    assert figures.short_title("Star Wars: Episode V - The Empire Strikes Back (1980)") == "Star Wars: Episode V…"
    assert figures.short_title("(500) Days of Summer (2009)") == "(500) Days of Summer"


def test_factor_map_draws_only_the_most_rated():
    table = pd.DataFrame({"movie": [f"m{i}" for i in range(10)], "PC1": range(10), "PC3": range(10)})
    rest, labelled = figures.factor_map(table, "PC1", "PC3", n_labels=2, n_shown=5).data
    assert list(labelled.text) == ["m0", "m1"] and list(rest.text) == ["m2", "m3", "m4"]


def test_predictions_by_rating_has_a_box_per_real_rating():
    fig = figures.predictions_by_rating([3.1, 3.9, 4.2, 2.0], [3.0, 4.0, 4.0, 2.0])
    assert [t.name for t in fig.data] == ["2", "3", "4"] and list(fig.data[2].y) == [3.9, 4.2]


def test_prediction_parts_waterfall_adds_up_to_the_sum():
    parts = {"user_bias": 0.2, "item_bias": -0.5, "dot": 1.1, "sum": 0.8}
    (bar,) = figures.prediction_parts(parts).data
    assert list(bar.y) == [0.2, -0.5, 1.1, 0.8] and list(bar.measure) == ["relative"] * 3 + ["total"]
