"""The tabular lesson's own charts, as SVG drawings (core/bars.py says why); its lr_find, loss curves and confusion
matrix are the ones every lesson shares (core/plots.py, ui/matrix.py)."""
import pandas as pd

from core.bars import BLUE, GREY, ORANGE, Series, hbars

MOST_ROWS = 20              # bars in one chart: a table of a hundred columns shows the twenty missing the most


def missing_per_column(df: pd.DataFrame) -> str:
    missing = df.isna().sum()
    title = f"Missing values per column ({len(df):,} rows)"
    if len(missing) > MOST_ROWS:
        kept = set(missing.sort_values(ascending=False, kind="stable").index[:MOST_ROWS])
        missing = missing[[c in kept for c in missing.index]]
        title = f"Missing values: the {MOST_ROWS} columns missing the most, of {len(df.columns):,} ({len(df):,} rows)"
    values = [int(m) for m in missing.values]
    return hbars(missing.index.astype(str), [Series("missing", values, [ORANGE if m else GREY for m in values],
                                                    texts=[f"{m:,}" if m else "none" for m in values])],
                 title=title, axis="missing values")


def target_balance(df: pd.DataFrame, target: str) -> str:
    counts = df[target].value_counts(dropna=False)
    share = counts / counts.sum()
    title = f"How often each '{target}' value appears"
    if len(counts) > MOST_ROWS:
        title += f" (the {MOST_ROWS} commonest of {len(counts):,})"
        counts, share = counts.iloc[:MOST_ROWS], share.iloc[:MOST_ROWS]
    return hbars(counts.index.astype(str), [Series("rows", [int(c) for c in counts.values], BLUE,
                                                   texts=[f"{c:,} ({s:.0%})" for c, s in zip(counts.values, share.values)])],
                 title=title, axis="rows")


def importance_bars(records: list[dict]) -> str:
    """The most important column on top, in percentage points of accuracy, ± one standard deviation."""
    df = pd.DataFrame(records).sort_values("importance", ascending=False, kind="stable")
    points, spread = (df["importance"] * 100).tolist(), (df["std"] * 100).tolist()
    return hbars(df["column"].astype(str), [Series("accuracy lost", points, BLUE, errors=spread,
                                                   texts=[f"{p:+.1f} ± {s:.1f}" for p, s in zip(points, spread)])],
                 title="Which columns does the model rely on?", axis="accuracy lost when shuffled (points)")


def probability_bars(probs: dict[str, float], reference: dict[str, float] | None = None) -> str:
    classes = list(probs)
    series = [Series("the original row", [reference[c] for c in classes], GREY)] if reference is not None else []
    series.append(Series("with your changes", [probs[c] for c in classes], ORANGE))
    return hbars(classes, series, title="What the model predicts for this person", axis="predicted probability",
                 upto=1.0, percent=True)
