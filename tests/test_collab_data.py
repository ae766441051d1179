"""Ratings: reading and checking a CSV, the MovieLens loaders, vocabularies, the split, tensors on the device."""
import numpy as np
import pandas as pd
import pytest
import torch

from core.collab.data import (COURSE_Y_RANGE, NA, RatingsSpec, crosstab, default_y_range, embedded_movielens,
                              guess_spec, make_dls, ml_sample, movie_labels, most_rated, prepare, read_ratings_csv,
                              to_ratings, vocab_of)
from core.splits import split_indices
from core.tables import Limits, TableError


def tiny_ratings(n_users=20, n_items=15, n=240, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.integers(1, n_users + 1, n), "item": [f"movie {i}" for i in
                                                                           rng.integers(0, n_items, n)],
                         "rating": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n).astype("float32")})


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


# ---- reading -----------------------------------------------------------------------------------------------------
def test_a_good_csv_is_read_and_its_columns_guessed():
    df = read_ratings_csv(b"userId,movieId,rating,timestamp\n1,10,4.5,99\n2,10,3,98\n")
    assert guess_spec(df) == RatingsSpec("userId", "movieId", "rating")
    odd = pd.DataFrame({"who": [1], "title": ["x"], "when": [3], "stars": [4]})
    assert guess_spec(odd) == RatingsSpec("who", "title", "stars")     # names win over positions


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"a,b\n1,\"never closed\n", "could not be read"),
    (b"user,item\n1,2\n", "needs three"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    ("user,movie,rating\n1,Amélie,4\n".encode("utf-16"), "UTF-16"),              # Excel's 'Unicode Text'
    ("user,movie,rating\n1,Amélie,4\n2,Heat,3\n".encode("utf-16-le"), "UTF-16"),  # without its byte-order mark
    ("user,movie,rating\n1,Amélie,4\n".encode("latin-1"), "not UTF-8"),
    (b"user,movie,rating\n", "no rows"),
])
def test_a_broken_csv_gets_a_sentence_for_the_student(content, words):
    with pytest.raises(TableError, match=words):
        read_ratings_csv(content, "'mine.csv'")


def test_a_too_big_file_is_refused_before_reading_it():
    with pytest.raises(TableError, match="MB"):
        read_ratings_csv(b"u,i,r\n" + b"1,2,3\n" * 400_000, limits=Limits(max_bytes=2**20))
    with pytest.raises(TableError, match="more than 100 rows"):
        read_ratings_csv(b"u,i,r\n" + b"1,2,3\n" * 200, limits=Limits(max_rows=100))


def test_missing_or_repeated_columns_are_named():
    df = tiny_ratings()
    with pytest.raises(TableError, match="'stars'.*not in the table.*user, item, rating"):
        to_ratings(df, RatingsSpec("user", "item", "stars"))
    with pytest.raises(TableError, match="three different columns"):
        to_ratings(df, RatingsSpec("user", "user", "rating"))


def test_text_ratings_are_refused_with_an_example_and_its_row():
    df = tiny_ratings()
    df["rating"] = df["rating"].astype(object)
    df.loc[7, "rating"] = "great"
    with pytest.raises(TableError, match=r"holds text such as 'great' \(row 9 of the file\)"):
        to_ratings(df, RatingsSpec("user", "item", "rating"))


def test_infinite_ratings_are_refused_with_their_row():
    df = read_ratings_csv(b"user,movie,rating\n" + b"1,a,4\n" * 5 + b"2,b,inf\n3,c,1e309\n")
    assert np.isinf(df["rating"]).sum() == 2                  # what pandas makes of 'inf' and of 1e309
    with pytest.raises(TableError, match=r"infinite number \(row 7 of the file"):
        to_ratings(df, RatingsSpec("user", "movie", "rating"))


def test_a_single_row_is_refused_in_words():
    df = read_ratings_csv(b"user,movie,rating\n1,a,4\n")
    with pytest.raises(TableError, match="Only 1 complete rating; we need at least 50"):
        to_ratings(df, RatingsSpec("user", "movie", "rating"))


def test_blank_rows_are_left_out_and_said_and_too_few_are_refused():
    df = tiny_ratings()
    df.loc[[3, 5], "rating"] = np.nan
    ratings, notes = to_ratings(df, RatingsSpec("user", "item", "rating"))
    assert len(ratings) == len(df) - 2 and "2 rows" in notes[0]
    with pytest.raises(TableError, match="at least 50"):
        to_ratings(df.head(30), RatingsSpec("user", "item", "rating"))
    with pytest.raises(TableError, match="single user or a single item"):
        to_ratings(df.assign(user=1), RatingsSpec("user", "item", "rating"))


def test_y_range_is_the_courses_for_stars_and_covers_other_scales():
    assert default_y_range(pd.Series([0.5, 3.0, 5.0])) == COURSE_Y_RANGE
    low, high = default_y_range(pd.Series([0.0, 10.0]))
    assert low == 0.0 and high > 10.0
    assert default_y_range(pd.Series([1.0, 10.0])) == (1.0, 10.9)          # 1-10 stars: not capped at 5.5
    assert default_y_range(pd.Series([1.0, 5.0])) == COURSE_Y_RANGE


# ---- MovieLens loaders --------------------------------------------------------------------------------------------
def test_movie_labels_add_the_year_and_tell_apart_same_titles():
    movies = pd.DataFrame({"movieId": [1, 2, 3, 4], "title": ["Hamlet", "Hamlet", "Toy Story", None],
                           "year": [2000.0, 2000.0, 1995.0, np.nan]})
    labels = movie_labels(movies)
    assert labels[3] == "Toy Story (1995)" and labels[4] == "movie 4"
    assert labels[1] == "Hamlet (2000) #1" and labels[2] == "Hamlet (2000) #2"


def test_embedded_table_becomes_user_item_rating():
    table = pd.DataFrame({"movieId": [1, 2, 1], "title": ["A", "B", "A"], "year": [1990.0, 1991.0, 1990.0],
                          "userId": [7, 7, 8], "rating": [4.0, 2.5, 5.0]})
    out = embedded_movielens(table)
    assert out.columns.tolist() == ["user", "item", "rating"]
    assert out["item"].tolist() == ["A (1990)", "B (1991)", "A (1990)"] and out["user"].tolist() == [7, 7, 8]


def test_ml_sample_folder_with_and_without_titles(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,1\n2,11,3.5,2\n")
    assert ml_sample(tmp_path)["item"].tolist() == ["movie 10", "movie 11"]
    named = ml_sample(tmp_path, pd.Series(["Heat (1995)"], index=[10]))
    assert named["item"].tolist() == ["Heat (1995)", "movie 11"]
    with pytest.raises(TableError, match="incomplete"):
        ml_sample(tmp_path / "nowhere")


# ---- vocabularies, split, tensors ---------------------------------------------------------------------------------
def test_vocab_is_na_then_sorted_values_numbers_in_numeric_order():
    assert vocab_of(pd.Series([10, 2, 2, 1])) == [NA, "1", "2", "10"]
    assert vocab_of(pd.Series(["b", "a"])) == [NA, "a", "b"]


def test_split_is_fastais_random_splitter_and_reproducible():
    ratings = tiny_ratings()
    a, b = prepare(ratings, seed=42), prepare(ratings, seed=42)
    assert np.array_equal(a.valid_idx, b.valid_idx) and np.array_equal(a.train_idx, b.train_idx)
    train, valid = split_indices(len(ratings), 0.2, 42)
    assert a.valid_idx.tolist() == valid and len(valid) == int(0.2 * len(ratings))
    assert sorted(a.train_idx.tolist() + a.valid_idx.tolist()) == list(range(len(ratings)))
    assert not np.array_equal(prepare(ratings, seed=1).valid_idx, a.valid_idx)


def test_vocab_comes_from_training_rows_and_unseen_become_na():
    ratings = tiny_ratings()
    ratings.loc[len(ratings)] = [999, "only once", 3.0]
    data = prepare(ratings, seed=42)
    last = len(ratings) - 1
    where_last = "valid" if last in data.valid_idx else "train"
    assert ("999" in data.users) == (where_last == "train")
    assert set(data.users[1:]) == set(data.train["user"].astype(str))
    x, y = data.tensors(np.array([last]))
    if where_last == "valid":
        assert x.tolist() == [[0, 0]] and any("validation ratings" in n for n in data.notes)
    assert y.dtype == torch.float32 and x.dtype == torch.int64


def test_tensors_index_the_vocabularies():
    data = prepare(tiny_ratings(), seed=42)
    x, y = data.tensors(data.train_idx)
    rows = data.train
    assert [data.users[i] for i in x[:5, 0]] == rows["user"].astype(str).head().tolist()
    assert [data.items[i] for i in x[:5, 1]] == rows["item"].head().tolist()
    assert torch.equal(y, torch.tensor(rows["rating"].to_numpy()))


def test_dataloaders_batch_from_tensors_on_the_device():
    data = prepare(tiny_ratings(), seed=42)
    dls = make_dls(data, "cpu", batch_size=32)
    xb, yb = next(iter(dls.train))
    assert xb.shape == (32, 2) and yb.shape == (32,) and dls.train.n == len(data.train_idx)
    assert dls.vocab == data.items and dls.info["users"] == data.users


def test_most_rated_keeps_the_popular_items_only():
    ratings = tiny_ratings()
    top = most_rated(ratings, 3)
    assert set(top["item"]) == set(ratings["item"].value_counts().index[:3])
    data = prepare(ratings, top_items=3)
    assert len(data.items) == 4 and "most-rated" in data.notes[0]


def test_crosstab_has_active_users_by_popular_items_with_gaps():
    ratings = tiny_ratings()
    table = crosstab(ratings, n_users=5, n_items=4)
    assert table.shape == (5, 4)
    assert table.index.tolist() == ratings["user"].value_counts().index[:5].tolist()
    user, item = table.index[0], table.columns[0]
    expected = ratings[(ratings["user"] == user) & (ratings["item"] == item)]["rating"]
    assert (np.isnan(table.iloc[0, 0]) and expected.empty) or table.iloc[0, 0] == pytest.approx(expected.mean())
