"""ui/text.py: a student's text shown as itself, in markdown and in widget labels."""
import pytest

from ui.text import count, plain, widget_label


@pytest.mark.parametrize("name", ["education-num", "hours.per.week", "capital gain (USD)", "Mr O'Neil", "50%"])
def test_a_label_keeps_ordinary_names_as_they_are(name):
    assert widget_label(name) == name               # a screen reader reads the label as the widget's name


@pytest.mark.parametrize("markup, escaped", [
    ("**bold**", r"\*\*bold\*\*"), ("[x](javascript:alert(1))", r"\[x\](javascript\:alert(1))"),
    (":red[red]", r"\:red\[red\]"), ("$x^2$", r"\$x^2\$"), ("`code`", r"\`code\`"), ("<b>b</b>", r"\<b>b\</b>"),
    ("a_b_c", r"a\_b\_c"), ("~~gone~~", r"\~\~gone\~\~"), ("back\\slash", r"back\\slash"),
])
def test_a_label_escapes_what_its_markdown_would_act_on(markup, escaped):
    assert widget_label(markup) == escaped


def test_plain_escapes_every_punctuation_mark_and_keeps_one_line():
    assert plain("a-b\n*c*") == r"a\-b \*c\*"


def test_a_probability_is_never_rounded_to_a_certainty_it_is_not():
    from ui.text import chance
    assert [chance(p) for p in (0.0, 0.0001, 0.004, 0.3, 0.5049, 0.996, 0.9999, 1.0)] == \
        ["0%", "<0.1%", "0.4%", "30%", "50%", "99.6%", ">99.9%", "100%"]


def test_a_gap_in_points_is_the_gap_between_the_percentages_shown():
    from ui.text import points_apart
    assert f"{0.8404:.1%} {0.8366:.1%}" == "84.0% 83.7%"
    assert points_apart(0.8404, 0.8366) == 0.3 and round((0.8404 - 0.8366) * 100, 1) == 0.4
    assert points_apart(0.5, 0.75) == -25.0 and points_apart(0.123, 0.123) == 0.0


def test_a_count_is_singular_only_for_one():
    assert [count(n, "row") for n in (0, 1, 2, 1200)] == ["0 rows", "1 row", "2 rows", "1,200 rows"]
