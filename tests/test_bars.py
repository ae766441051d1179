"""Bar charts drawn as SVG (core/bars.py): well-formed, each bar as long as its value, every label shown as text."""
import math
import xml.etree.ElementTree as ET

import pytest

from core.bars import BLUE, GREY, Series, hbars

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)                  # raises on anything that is not well-formed XML


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if float(r.get("height")) > 12]      # not the legend's squares


def widths(root) -> list[float]:
    return [float(r.get("width")) for r in bars(root)]


def test_each_bar_is_as_long_as_its_value_and_says_it():
    root = parsed(hbars(["a", "b", "c"], [Series("n", [10, 5, 0])], title="Counts", axis="rows"))
    a, b, c = widths(root)
    assert a == pytest.approx(2 * b) and c == 0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[0] == "Counts" and "rows" in texts
    assert {"a", "b", "c", "10", "5", "0"} <= set(texts)
    assert root.get("role") == "img" and "a: 10" in root.get("aria-label")


def test_names_stay_text_and_long_ones_are_cut_but_said_whole():
    name = "<script>alert(1)</script>" + "x" * 40
    svg = hbars([name], [Series("n", [1])], title="<b>t</b>")
    root = parsed(svg)
    assert "<script>" not in svg and "<b>" not in svg
    label = next(t.text for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("<script>"))
    assert label.endswith("…") and len(label) < len(name)
    assert any(name in (t.text or "") for t in root.iter(f"{SVG}title"))            # on hover, whole


def test_series_side_by_side_with_a_legend_and_shares_on_an_axis_to_one():
    root = parsed(hbars(["no", "yes"], [Series("before", [0.9, 0.1], GREY), Series("after", [0.3, 0.7], BLUE)],
                        title="p", upto=1.0, percent=True))
    assert [r.get("fill") for r in bars(root)] == [GREY, BLUE, GREY, BLUE]
    before_no, after_no, before_yes, after_yes = widths(root)
    assert before_no / after_yes == pytest.approx(0.9 / 0.7, rel=1e-2)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"before", "after", "90.0%", "70.0%", "0%", "100%"} <= set(texts)


def test_error_bars_and_values_that_are_not_numbers_draw_without_failing():
    root = parsed(hbars(["a", "b", "c"], [Series("x", [3.0, -1.0, math.nan], errors=[1.0, 0.5, 0.0])], title="t"))
    a, b, c = widths(root)
    assert a > 0 and b == 0 and c == 0
    assert len(list(root.iter(f"{SVG}path"))) >= 3              # the error bar, the axis, its ticks
    parsed(hbars([], [Series("x", [])], title="nothing"))
    with pytest.raises(ValueError):
        hbars(["a"], [Series("x", [1, 2])], title="t")


def test_a_predictions_probabilities_likeliest_on_top_in_red():
    from core.bars import RED, probabilities
    root = parsed(probabilities([0.2, 0.7, 0.1], ["cat", "<i>dog</i>", "bird"]))
    rows = [t.text for t in root.iter(f"{SVG}title")]
    assert rows == ["<i>dog</i>: probability: 70.0%", "cat: probability: 20.0%", "bird: probability: 10.0%"]
    assert [r.get("fill") for r in bars(root)] == [RED, GREY, GREY]
    dog, cat, bird = widths(root)
    assert dog == pytest.approx(3.5 * cat, rel=1e-2) and cat == pytest.approx(2 * bird, rel=1e-2)


def test_long_texts_leave_the_bars_room():
    root = parsed(hbars(["a", "b"], [Series("n", [4, 2], texts=["x" * 60, "y"])], title="t"))
    a, b = widths(root)
    assert a == pytest.approx(2 * b) and a >= 0.3 * 480 - 1
