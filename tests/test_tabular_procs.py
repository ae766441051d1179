"""Categorify, FillMissing, Normalize on hand-made frames with answers worked out by hand or by numpy."""
import json

import numpy as np
import pandas as pd
import pytest

from core.tabular.procs import NA, Categorify, FillMissing, Normalize, TabularProcs

TRAIN = pd.DataFrame({
    "job": ["cook", "pilot", "cook", None],
    "age": [20.0, np.nan, 40.0, 100.0],
    "hours": [10, 20, 30, 40],
    "y": ["no", "yes", "no", "yes"],
})
VALID = pd.DataFrame({
    "job": ["pilot", "astronaut", None],          # astronaut: never seen in training
    "age": [np.nan, 30.0, 20.0],                   # a gap in the validation set
    "hours": [np.nan, 20, 25],                     # a gap where training had none
    "y": ["yes", "no", "no"],
})


def test_categorify_vocab_and_codes():
    proc = Categorify(["job"]).setup(TRAIN)
    assert proc.vocab["job"] == [NA, "cook", "pilot"]              # #na# first, then sorted
    assert proc(TRAIN)["job"].tolist() == [1, 2, 1, 0]            # missing → 0
    assert proc(VALID)["job"].tolist() == [2, 0, 0]               # unseen category → 0 (#na#)
    assert proc.decode(proc(VALID))["job"].tolist() == ["pilot", NA, NA]


def test_categorify_numbers_written_differently_are_one_category():
    proc = Categorify(["n"]).setup(pd.DataFrame({"n": [3, 1, 2, 10]}))
    assert proc.vocab["n"] == [NA, "1", "2", "3", "10"]            # numeric order, not text order
    assert proc(pd.DataFrame({"n": [3.0, "10", 7, np.nan]}))["n"].tolist() == [3, 4, 0, 0]


def test_fill_missing_uses_the_training_median_and_adds_a_flag():
    proc = FillMissing(["age", "hours"]).setup(TRAIN)
    assert proc.medians == {"age": 40.0, "hours": 25.0}           # median of 20, 40, 100; of 10..40
    assert proc.flag_names == ["age_na"]                           # only 'age' had gaps in training
    train = proc(TRAIN)
    assert train["age"].tolist() == [20.0, 40.0, 40.0, 100.0]
    assert train["age_na"].tolist() == [False, True, False, False]
    valid = proc(VALID)
    assert valid["age"].tolist() == [40.0, 30.0, 20.0]             # the TRAIN median, not the valid one (25)
    assert valid["age_na"].tolist() == [True, False, False]
    assert valid["hours"].tolist() == [25.0, 20.0, 25.0]           # filled, without a flag the model never saw
    assert "hours_na" not in valid


def test_normalize_matches_numpy_with_training_statistics():
    filled = FillMissing(["age", "hours"]).setup(TRAIN)
    proc = Normalize(["age", "hours"]).setup(filled(TRAIN))
    age = np.array([20.0, 40.0, 40.0, 100.0])
    assert proc.means["age"] == pytest.approx(age.mean())
    assert proc.stds["age"] == pytest.approx(age.std(ddof=0) + 1e-7)
    out = proc(filled(VALID))
    expected = (np.array([40.0, 30.0, 20.0]) - age.mean()) / (age.std() + 1e-7)
    np.testing.assert_allclose(out["age"], expected)
    assert proc(filled(TRAIN))["hours"].mean() == pytest.approx(0.0, abs=1e-9)


def test_constant_column_does_not_divide_by_zero():
    proc = Normalize(["c"]).setup(pd.DataFrame({"c": [5.0, 5.0, 5.0]}))
    assert np.isfinite(proc(pd.DataFrame({"c": [5.0, 6.0]}))["c"]).all()


def test_pipeline_tensors_and_json_round_trip():
    procs = TabularProcs(["job"], ["age", "hours"], "y").setup(TRAIN)
    assert procs.cat_names == ["job", "age_na"]                    # the flag becomes a categorical column
    assert procs.categorify.vocab["age_na"] == [NA, "False", "True"]
    assert procs.classes == ["no", "yes"]
    x_cat, x_cont, y = procs.tensors(VALID)
    assert x_cat.tolist() == [[2, 2], [0, 1], [0, 1]]
    assert y.tolist() == [1, 0, 0]
    assert x_cont.dtype.is_floating_point and x_cont.shape == (3, 2)

    again = TabularProcs.from_state(json.loads(json.dumps(procs.state())))
    for a, b in zip(procs.tensors(VALID), again.tensors(VALID)):
        assert a.equal(b)


def test_unseen_target_class_is_marked():
    procs = TabularProcs(["job"], [], "y").setup(TRAIN)
    assert procs.encode_target(pd.Series(["yes", "maybe"])).tolist() == [1, -1]
