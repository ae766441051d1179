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

