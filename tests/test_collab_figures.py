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
