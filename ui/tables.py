"""A lesson's small tables (a batch's rows, a vocabulary, an epoch table) drawn as plain HTML.

Why not st.dataframe: its data grid costs the browser ~35 ms to mount, whatever its size, and a lesson shows 5 to 15
small tables. Switching to the tabular lesson took 1.2 s to draw the whole page, half of it mounting grids
(benchmarks/bench_startup.py; a page of 15 small grids drew in 0.7 s, the same tables as HTML in 0.15 s). A table
bigger than a screenful still gets the grid: it scrolls, sorts and draws only what shows.

Every name and value is escaped: a cell of a student's CSV is text, never markup.
"""
import html
import math
from numbers import Number

import pandas as pd
import streamlit as st

HTML_CELLS = 600          # more cells than this (or more than HTML_ROWS rows): the data grid
HTML_ROWS = 40
MARK = "mark"             # the class of a highlighted cell (a yellow background, as the grid's highlights had)
MARK_COLOUR = "#fff3cd"
LONG = "long"             # the class of a text cell that may wrap: a title, not a code such as "Married-civ-spouse"

CSS = (".l1-table { overflow-x: auto; margin-bottom: 0.5rem;"
       # a table cut by a narrow place (a phone) shows a shadow at the edge it goes on past, as a code block does
       # (ui/assets/code.css): the covers scroll with the table and hide a shadow once that end is reached
       " background: linear-gradient(to right, #fff 40%, transparent) left / 2.5rem 100% no-repeat local,"
       " linear-gradient(to left, #fff 40%, transparent) right / 2.5rem 100% no-repeat local,"
       " radial-gradient(farthest-side at 0 50%, rgba(0, 0, 0, 0.18), transparent) left / 0.9rem 100% no-repeat scroll,"
       " radial-gradient(farthest-side at 100% 50%, rgba(0, 0, 0, 0.18), transparent) right / 0.9rem 100% no-repeat"
       " scroll, #fff; }"
       ".l1-table table { border-collapse: collapse; font-size: 0.875rem; font-variant-numeric: tabular-nums; }"
       ".l1-table th, .l1-table td { padding: 0.25rem 0.6rem; border-bottom: 1px solid rgba(128, 128, 128, 0.25);"
       " white-space: nowrap; text-align: left; max-width: 24rem; overflow: hidden; text-overflow: ellipsis; }"
       ".l1-table thead th { font-weight: 600; border-bottom: 1px solid rgba(128, 128, 128, 0.5);"
       " vertical-align: bottom; }"
       ".l1-table tbody th { font-weight: 400; opacity: 0.65; }"
       # a title wraps at its spaces where the table is squeezed (a movie's, in a header or a cell)
       f".l1-table td.{LONG}, .l1-table th.{LONG} {{ white-space: normal; min-width: 9rem; }}"
       ".l1-table .num { text-align: right; }"
       ".l1-table .none { opacity: 0.45; }"
       f".l1-table .{MARK} {{ background: {MARK_COLOUR}; color: #31333f; font-weight: 600; }}")   # in the app's
# stylesheet (ui/frame.py), sent once per page


def cell_text(value, digits: int, fmt=None, decimals: int | None = None) -> tuple[str, str]:
    """(text, css class) of one value: numbers to `digits` significant digits, or to its column's `decimals` (see
    column_decimals), or by `fmt` ("{:.1%}", or a function of the value), whole and big ones without an exponent,
    right-aligned; missing ones faded; long text may wrap."""
    if value is None or value is pd.NA or value is pd.NaT or isinstance(value, float) and math.isnan(value):
        return "None" if value is None else "NaN", "none"
    if isinstance(value, bool):
        return str(value), ""
    if isinstance(value, Number):
        if fmt:
            return (fmt(value) if callable(fmt) else fmt.format(value)), "num"
        if isinstance(value, float) or getattr(value, "dtype", None) is not None and value.dtype.kind == "f":
            value = float(value)
            if decimals is not None and "e" not in f"{value:.{digits}g}":
                return f"{value:.{decimals}f}", "num"
            if value.is_integer() and abs(value) < 1e15:       # a whole number in a column with gaps: 184700
                return str(int(value)), "num"
            return (f"{value:.1f}" if abs(value) >= 1000 else f"{value:.{digits}g}"), "num"
        return str(value), "num"
    text = str(value)
    return text, long_text(text)


def long_text(text: str) -> str:
    """LONG for a title that may wrap at its spaces, not for a code such as "Married-civ-spouse"."""
    return LONG if len(text) > 20 and " " in text.strip() else ""


def column_decimals(values, digits: int) -> int | None:
    """The decimals a column's numbers are all shown with: as many as its most precise value needs at `digits`
    significant digits, so that 0.728 and 0.68 read 0.728 and 0.680, and ratings 4.5 and 4.0 read so. None for a
    column of whole numbers (and text)."""
    places = None
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Number) or isinstance(value, int):
            continue
        value = float(value)
        if not math.isfinite(value) or value.is_integer():
            continue
        text = f"{value:.1f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
        if "e" not in text:
            places = max(places or 0, len(text.split(".")[1]) if "." in text else 0)
    return places


def classes(css: str) -> str:
    return f' class="{css}"' if css else ""


def to_html(df: pd.DataFrame, *, index: bool = True, digits: int = 4, formats: dict | None = None, marked=None,
            marked_rows=()) -> str:
    """The table as escaped HTML. `formats`: a format per column ("{:,}"); `marked(value) -> bool` highlights
    cells, `marked_rows` whole rows (by index label)."""
    formats = formats or {}

    def td(value, tag="td", extra="", fmt=None, decimals=None):
        text, css = cell_text(value, digits, fmt, decimals)
        if marked is not None and tag == "td" and marked(value):
            css += " " + MARK
        css = (css + " " + extra).strip()
        scope = ' scope="row"' if tag == "th" else ""           # a row's name, for screen readers
        return f"<{tag}{scope}{classes(css)}>{html.escape(text)}</{tag}>"

    def th(name, dtype):
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        css = " ".join(filter(None, ["num" if is_number else "", long_text(str(name))]))
        return f"<th scope=\"col\"{classes(css)}>{html.escape(str(name))}</th>"

    head = ("<th></th>" if index else "") + "".join(th(name, dtype) for name, dtype in zip(df.columns, df.dtypes))
    column_formats = [formats.get(c) for c in df.columns]
    table = df.to_numpy(dtype=object).tolist()                                      # (itertuples: 3x the time)
    places = [None if f else column_decimals((row[i] for row in table), digits) for i, f in enumerate(column_formats)]
    rows = []
    for name, values in zip(df.index, table):
        extra = MARK if name in marked_rows else ""
        cells = [td(name, "th", extra)] if index else []
        cells += [td(v, extra=extra, fmt=f, decimals=d) for v, f, d in zip(values, column_formats, places)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="l1-table"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def show_table(data, *, where=None, index: bool = True, digits: int = 4, formats: dict | None = None, marked=None,
               marked_rows=(), **grid) -> None:
    """Show `data` (a DataFrame, or what one is made from) in `where` (a column, a container; the page by default):
    as HTML when it is small, else in Streamlit's data grid (`grid`: st.dataframe's own arguments, such as
    column_config, used only there)."""
    where = where or st
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if len(df) <= HTML_ROWS and df.size <= HTML_CELLS:
        where.html(to_html(df, index=index, digits=digits, formats=formats, marked=marked, marked_rows=marked_rows))
        return
    shown = df
    if formats or marked is not None or marked_rows:
        shown = df.style.format({c: f for c, f in (formats or {}).items() if c in df.columns})
        if marked is not None or marked_rows:
            shown = shown.apply(lambda row: [f"background-color: {MARK_COLOUR}; font-weight: bold"
                                             if row.name in marked_rows or (marked is not None and marked(v)) else ""
                                             for v in row], axis=1)
    where.dataframe(shown, width="stretch", hide_index=not index, **grid)
