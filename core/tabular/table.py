"""Reading a table: the embedded Adult census, or a student's CSV, checked before anything trains on it.

Every problem with a file becomes a `TableError` whose message is a sentence a student can act on;
the page shows it with st.error. Nothing here raises a bare pandas exception at the page.
"""
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from core.errors import StudentError

# The course's columns (lesson 1: `TabularDataLoaders.from_csv(path/'adult.csv', ...)`).
ADULT_TARGET = "salary"
ADULT_CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
ADULT_CONT_NAMES = ["age", "fnlwgt", "education-num"]
ADULT_FILES = ("adult.csv.gz", "adult.csv")   # embedded copy / fast.ai's ADULT_SAMPLE


@dataclass(frozen=True)
class Limits:
    """What the shared server accepts from one upload. Environment variables raise them on a laptop."""
    max_bytes: int = int(os.environ.get("LESSON1_CSV_MAX_MB", "50")) * 2**20
    max_rows: int = int(os.environ.get("LESSON1_CSV_MAX_ROWS", "200000"))
    max_columns: int = int(os.environ.get("LESSON1_CSV_MAX_COLUMNS", "100"))
    max_classes: int = 20
    max_categories: int = 10_000     # per categorical column: an embedding table per value, Adam state on top


class TableError(StudentError, ValueError):
    """A problem with the student's table, worded for the student."""


@dataclass
class TableSpec:
    """Which column to predict and how to treat the others."""
    target: str
    cat_names: list[str] = field(default_factory=list)
    cont_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"target": self.target, "cat_names": list(self.cat_names), "cont_names": list(self.cont_names)}

    @classmethod
    def from_dict(cls, d: dict) -> "TableSpec":
        return cls(d["target"], list(d["cat_names"]), list(d["cont_names"]))


ADULT_SPEC = TableSpec(ADULT_TARGET, ADULT_CAT_NAMES, ADULT_CONT_NAMES)


def load_adult(folder: str | Path) -> pd.DataFrame:
    """The Adult table from a dataset folder (the embedded one, or a downloaded ADULT_SAMPLE)."""
    folder = Path(folder)
    for name in ADULT_FILES:
        if (folder / name).exists():
            df = pd.read_csv(folder / name, skipinitialspace=True)
            # ADULT_SAMPLE keeps the spaces of the original file inside values (" Private")
            for col in df.columns:
                if not pd.api.types.is_numeric_dtype(df[col]):
                    df[col] = df[col].str.strip()
            return df
    raise TableError(f"No adult.csv in {folder}: the dataset folder is incomplete.")


def read_csv_bytes(data: bytes, name: str = "your file", limits: Limits = Limits()) -> pd.DataFrame:
    """Parse an uploaded CSV, or raise TableError saying what is wrong with it."""
    if len(data) > limits.max_bytes:
        raise TableError(f"{name} is {len(data) / 2**20:.1f} MB; this server accepts CSV files up to "
                         f"{limits.max_bytes / 2**20:.0f} MB. Try a sample of the rows.")
    if not data.strip():
        raise TableError(f"{name} is empty: there is nothing to read.")
    if b"\x00" in data[:4096]:
        raise TableError(f"{name} looks like a binary file (a spreadsheet or an image?), not a CSV. "
                         "In Excel or Sheets use File → Save as / Download → CSV.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TableError(f"{name} is not UTF-8 text (byte {e.start} cannot be read). Save it again "
                         "with the encoding 'UTF-8' (e.g. Excel: Save as → 'CSV UTF-8').") from None
    try:
        sep = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        # one row more than allowed, so a giant file is refused without reading all of it
        df = pd.read_csv(io.StringIO(text), sep=sep, nrows=limits.max_rows + 1, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TableError(f"{name} has no columns: the first line should be a header such as "
                         "'age,workclass,salary'.") from None
    except pd.errors.ParserError as e:
        detail = str(e).replace("Error tokenizing data. C error: ", "").strip()
        raise TableError(f"{name} could not be read as a table ({detail}). Usually a quote \" that is "
                         "never closed, or a row with more commas than the header.") from None
    if df.shape[1] > limits.max_columns:
        raise TableError(f"{name} has {df.shape[1]} columns; this server accepts up to {limits.max_columns}.")
    if len(df) > limits.max_rows:
        raise TableError(f"{name} has more than {limits.max_rows:,} rows, the most this server trains on. "
                         "Try a sample of the rows.")
    if len(df) == 0:
        raise TableError(f"{name} has a header but no rows of data.")
    if df.shape[1] < 2:
        raise TableError(f"{name} has a single column ('{df.columns[0]}'): we need one column to predict "
                         "and at least one to predict it from. Is the separator a comma?")
    return df


def guess_spec(df: pd.DataFrame, target: str | None = None, max_card: int = 20) -> TableSpec:
    """A sensible first guess, like fastai's `cont_cat_split`: text or few distinct values → categorical.

    The target defaults to the last column. Columns that look like row ids (text, nearly all distinct)
    are left out: an embedding of an id learns nothing that carries over to new rows.
    """
    target = target if target is not None else df.columns[-1]
    cats, conts = [], []
    for col in df.columns:
        if col == target:
            continue
        values = df[col]
        n_unique = values.nunique()
        if pd.api.types.is_float_dtype(values) or (pd.api.types.is_numeric_dtype(values)
                                                   and n_unique > max_card):
            conts.append(col)
        elif pd.api.types.is_numeric_dtype(values) or n_unique <= max(max_card, 0.5 * len(df)):
            cats.append(col)
    return TableSpec(target, cats, conts)


def check_spec(df: pd.DataFrame, spec: TableSpec, limits: Limits = Limits()) -> list[str]:
    """Raise TableError if we cannot train on `df` with `spec`; return warnings worth showing."""
    columns = set(df.columns)
    missing = [c for c in [spec.target, *spec.cat_names, *spec.cont_names] if c not in columns]
    if missing:
        raise TableError(f"Column(s) {', '.join(repr(c) for c in missing)} are not in the table. "
                         f"Its columns are: {', '.join(map(str, df.columns))}.")
    if spec.target in spec.cat_names or spec.target in spec.cont_names:
        raise TableError(f"'{spec.target}' is what we predict, so it cannot also be an input column.")
    both = set(spec.cat_names) & set(spec.cont_names)
    if both:
        raise TableError(f"{', '.join(sorted(both))}: a column is either categorical or continuous, not both.")
    if not spec.cat_names and not spec.cont_names:
        raise TableError("Pick at least one input column (categorical or continuous).")
    target = df[spec.target].dropna()
    n_classes = target.nunique()
    if n_classes < 2:
        only = f" (every row says {target.iloc[0]!r})" if len(target) else ""
        raise TableError(f"The target '{spec.target}' has a single value{only}: there is nothing to "
                         "learn. Pick a column with at least two different values.")
    if n_classes > limits.max_classes:
        raise TableError(f"The target '{spec.target}' has {n_classes} different values. This lesson "
                         f"predicts a category (up to {limits.max_classes}); pick another column.")
    for col in spec.cont_names:
        if not pd.api.types.is_numeric_dtype(df[col]):
            example = df[col][pd.to_numeric(df[col], errors="coerce").isna() & df[col].notna()].iloc[0]
            raise TableError(f"'{col}' holds text such as {example!r}, so it cannot be continuous. "
                             "Make it categorical instead.")
    for col in spec.cat_names:
        n = df[col].nunique()
        if n > limits.max_categories:
            raise TableError(f"'{col}' has {n:,} different values, too many for a categorical column here (up "
                             f"to {limits.max_categories:,}): is it an id? Leave it out, or make it continuous "
                             "if it is a number.")
    warnings = []
    n_no_target = int(df[spec.target].isna().sum())
    if n_no_target:
        warnings.append(f"{n_no_target:,} rows have no value for '{spec.target}'; they are left out.")
    if len(target) < 50:
        raise TableError(f"Only {len(target)} rows have a value for '{spec.target}'; we need at least 50 "
                         "to split off a validation set and learn something.")
    return warnings


def split_indices(n: int, valid_pct: float = 0.2, seed: int = 42) -> tuple[list[int], list[int]]:
    """fastai's RandomSplitter: the same permutation it draws, so both libraries see the same split."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = int(valid_pct * n)
    return order[cut:], order[:cut]
