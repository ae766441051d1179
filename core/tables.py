"""Reading a student's CSV safely, shared by every lesson that takes a table (tabular, collab).

Every problem with a file becomes a `TableError` whose message is a sentence a student can act on; nothing here
lets a bare pandas exception reach a page.
"""
import csv
import io
import os
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
