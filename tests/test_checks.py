import math

import pytest

from core.checks import batch_size, flag, number, numbers
from core.errors import StudentError


@pytest.mark.parametrize("value, whole, expected", [(3, False, 3.0), (2.0, True, 2), (0.5, False, 0.5), (10, True, 10)])
def test_a_number_in_range_comes_back_as_its_kind(value, whole, expected):
    got = number(value, "x", 0, 10, whole)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [True, "3", None, [1], {"a": 1}, math.nan, math.inf, -1, 11, 2.5])
def test_anything_else_is_refused_with_a_sentence_naming_the_setting_and_its_range(value):
    with pytest.raises(StudentError, match=r"^The setting 'epochs' must be a whole number from 0 to 10 \(this run"):
        number(value, "epochs", 0, 10, whole=True)


def test_whole_bounds_are_written_with_thousands_and_fractional_ones_as_they_are():
    with pytest.raises(StudentError, match="from 0 to 2,147,483,647"):
        number(-1, "seed", 0, 2**31 - 1, whole=True)
    with pytest.raises(StudentError, match="from 1e-06 to 1"):
        number(2, "lr", 1e-6, 1.0)


def test_a_crafted_value_is_cut_short_in_the_sentence():
    with pytest.raises(StudentError) as refused:
        number("x" * 10_000, "seed", 0, 1, whole=True)
    assert len(str(refused.value)) < 200


def test_numbers_checks_only_the_named_settings_and_keeps_the_rest():
    cfg = numbers({"lr": 1, "epochs": 3.0, "name": "kept"}, {"lr": (0, 1), "epochs": (1, 9)}, whole=("epochs",))
    assert cfg == {"lr": 1.0, "epochs": 3, "name": "kept"} and isinstance(cfg["epochs"], int)


def test_flag_is_true_or_false_only():
    assert flag(False, "baseline") is False
    with pytest.raises(StudentError, match="'baseline' must be true or false"):
        flag(1, "baseline")


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (32, 32), (256.0, 256)])
def test_a_batch_size_is_auto_or_a_whole_number_in_range(value, expected):
    assert batch_size(value, high=256) == expected and type(batch_size(value, high=256)) is type(expected)


@pytest.mark.parametrize("value", ["AUTO", "32", 0, 257, 2.5, True, None, ["auto"]])
def test_any_other_batch_size_is_refused_with_a_sentence_that_offers_auto(value):
    with pytest.raises(StudentError, match=r"^The setting 'bs' must be 'auto' or a whole number from 1 to 256 "):
        batch_size(value, high=256)


@pytest.mark.parametrize("check", ["vision", "segmentation"])
def test_the_lessons_with_a_batch_size_check_it_the_shared_way(check):
    from core.segmentation.jobs import check_config
    from core.vision.train import settings
    apply, high = {"vision": (settings, 1024), "segmentation": (check_config, 256)}[check]
    assert apply({"bs": 16})["bs"] == 16 and apply({})["bs"] == "auto"
    with pytest.raises(StudentError, match=f"'bs' must be 'auto' or a whole number from 1 to {high:,} "):
        apply({"bs": high + 1})
