"""Reading a table: the embedded Adult census, or a student's CSV, checked before anything trains on it.

Every problem with a file becomes a `TableError` whose message is a sentence a student can act on;
the page shows it with st.error. Nothing here raises a bare pandas exception at the page.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.tables import Limits, TableError

# The course's columns (lesson 1: `TabularDataLoaders.from_csv(path/'adult.csv', ...)`).
ADULT_TARGET = "salary"
ADULT_CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
ADULT_CONT_NAMES = ["age", "fnlwgt", "education-num"]
ADULT_FILES = ("adult.csv.gz", "adult.csv")   # embedded copy / fast.ai's ADULT_SAMPLE


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
    if n_classes == 0:
        raise TableError(f"The target '{spec.target}' is empty in every row: there is nothing to learn from. Pick the "
                         "column that holds the answers.")
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
    for col in spec.cont_names:
        n_infinite = int(np.isinf(df[col].to_numpy(dtype="float64", na_value=np.nan)).sum())
        if n_infinite:
            warnings.append(f"'{col}' has {n_infinite:,} infinite value(s) (such as 1e309): they are treated as "
                            "missing, like an empty cell.")
    n_no_target = int(df[spec.target].isna().sum())
    if n_no_target:
        warnings.append(f"{n_no_target:,} rows have no value for '{spec.target}'; they are left out.")
    if len(target) < 50:
        raise TableError(f"Only {len(target)} rows have a value for '{spec.target}'; we need at least 50 "
                         "to split off a validation set and learn something.")
    return warnings
