"""Reading tables: the embedded Adult census, and every way a student's CSV can be broken."""
import numpy as np
import pandas as pd
import pytest
import torch

from core.splits import split_indices
from core.tables import Limits, TableError, read_csv_bytes
from core.tabular.table import ADULT_SPEC, TableSpec, check_spec, guess_spec, load_adult

GOOD = b"age,job,pay\n" + b"".join(f"{20 + i % 40},{'cook' if i % 3 else 'pilot'},{'hi' if i % 4 else 'lo'}\n"
                                  .encode() for i in range(60))


def test_embedded_adult_is_the_uci_training_split():
    df = load_adult("datasets/adult")
    assert df.shape == (32561, 15)
    assert list(df.columns)[-1] == "salary" and set(df["salary"]) == {">=50k", "<50k"}
    missing = df.isna().sum()
    assert missing[["workclass", "occupation", "native-country"]].gt(0).all()   # UCI's '?'
    assert missing.drop(["workclass", "occupation", "native-country"]).eq(0).all()
    check_spec(df, ADULT_SPEC)


def test_adult_sample_layout_is_read_too(tmp_path):
    # fast.ai's ADULT_SAMPLE keeps a space after each comma inside values, and has gaps in numbers
    (tmp_path / "adult.csv").write_text("age,workclass,education-num,salary\n"
                                        "49, Private,,>=50k\n44, ?,14.0,<50k\n38, Self-emp-inc,9.0,<50k\n")
    df = load_adult(tmp_path)
    assert df["workclass"].tolist() == ["Private", "?", "Self-emp-inc"]
    assert df["education-num"].isna().tolist() == [True, False, False]


def test_a_good_csv_reads():
    df = read_csv_bytes(GOOD)
    assert df.shape == (60, 3)
    assert read_csv_bytes(GOOD.replace(b",", b";")).shape == (60, 3)          # semicolons, as Excel in Europe


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"a,b\n", "no rows"),
    (b"a,b\n1,\"unclosed\n2,3\n", "could not be read.*quote \" on line 2 is never closed"),
    (b"a,b\n1,2\n3,4,5,6\n", "could not be read.*line 3 has 4 values where the header has 2"),
    (b"age,job,pay\n30,\"teacher,1\n" + b"".join(b"%d,job,%d\n" % (i, i) for i in range(40)) + b"41,\"nurse\",2\n",
     "could not be read.*quote \" on line 2 is not closed on its line, so the 41 lines after it were read as one"),
    ("name,pay\nJos\xe9,1\n".encode("latin-1"), "not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"just_one_column\n1\n2\n", "single column"),
])
def test_broken_files_get_a_sentence(data, words):
    with pytest.raises(TableError, match=words):
        read_csv_bytes(data, "my.csv")


def test_a_value_over_two_lines_in_quotes_is_still_a_value():
    df = read_csv_bytes(b'id,note,label\n1,"two\nlines",a\n' + b"".join(b"%d,n,b\n" % i for i in range(20)))
    assert df.shape == (21, 3) and df.note[0] == "two\nlines"


def test_server_limits():
    with pytest.raises(TableError, match="more than 10 rows"):
        read_csv_bytes(GOOD, limits=Limits(max_rows=10))
    with pytest.raises(TableError, match="2 columns|3 columns"):
        read_csv_bytes(GOOD, limits=Limits(max_columns=2))
    with pytest.raises(TableError, match="MB"):
        read_csv_bytes(GOOD, limits=Limits(max_bytes=100))


def test_spec_problems():
    df = read_csv_bytes(GOOD)
    check_spec(df, TableSpec("pay", ["job"], ["age"]))
    with pytest.raises(TableError, match="'salary'.*not in the table"):
        check_spec(df, TableSpec("salary", ["job"], ["age"]))
    with pytest.raises(TableError, match="single value"):
        check_spec(df.assign(pay="hi"), TableSpec("pay", ["job"], ["age"]))
    with pytest.raises(TableError, match="'job' holds text such as 'pilot'"):
        check_spec(df, TableSpec("pay", [], ["job"]))
    with pytest.raises(TableError, match="at least one input"):
        check_spec(df, TableSpec("pay", [], []))
    with pytest.raises(TableError, match="at least 50"):
        check_spec(df.head(20), TableSpec("pay", ["job"], ["age"]))
    with pytest.raises(TableError, match="different values"):
        check_spec(df.assign(pay=np.arange(60)), TableSpec("pay", ["job"], []))
    with pytest.raises(TableError, match="'age' has 40 different values.*is it an id"):
        check_spec(df, TableSpec("pay", ["age"], []), Limits(max_categories=30))
    warnings = check_spec(df.assign(pay=df["pay"].where(df.index > 2)), TableSpec("pay", ["job"], ["age"]))
    assert "3 rows" in warnings[0]


def test_guess_spec():
    df = pd.DataFrame({"id": [f"row{i}" for i in range(100)], "city": ["a", "b"] * 50,
                       "rooms": [1, 2, 3, 4] * 25, "price": np.linspace(1, 2, 100), "year": range(1900, 2000),
                       "sold": ["y", "n"] * 50})
    spec = guess_spec(df)
    assert spec.target == "sold"
    assert spec.cat_names == ["city", "rooms"]            # text, and an integer with few values
    assert spec.cont_names == ["price", "year"]           # a float, and an integer with many values
    assert "id" not in spec.cat_names + spec.cont_names    # every value different: an id, left out


def test_split_is_fastais_random_splitter():
    torch.manual_seed(42)                                 # fastai: RandomSplitter(valid_pct=0.2, seed=42)
    order = torch.randperm(103).tolist()
    train, valid = split_indices(103, 0.2, 42)
    assert valid == order[:20] and train == order[20:]
    assert sorted(train + valid) == list(range(103))
