"""Reading a student's CSV safely, shared by every lesson that takes a table (tabular, collab).

Every problem with a file becomes a `TableError` whose message is a sentence a student can act on; nothing here
lets a bare pandas exception reach a page.
"""
import csv
import io
import os
import re
from dataclasses import dataclass

import pandas as pd

from core.errors import StudentError


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


def looks_like_utf16(data: bytes) -> bool:
    """Excel's 'Unicode text' and some exports: UTF-16, with its byte-order mark or a zero byte after every letter."""
    head = data[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True
    if len(head) < 16:
        return False
    one, other = head[0::2], head[1::2]
    return any(a.count(0) >= 0.9 * len(a) and b.count(0) <= 0.1 * len(b) for a, b in ((one, other), (other, one)))


def read_csv_bytes(data: bytes, name: str = "your file", limits: Limits = Limits()) -> pd.DataFrame:
    """Parse an uploaded CSV, or raise TableError saying what is wrong with it."""
    if len(data) > limits.max_bytes:
        raise TableError(f"{name} is {len(data) / 2**20:.1f} MB; this server accepts CSV files up to "
                         f"{limits.max_bytes / 2**20:.0f} MB. Try a sample of the rows.")
    if not data.strip():
        raise TableError(f"{name} is empty: there is nothing to read.")
    if looks_like_utf16(data):                     # before the test for binary files: every other byte is a zero
        raise TableError(f"{name} is saved as UTF-16 text (Excel calls it 'Unicode Text'), not as a CSV in UTF-8. "
                         "Save it again as 'CSV UTF-8 (comma delimited)' and upload that.")
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
        raise TableError(f"{name} could not be read as a table: {_parse_problem(str(e))}") from None
    if df.shape[1] > limits.max_columns:
        raise TableError(f"{name} has {df.shape[1]} columns; this server accepts up to {limits.max_columns}.")
    if len(df) > limits.max_rows:
        raise TableError(f"{name} has more than {limits.max_rows:,} rows, the most this server trains on. "
                         "Try a sample of the rows.")
    if len(df) == 0:
        raise TableError(f"{name} has a header but no rows of data.")
    swallowed = _lines_in_cells(df)
    if swallowed > max(2, (len(df) + swallowed) // 4):
        raise TableError(f"{name} could not be read as a table: {_runaway_quote(text, swallowed)}")
    if df.shape[1] < 2:
        raise TableError(f"{name} has a single column ('{df.columns[0]}'): we need one column to predict "
                         "and at least one to predict it from. Is the separator a comma?")
    return df


def _lines_in_cells(df: pd.DataFrame) -> int:
    """How many of the file's line breaks ended up inside cells (a quoted value may hold one; a quote never closed
    takes the lines after it into one value, up to the next quote)."""
    inside = 0
    for i in range(df.shape[1]):
        values = df.iloc[:, i]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            inside += int(values.str.count("\n").sum())          # missing cells count as none
    return inside


def _runaway_quote(text: str, swallowed: int) -> str:
    opened = next((n for n, line in enumerate(text.splitlines(), 1) if line.count('"') % 2), None)
    where = f"the quote \" on line {opened}" if opened else "a quote \""
    return (f"{where} is not closed on its line, so the {swallowed:,} lines after it were read as one value. "
            "Close it, or remove it.")


def _parse_problem(message: str) -> str:
    """pandas' tokenizer error in a student's words, with the line to look at (pandas counts its rows from 0)."""
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        return (f"the quote \" on line {int(quote.group(1)) + 1} is never closed, so the rest of the file would be "
                "one cell. Close it, or remove it.")
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        return (f"line {line} has {saw} values where the header has {expected}. Is there a comma inside a value "
                "that is not in quotes?")
    return "usually a quote \" that is never closed, or a row with more values than the header."


# ---- showing a student's cells --------------------------------------------------------------------------------------
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` to show: every text cell, column name and row name that a spreadsheet would run as a formula
    (it starts with = + - @, a tab or a carriage return: '=HYPERLINK(...)') gets a leading apostrophe, OWASP's
    defence against CSV injection. A table on a page can be copied into a spreadsheet (a big one downloaded as CSV
    from its toolbar), and a run's link shows one student's cells to others: what they take away must stay data.
    Numbers are left as they are, written as text too ("-2" is a number to a spreadsheet, "-2+3" a formula)."""
    def cell(value):
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) and not _number(value) \
            else value

    out = df.copy()
    for i, column in enumerate(out.columns):
        values = out.iloc[:, i]
        if isinstance(values.dtype, pd.CategoricalDtype):
            if _starts_like_a_formula(values.cat.categories):
                out.isetitem(i, values.cat.rename_categories(cell))
        elif (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)) and _starts_like_a_formula(values):
            out.isetitem(i, values.map(cell))          # only where needed: a page shows a dozen tables a run
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = [cell(c) for c in out.columns]
    if not isinstance(out.index, pd.MultiIndex) and (out.index.dtype == object or
                                                      pd.api.types.is_string_dtype(out.index.dtype)):
        out.index = [cell(v) for v in out.index]
    return out


def _starts_like_a_formula(values) -> bool:
    return any(isinstance(v, str) and v.startswith(FORMULA_START) for v in values.tolist())


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower().lstrip("+-") not in ("inf", "infinity", "nan")
