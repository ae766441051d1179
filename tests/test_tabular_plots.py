"""The lesson's charts show the numbers they are given."""
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from core.tabular import plots

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def rows(svg: str) -> list[str]:
    """What each row says on hover: its label and its value."""
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}title")]


def bar_widths(svg: str) -> list[float]:
    return [float(r.get("width")) for r in ET.fromstring(svg).iter(f"{SVG}rect") if float(r.get("height")) > 12]


def test_missing_and_balance_charts_count_the_table():
    df = pd.DataFrame({"a": [1, None, 3, None], "b": ["x", "y", None, "x"], "t": ["yes", "no", "no", "no"]})
    missing = plots.missing_per_column(df)
    assert rows(missing) == ["a: missing: 2", "b: missing: 1", "t: missing: none"]
    a, b, t = bar_widths(missing)
    assert a == 2 * b and t == 0
    balance = plots.target_balance(df, "t")
    assert "3 (75%)" in texts(balance) and "1 (25%)" in texts(balance)
    assert texts(balance).index("no") < texts(balance).index("yes")             # the commonest first


def test_a_wide_table_shows_the_twenty_columns_missing_the_most():
    df = pd.DataFrame({f"c{i}": [None] * (i % 7) + [1.0] * (10 - i % 7) for i in range(100)})
    shown = texts(plots.missing_per_column(df))
    assert "the 20 columns missing the most, of 100" in shown[0]
    columns = [t for t in shown if t and t.startswith("c") and t[1:].isdigit()]
    most = [f"c{i}" for i in range(100) if i % 7 == 6] + [f"c{i}" for i in range(100) if i % 7 == 5][:6]
    assert sorted(columns) == sorted(most)                          # 6 missing each, then the first six of 5
    assert columns == sorted(columns, key=lambda c: int(c[1:]))     # in the table's order


def test_importance_bars_most_important_on_top():
    records = [{"column": "a", "importance": 0.01, "std": 0.0}, {"column": "b", "importance": 0.05, "std": 0.01}]
    shown = texts(plots.importance_bars(records))
    assert shown.index("b") < shown.index("a")
    assert "+5.0 ± 1.0" in shown and "+1.0 ± 0.0" in shown              # in percentage points
    b, a = bar_widths(plots.importance_bars(records))
    assert b == pytest.approx(5 * a, abs=0.5)                 # drawn to a tenth of a pixel


def test_what_if_bars_compare_with_the_original_row():
    both = plots.probability_bars({"<50k": 0.3, ">=50k": 0.7}, {"<50k": 0.9, ">=50k": 0.1})
    assert {"the original row", "with your changes", "90.0%", "30.0%", "10.0%", "70.0%"} <= set(texts(both))
    assert len(bar_widths(both)) == 4
    alone = plots.probability_bars({"<50k": 0.3, ">=50k": 0.7})
    assert len(bar_widths(alone)) == 2 and "the original row" not in texts(alone)
