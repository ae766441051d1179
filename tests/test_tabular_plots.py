"""The lesson's figures show the numbers they are given."""
import numpy as np
import pandas as pd

from core.tabular import plots


def test_missing_and_balance_figures_count_the_table():
    df = pd.DataFrame({"a": [1, None, 3, None], "b": ["x", "y", None, "x"], "t": ["yes", "no", "no", "no"]})
    bar = plots.missing_per_column(df).data[0]
    assert list(bar.x) == ["a", "b", "t"] and list(bar.y) == [2, 1, 0]
    balance = plots.target_balance(df, "t").data[0]
    assert dict(zip(balance.x, balance.y)) == {"no": 3, "yes": 1}


def test_importance_bars_most_important_on_top():
    records = [{"column": "a", "importance": 0.01, "std": 0.0}, {"column": "b", "importance": 0.05, "std": 0.01}]
    bar = plots.importance_bars(records).data[0]
    assert list(bar.y) == ["a", "b"]                    # plotly draws the last bar at the top
    np.testing.assert_allclose(bar.x, [1.0, 5.0])      # in percentage points


def test_what_if_bars_compare_with_the_original_row():
    fig = plots.probability_bars({"<50k": 0.3, ">=50k": 0.7}, {"<50k": 0.9, ">=50k": 0.1})
    original, changed = fig.data
    assert list(original.x) == [0.9, 0.1] and list(changed.x) == [0.3, 0.7]
    assert len(plots.probability_bars({"<50k": 0.3, ">=50k": 0.7}).data) == 1
