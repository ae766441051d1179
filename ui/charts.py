"""Every lesson's Plotly charts, drawn one way: across the width of where they go, without Plotly's own toolbar
(Streamlit's, on hover, has full screen and download), and only once the student scrolls near them.

Why wait: a lesson's charts sit below its first screen, and Plotly was the biggest part of the browser's work when a
lesson opened (~60-70 ms of its main thread a chart, 4-7 charts a lesson; a fresh page with five charts kept the main
thread busy 1.46 s, 0.40 s without them, Plotly's own loading included). Until then a chart is a stand-in of its
height (ui/assets/chart_gate.js) that says when it comes within a screen of the window; its fragment then reruns
alone and draws the chart in its place. Once drawn, a chart stays drawn while the student is on the page. A chart
that answers clicks (`on_select`) is drawn at once: its selection is read by the page as it runs."""
import streamlit as st

from ui.components import component

CONFIG = {"displayModeBar": False}
PLOTLY_HEIGHT = 450                 # what Plotly draws when a figure names no height

GATE_NAME = "lesson1_chart_gate"
_GATE = component(GATE_NAME, "chart_gate")


def show_chart(figure, *, key: str, where=None, **options):
    """Draw `figure` in `where` (a column, a container; the page by default) once it is near the window. `key` names
    the chart on its page (it keeps the chart drawn across reruns). `options` go to st.plotly_chart (on_select,
    selection_mode, or width="content"); with on_select the chart is drawn at once and its selection comes back."""
    options = {"width": "stretch", "config": CONFIG, "key": key, **options}
    if options.get("on_select", "ignore") != "ignore":
        return (where or st).plotly_chart(figure, **options)
    if where is None or where is st:
        _when_seen(figure, options)
    else:
        with where:
            _when_seen(figure, options)
    return None


def gate_key(chart_key: str) -> str:
    """The session-state key of a chart's stand-in: {"seen": True} there once the browser saw it near the window."""
    return f"{chart_key}-seen"


@st.fragment
def _when_seen(figure, options: dict) -> None:
    """A fragment, so that the stand-in saying "seen" reruns this chart only, not the page."""
    gate = gate_key(options["key"])
    seen = bool((st.session_state.get(gate) or {}).get("seen"))
    with st.container(gap=None):                       # the stand-in and the chart, spaced as one chart
        _GATE(key=gate, data={"height": 0 if seen else _height(figure), "seen": seen}, default={"seen": False},
              on_seen_change=_nothing)
        if seen:
            st.plotly_chart(figure, **options)


def _height(figure) -> int:
    height = getattr(getattr(figure, "layout", None), "height", None)
    return int(height) if height else PLOTLY_HEIGHT


def _nothing() -> None:
    """The stand-in's change needs a callback for Streamlit to rerun its fragment; the state says it all."""
