"""The figures every lesson shares (core/plots.py) show the numbers they are given."""
import pytest

from core import plots

LAYERS = ["body.0", "head"]


def weight_stats(phases: dict[int, str]) -> list[dict]:
    """A run's weight statistics: per logged step, per layer, how far its weights had moved (the body only once
    unfrozen)."""
    return [{"step": step, "layer": layer, "phase": phase,
             "weight_change": 0.0 if layer == "body.0" and phase == "frozen" else step / 10}
            for step, phase in phases.items() for layer in LAYERS]


def test_phase_bars_show_each_phase_at_its_last_step():
    stats = weight_stats({1: "frozen", 2: "frozen", 3: "unfrozen", 4: "unfrozen"})
    frozen, end = plots.phase_bars(stats, LAYERS)
    assert (frozen["name"], end["name"]) == ("after the frozen epoch(s)", "at the end of training")
    assert frozen["x"] == LAYERS and frozen["y"] == [0.0, 0.2] and end["y"] == [0.4, 0.4]
    assert plots.unfrozen_from(stats) == 2.5                                         # between steps 2 and 3


def test_a_run_without_a_frozen_phase_has_one_bar_per_layer_and_no_unfreeze_line():
    stats = weight_stats({1: "one_cycle", 2: "one_cycle"})
    [end] = plots.phase_bars(stats, LAYERS)
    assert end["name"] == "at the end of training" and end["y"] == [0.2, 0.2]
    assert plots.unfrozen_from(stats) is None
    assert plots.unfrozen_from(weight_stats({1: "unfrozen"})) is None      # unfrozen from the start: no line
    assert plots.phase_bars([], LAYERS) == []


def test_a_figure_built_whole_is_the_one_plotly_builds_step_by_step():
    """figure, subplot_layout and vline (fast) against make_subplots, add_trace and add_vline (plotly's own)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    grid = dict(column_widths=[0.7, 0.3], horizontal_spacing=0.1, subplot_titles=["left", "right"])
    slow = make_subplots(rows=1, cols=2, **grid)
    slow.add_trace(go.Bar(x=[1, 2], y=[3, 4], name="bars"), row=1, col=1)
    slow.add_trace(go.Scatter(x=[1, 2], y=[5, 6], name="line"), row=1, col=2)
    slow.add_vline(x=1.5, line=dict(dash="dash"), row=1, col=2, annotation_text="here", annotation_position="top left")
    slow.update_yaxes(type="log", row=1, col=2)
    slow.update_layout(height=300, template=plots.TEMPLATE)

    layout = plots.subplot_layout(1, 2, **grid)
    shape, note = plots.vline(1.5, dict(dash="dash"), "here", "top left", axes=("x2", "y2"))
    layout["yaxis2"].update(type="log")
    fast = plots.figure([dict(type="bar", x=[1, 2], y=[3, 4], name="bars", xaxis="x", yaxis="y"),
                         dict(type="scatter", x=[1, 2], y=[5, 6], name="line", xaxis="x2", yaxis="y2")],
                        height=300, shapes=[shape], annotations=layout.pop("annotations") + [note], **layout)
    assert fast.to_plotly_json() == slow.to_plotly_json()


def test_subplot_layout_hands_out_a_fresh_layout_each_time():
    first = plots.subplot_layout(1, 2, subplot_titles=["a", "b"])
    first["yaxis"]["type"] = "log"
    first["annotations"].clear()
    again = plots.subplot_layout(1, 2, subplot_titles=["a", "b"])
    assert "type" not in again["yaxis"] and [a["text"] for a in again["annotations"]] == ["a", "b"]


def test_a_vertical_line_with_its_note_where_add_vline_puts_them():
    import plotly.graph_objects as go
    for position in ("top", "top right", "top left"):
        slow = go.Figure(go.Scatter(x=[0, 2], y=[0, 1]))
        slow.add_vline(x=1, line=dict(color="red"), annotation_text="note", annotation_position=position)
        shape, note = plots.vline(1, dict(color="red"), "note", position)
        fast = go.Figure(go.Scatter(x=[0, 2], y=[0, 1]), layout=dict(shapes=[shape], annotations=[note]))
        assert fast.to_plotly_json() == slow.to_plotly_json(), position
    assert plots.vline(1, dict(color="red"))[1] is None
    with pytest.raises(ValueError, match="bottom right"):           # add_vline would put it below: not drawn wrong
        plots.vline(1, dict(color="red"), "note", "bottom right")


def test_the_same_figure_asked_for_again_is_the_one_built_before():
    import datetime

    import numpy as np
    xs = np.arange(5.0)
    squares = lambda x, **layout: plots.figure([dict(type="scatter", x=x, y=xs ** 2)], **{"title": "squares", **layout})
    once = squares(xs)
    again = squares(xs.copy())                                      # asked for twice: kept from now on
    assert again is not once and squares(xs) is again
    moved = xs.copy()
    moved[3] = 3.5                                                  # one number changed: a new figure, showing it
    other = squares(moved)
    assert squares(moved) is not other and list(other.data[0].x) == [0, 1, 2, 3.5, 4]
    assert squares(xs, title="cubes") is not again and squares(xs.astype(np.float32)) is not again
    day = [datetime.date(2026, 12, 6)]                              # a value without a digest: built, never kept
    days = [plots.figure([dict(type="bar", x=day, y=[1])]) for _ in range(3)]
    assert days[1] is not days[2] and list(days[2].data[0].y) == [1]


def test_figures_kept_are_bounded_and_frames_asked_for_once_are_not_kept(monkeypatch):
    monkeypatch.setattr(plots, "KEEP_FIGURES", 3)
    bar = lambda n: plots.figure([dict(type="bar", x=[0], y=[n])])
    built = [[bar(n), bar(n)][1] for n in range(5)]
    assert len(plots._BUILT) == 3
    assert bar(4) is built[4]
    assert bar(0) is not built[0]                                   # the oldest went first
    frames = [bar(1000 + n) for n in range(50)]                     # an animation: each frame once
    assert bar(4) is built[4] and not any(f is bar(1000 + n) for n, f in enumerate(frames))


def test_an_epoch_tables_times_share_one_format():
    from core.plots import epoch_table
    rows = [dict(epoch=0, train_loss=0.5, time=34.14), dict(epoch=1, train_loss=0.4, time=66.0)]
    assert epoch_table(rows)["time"].tolist() == ["00:34", "01:06"]                   # fastai's, once past a minute
    assert epoch_table(rows[:1])["time"].tolist() == ["34.1 s"]                       # tenths, while none is


def test_a_log_axis_of_a_decade_or_so_is_ticked_at_1_2_and_5():
    from core.plots import log_ticks
    assert log_ticks([0.4, 3.1]) == dict(tickvals=[0.2, 0.5, 1.0, 2.0, 5.0], ticktext=["0.2", "0.5", "1", "2", "5"])
    assert log_ticks([1e-6, 10]) == {} and log_ticks([0.0, float("nan")]) == {}       # decades, or nothing to tick


def test_bigger_text_grows_every_size_it_finds_and_plotlys_own_leaving_the_figure_alone():
    built = plots.figure([dict(type="bar", y=[1, 2], textfont=dict(size=[10, 11]))],
                         title=dict(text="t", font=dict(size=17)), xaxis=dict(tickfont=dict(size=10)),
                         annotations=[dict(text="a", font=dict(size=8)), dict(text="b")], margin=dict(l=40, t=20))
    grown = plots.bigger_text(built, 1.5)
    assert grown.layout.font.size == 18                                  # plotly's 12 px where none is named
    assert (grown.layout.title.font.size, grown.layout.xaxis.tickfont.size) == (25.5, 15)
    assert grown.layout.annotations[0].font.size == 12 and grown.layout.annotations[1].font.size is None
    assert tuple(grown.data[0].textfont.size) == (15, 16.5)
    assert (grown.layout.margin.l, grown.layout.margin.t, grown.layout.margin.b) == (60, 30, None)   # room for it
    assert built.layout.font.size is None and built.layout.title.font.size == 17      # shared figures untouched
