import math
import re
import xml.etree.ElementTree as ET

import numpy as np

from core.basics import figures, quadratic
from core.drawings import ticks
from core.lines import LEFT, TOP, Line, chart

NS = "{http://www.w3.org/2000/svg}"


def parsed(drawing: str):
    return ET.fromstring(drawing)


def paths(root, colour: str) -> list[str]:
    return [p.get("d") for p in root.iter(f"{NS}path") if p.get("stroke") == colour and p.get("fill") == "none"]


def points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)]


def test_a_line_goes_through_its_points_and_up_is_up():
    root = parsed(chart([Line("rising", [0, 1, 2], [0, 1, 4], colour="#123456")]))
    (d,) = paths(root, "#123456")
    xy = points(d)
    assert len(xy) == 3 and d.count("M") == 1
    assert xy[0][0] < xy[1][0] < xy[2][0]                       # left to right
    assert xy[0][1] > xy[1][1] > xy[2][1]                       # a bigger value is higher on the page (smaller y)
    gap_01, gap_12 = xy[0][1] - xy[1][1], xy[1][1] - xy[2][1]
    assert math.isclose(gap_12 / gap_01, 3.0, rel_tol=0.02)     # to scale: 1 → 4 is three times 0 → 1


def test_a_missing_or_infinite_value_breaks_the_line_and_points_are_dots():
    root = parsed(chart([Line("errors", [0, 0, None, 1, 1], [0, 1, None, 2, float("inf")], colour="#aa0000"),
                         Line("data", [0, 1, 2], [1, 2, 3], colour="#00aa00", points=True)]))
    (d,) = paths(root, "#aa0000")
    assert d.count("M") == 2 and len(points(d)) == 3             # two pieces: (0,0)-(0,1), then (1,2) alone
    dots = [c for c in root.iter(f"{NS}circle") if c.get("fill") == "#00aa00"]
    assert len(dots) == 4                                        # three points, one in the legend
    assert not paths(root, "#00aa00")                            # points have no line


def test_a_fixed_range_clips_what_leaves_it_and_ticks_are_round():
    drawing = chart([Line("wild", [0, 1], [-100, 100])], y_range=(-2, 2))
    root = parsed(drawing)
    (plot,) = root.findall(f"{NS}svg")                          # the plot's own viewport cuts what leaves it
    x, y, w, h = (float(v) for v in plot.get("viewBox").split())
    assert (x, y) == (LEFT, TOP) and (float(plot.get("width")), float(plot.get("height"))) == (w, h)
    assert plot.get("overflow") == "hidden" and plot.find(f"{NS}path") is not None
    tick_texts = [t.text for t in root.iter(f"{NS}text") if t.get("text-anchor") == "end" and t.text]
    assert {"-2", "-1", "0", "1", "2"} <= set(tick_texts)


def test_a_log_scale_leaves_out_what_it_cannot_draw_and_ticks_at_powers_of_ten():
    root = parsed(chart([Line("loss", range(5), [100, 10, 1, 0, -1], colour="#0a0a0a")], log_y=True))
    (d,) = paths(root, "#0a0a0a")
    xy = points(d)
    assert len(xy) == 3
    assert math.isclose(xy[1][1] - xy[0][1], xy[2][1] - xy[1][1], rel_tol=0.01)      # each tenfold the same step
    labels = {t.text for t in root.iter(f"{NS}text") if t.get("text-anchor") == "end"}
    assert {"1", "10", "100"} <= labels


def test_a_log_scale_shorter_than_a_tenfold_still_has_numbers_at_their_heights():
    def marks(values):
        root = parsed(chart([Line("loss", range(len(values)), values)], log_y=True))
        return {t.text: float(t.get("y")) for t in root.iter(f"{NS}text") if t.get("text-anchor") == "end"}
    assert set(marks([0.65, 0.5, 0.4, 0.31])) == {"0.4", "0.5", "0.6"}          # no 1-2-5 mark but 0.5: round ones
    assert set(marks([7.0, 3.0, 1.5])) == {"2", "5"}
    found = marks([0.65, 0.5, 0.4, 0.31])
    step_45, step_56 = found["0.4"] - found["0.5"], found["0.5"] - found["0.6"]
    assert math.isclose(step_45 / step_56, math.log(5 / 4) / math.log(6 / 5), rel_tol=0.02)    # on the log scale


def test_text_is_escaped_and_said_to_a_screen_reader():
    drawing = chart([Line("<b>bold</b> & co", [0, 1], [1, 2])], title="MSE <script>", about="a fit")
    root = parsed(drawing)                                       # still well-formed XML
    assert "<script>" not in drawing and "<b>" not in drawing
    label = root.get("aria-label")
    assert label.startswith("MSE <script>. a fit.") and "<b>bold</b> & co" in label


def test_no_values_at_all_still_draws_an_empty_chart():
    root = parsed(chart([Line("nothing", [], [])], title="empty"))
    assert root.tag == f"{NS}svg"


def test_ticks_are_round_steps_and_never_minus_zero():
    assert ticks(-6, 6) == [-6, -4, -2, 0, 2, 4, 6] and str(ticks(-6, 6)[3]) == "0.0"
    assert ticks(0.5, 0.7) == [0.5, 0.55, 0.6, 0.65, 0.7]
    assert ticks(-2.3, 2.2) == [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]


def test_the_lessons_fit_shows_its_loss_its_points_and_its_curve():
    problem = quadratic.make_problem(42)
    drawing = figures.quadratic_figure(problem, (1.0, 0.5, -0.3), show_true=True, kind="MAE")
    root = parsed(drawing)
    loss = quadratic.loss((1.0, 0.5, -0.3), problem.x, problem.y, "MAE")
    assert f"MAE = {loss:.3f}" in "".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert len([c for c in root.iter(f"{NS}circle") if c.get("fill") == figures.POINTS]) == len(problem.x) + 1
    legend = [t.text for t in root.iter(f"{NS}text")]
    assert "1.00x² + 0.50x − 0.30" in legend and any(str(t).startswith("true:") for t in legend)
    errors = paths(root, figures.ORANGE)[0]
    assert errors.count("M") == len(problem.x)                   # one segment per point


def test_the_loss_curve_says_its_last_value_and_turns_red_when_it_diverges():
    losses = list(np.geomspace(5, 0.01, 30))
    calm = figures.loss_curve_figure(losses, "MSE")
    assert f"MSE at step 29: {losses[-1]:.4g}" in calm and figures.GREEN in calm
    wild = figures.loss_curve_figure([1.0, 10.0, 1e6, float("inf")], "MSE", diverged=True)
    assert figures.RED in wild and "diverged" in parsed(wild).get("aria-label")
    assert "MSE at step 2: 1e+06" in wild                          # the last value it could draw
