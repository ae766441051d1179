"""ui/tables.py: a lesson's small tables as escaped HTML, the big ones in the data grid, and tests.helpers.tables
reading both back as the page shows them."""
import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.helpers import tables
from ui.tables import HTML_CELLS, HTML_ROWS, to_html


def test_a_students_text_is_text_not_markup():
    df = pd.DataFrame({"<b>name</b>": ["<script>alert(1)</script>", "a & b"]}, index=["<i>row</i>", "x"])
    markup = to_html(df)
    assert "<script>" not in markup and "<b>name" not in markup and "<i>row" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup and "a &amp; b" in markup


def test_numbers_to_four_digits_missing_ones_said_and_formats_per_column():
    df = pd.DataFrame({"x": [0.123456, 12345.678, np.nan], "n": [1, 2, 3], "share": [0.5, 0.25, 0.125],
                       "word": ["a", None, "c"], "weight": [184700.0, 2.5e-5, np.nan]})
    markup = to_html(df, index=False, formats={"share": "{:.1%}"})
    for shown in ("0.1235", ">12345.7<", ">2<", "12.5%", ">184700<", ">2.5e-05<"):
        assert shown in markup, shown
    assert markup.count('class="none">NaN<') == 3                             # missing numbers and words, faded
    assert '<th scope="col" class="num">x</th>' in markup and '<th scope="col">word</th>' in markup   # numbers'
    # headers to the right, like their cells


def test_a_columns_numbers_share_their_decimals():
    df = pd.DataFrame({"accuracy": [0.728, 0.68, 0.7], "rating": [4.0, 3.5, 4.5], "count": [3.0, 12.0, np.nan],
                       "loss": [0.1234567, 1.5, 2e-7]})
    cells = [td.split(">")[1].split("<")[0] for td in to_html(df, index=False).split("<td")[1:]]
    assert cells == ["0.728", "4.0", "3", "0.1235", "0.680", "3.5", "12", "1.5000", "0.700", "4.5", "NaN", "2e-07"]


def test_marked_cells_and_rows():
    df = pd.DataFrame({"a": ["?", "1"], "b": ["2", "?"]}, index=["lr", "wd"])
    cells = to_html(df, marked=lambda v: v == "?")
    assert cells.count("mark") == 2
    rows = to_html(df, marked_rows={"wd"})
    assert rows.count("mark") == 3                  # the row's name and its two cells
    assert "mark" not in to_html(df)



def test_a_long_title_may_wrap_but_a_code_or_a_number_stays_on_one_line():
    # Two recommendation tables side by side fit a laptop's page only if a movie's title can wrap; a census code
    # would break at its hyphens ("Married-civ-/spouse"), and a number never should.
    df = pd.DataFrame({"movie": ["Shawshank Redemption, The (1994)", "Up (2009)"],
                       "status": ["Married-civ-spouse-absent-abroad", "Divorced"], "n": [123456789012345678901, 2]})
    cells = [td.split(">")[0] for td in to_html(df, index=False).split("<td")[1:]]
    assert cells[0] == ' class="long"' and cells[1:] == ["", ' class="num"', "", "", ' class="num"']


def test_small_tables_as_html_big_ones_in_the_grid_and_both_read_back():
    at = AppTest.from_string(
        "import numpy as np\nimport pandas as pd\nfrom ui.tables import show_table\n"
        "small = pd.DataFrame({'word': ['a', 'b'], 'value': [0.5, 1.25]})\n"
        "show_table(small, index=False)\n"
        f"show_table(pd.DataFrame({{'v': np.arange({HTML_ROWS + 1})}}), marked=lambda v: v == 3, "
        "formats={'v': '{:d}'})\n"                 # the grid keeps the highlights and formats (a Styler)
        f"show_table(pd.DataFrame(np.zeros((2, {HTML_CELLS // 2 + 1}))))\n"
        "left, right = __import__('streamlit').columns(2)\n"
        "show_table(small, where=right, marked=lambda v: v == 'a')\n")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.dataframe) == 2                   # too many rows, too many cells
    shown = tables(at)
    assert [t.shape for t in shown] == [(2, 2), (HTML_ROWS + 1, 1), (2, HTML_CELLS // 2 + 1), (2, 2)]
    assert shown[0]["word"].tolist() == ["a", "b"] and shown[0]["value"].tolist() == [0.5, 1.25]
    assert shown[3].index.tolist() == [0, 1]        # an index read back as numbers
