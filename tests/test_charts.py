"""Charts (ui/charts.py) are drawn once the student scrolls near them: until then a stand-in of the chart's height,
then the chart in its place, kept while the page reruns. A chart that answers clicks is drawn at once."""
import json

from streamlit.testing.v1 import AppTest

from tests.helpers import charts
from ui.charts import GATE_NAME, PLOTLY_HEIGHT, gate_key


def script():
    import plotly.graph_objects as go
    import streamlit as st

    from ui.charts import show_chart
    n = st.number_input("bars", value=3)
    show_chart(go.Figure(go.Bar(y=list(range(n))), layout=dict(height=321)), key="bars")
    left, right = st.columns(2)
    show_chart(go.Figure(go.Scatter(y=[1, 2])), where=left, key="line")
    st.session_state.clicked = show_chart(go.Figure(go.Bar(y=[5])), where=right, key="click", on_select="rerun")


def stand_ins(at) -> dict[str, dict]:
    return {e.proto.id.split("-", 2)[2]: json.loads(e.proto.json) for e in at.get("bidi_component")
            if e.proto.component_name == GATE_NAME}


def drawn(at) -> list[str]:
    return [e.proto.id.split("-", 2)[2] for e in at.get("plotly_chart")]


def test_a_chart_is_a_stand_in_of_its_height_until_seen_then_drawn_in_its_place():
    at = AppTest.from_function(script).run()
    assert not at.exception
    assert stand_ins(at) == {gate_key("bars"): {"height": 321, "seen": False},
                             gate_key("line"): {"height": PLOTLY_HEIGHT, "seen": False}}
    assert drawn(at) == ["click"]                      # answers clicks: drawn at once, its selection read
    assert at.session_state.clicked is not None

    at.session_state[gate_key("line")] = {"seen": True}        # what the stand-in says when scrolled near
    at.run()
    assert sorted(drawn(at)) == ["click", "line"]
    assert stand_ins(at)[gate_key("line")] == {"height": 0, "seen": True}
    assert stand_ins(at)[gate_key("bars")]["seen"] is False


def test_a_chart_seen_stays_drawn_and_follows_the_page():
    at = AppTest.from_function(script).run()
    at.session_state[gate_key("bars")] = {"seen": True}
    at.run()
    at.number_input[0].set_value(5).run()
    bars = next(e for e in at.get("plotly_chart") if e.proto.id.endswith("bars"))
    assert json.loads(bars.proto.spec)["data"][0]["y"] == [0, 1, 2, 3, 4]
    assert stand_ins(at)[gate_key("bars")]["seen"] is True


def test_the_helper_draws_every_chart_as_after_scrolling_the_whole_page():
    at = AppTest.from_function(script).run()
    assert sorted(e.proto.id.split("-", 2)[2] for e in charts(at)) == ["bars", "click", "line"]
