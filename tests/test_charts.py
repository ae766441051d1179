"""Charts (ui/charts.py) are drawn once the student scrolls near them: until then a stand-in of the chart's height,
then the chart in its place, kept while the page reruns. A chart that answers clicks waits too, and its selection
comes back once drawn."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from core.lessons import list_lessons
from tests.helpers import charts, element_key, open_page, stand_ins
from ui.charts import NARROW_PX, PLOTLY_HEIGHT, gate_key
from ui.present import TEXT_SCALE


def script():
    import plotly.graph_objects as go
    import streamlit as st

    from ui.charts import show_chart
    n = st.number_input("bars", value=3)
    show_chart(go.Figure(go.Bar(y=list(range(n))), layout=dict(height=321)), key="bars")
    left, right = st.columns(2)
    show_chart(go.Figure(go.Scatter(y=[1, 2])), where=left, key="line")
    st.session_state.clicked = show_chart(go.Figure(go.Bar(y=[5])), where=right, key="click", on_select="rerun")


def drawn(at) -> list[str]:
    return [element_key(e) for e in at.get("plotly_chart")]


def test_a_chart_is_a_stand_in_of_its_height_until_seen_then_drawn_in_its_place():
    at = AppTest.from_function(script).run()
    assert not at.exception
    assert stand_ins(at) == {gate_key("bars"): {"height": 321, "seen": False},
                             gate_key("line"): {"height": PLOTLY_HEIGHT, "seen": False},
                             gate_key("click"): {"height": PLOTLY_HEIGHT, "seen": False}}
    assert drawn(at) == []

    at.session_state[gate_key("line")] = {"seen": True}        # what the stand-in says when scrolled near
    at.run()
    assert drawn(at) == ["line"]
    assert stand_ins(at)[gate_key("line")] == {"height": 0, "seen": True}
    assert stand_ins(at)[gate_key("bars")]["seen"] is False


def test_a_chart_that_answers_clicks_gives_its_selection_once_drawn():
    at = AppTest.from_function(script).run()
    assert at.session_state.clicked is None            # not drawn: nothing selected
    at.session_state[gate_key("click")] = {"seen": True}
    at.run()
    assert drawn(at) == ["click"]
    assert at.session_state.clicked is not None and at.session_state.clicked.selection.points == []


def test_a_chart_whose_key_changes_keeps_its_place_seen():
    def changing():
        import plotly.graph_objects as go
        import streamlit as st

        from ui.charts import show_chart
        n = st.number_input("version", value=1)
        show_chart(go.Figure(go.Bar(y=[n])), key=f"grid_{n}", place="grid", on_select="rerun")

    at = AppTest.from_function(changing).run()
    at.session_state[gate_key("grid")] = {"seen": True}
    at.run()
    at.number_input[0].set_value(2).run()              # a fresh chart (its selection forgotten), still drawn
    assert drawn(at) == ["grid_2"]
    assert list(stand_ins(at)) == [gate_key("grid")]


def test_a_chart_seen_stays_drawn_and_follows_the_page():
    at = AppTest.from_function(script).run()
    at.session_state[gate_key("bars")] = {"seen": True}
    at.run()
    at.number_input[0].set_value(5).run()
    bars = next(e for e in at.get("plotly_chart") if element_key(e) == "bars")
    assert json.loads(bars.proto.spec)["data"][0]["y"] == [0, 1, 2, 3, 4]
    assert stand_ins(at)[gate_key("bars")]["seen"] is True


def test_the_helper_draws_every_chart_as_after_scrolling_the_whole_page():
    at = AppTest.from_function(script).run()
    assert sorted(element_key(e) for e in charts(at)) == ["bars", "click", "line"]


@pytest.mark.parametrize("lesson", list_lessons(), ids=lambda lesson: lesson.key)
def test_every_chart_of_a_lesson_is_drawn_once_the_page_is_scrolled_through(lesson, service, shipped):
    at = open_page(lesson.page)                        # the shipped ready-made run: its results and their charts
    replay = [g for g in at.button_group if g.key.startswith("replay-speed-")]
    if replay:                                         # it replays as it trained: its results come at the end
        replay[0].set_value("instant").run()
    waiting = [key for key, state in stand_ins(at).items() if not state["seen"]]
    assert not at.get("plotly_chart"), "a Plotly chart waits for the student to scroll near it"
    shown = {element_key(e) for e in charts(at)}
    assert not at.exception, [e.value for e in at.exception]
    named = [gate.removesuffix(gate_key("")) for gate in waiting]   # a stand-in is named by its chart's key or
    assert all(any(key.startswith(name) for key in shown) for name in named), (named, shown)  # `place`
    assert not [key for key, state in stand_ins(at).items() if not state["seen"]]


def test_a_chart_with_a_narrow_figure_draws_it_where_the_stand_in_measured_a_narrow_place():
    def narrow_or_not():
        import plotly.graph_objects as go

        from ui.charts import show_chart
        show_chart(go.Figure(go.Bar(y=[1]), layout=dict(height=300)), key="c",
                   narrow=lambda: go.Figure(go.Bar(y=[1]), layout=dict(height=600)))

    def height(at):
        return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["height"]

    at = AppTest.from_function(narrow_or_not).run()
    assert stand_ins(at)[gate_key("c")]["height"] == 300               # the stand-in holds the usual figure's place
    for width, expected in [(900, 300), (NARROW_PX - 1, 600), (None, 300)]:    # None: a stand-in that did not say
        at.session_state[gate_key("c")] = {"seen": True, "width": width}
        at.run()
        assert height(at) == expected, width


def test_presentation_mode_draws_a_charts_text_as_much_bigger_as_the_pages():
    def titled():
        import plotly.graph_objects as go

        from ui.charts import show_chart
        show_chart(go.Figure(go.Bar(y=[1]), layout=dict(title=dict(text="t", font=dict(size=20)))), key="c")

    def sizes(at):
        layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
        return layout.get("font", {}).get("size"), layout["title"]["font"]["size"]

    at = AppTest.from_function(titled)
    at.session_state[gate_key("c")] = {"seen": True}
    assert sizes(at.run()) == (None, 20)                               # plotly's own 12 px, and the title's 20
    at.session_state["present"] = True
    assert sizes(at.run()) == pytest.approx((12 * TEXT_SCALE, 20 * TEXT_SCALE))
