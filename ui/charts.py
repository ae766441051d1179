"""Every lesson's Plotly charts, drawn one way: across the width of where they go, without Plotly's own toolbar
(Streamlit's, on hover, has full screen and download), and only once the student scrolls near them.

Why wait: a lesson's charts sit below its first screen, and Plotly was the biggest part of the browser's work when a
lesson opened (~60-70 ms of its main thread a chart, 4-7 charts a lesson; a fresh page with five charts kept the main
thread busy 1.46 s, 0.40 s without them, Plotly's own loading included). Until then a chart is a stand-in of its
height (ui/assets/chart_gate.js) that says when it comes within half a screen of the window; its fragment then reruns
alone and draws the chart in its place. Once drawn, a chart stays drawn while the student is on the page. A chart
that answers clicks (`on_select`) waits the same way, but its stand-in reruns the code around it (the page, or the
fragment it is in), since that code reads its selection (segmentation's IoU bars, the ReLU grid). Charts that only
show numbers are not Plotly charts at all (core/bars.py), nor are the confusion matrices (ui/matrix.py) and a run's
loss chart (ui/live_panel.show_curves): the first Plotly chart of a visit loads Plotly, ~0.5 s of the browser's main
thread."""
from contextlib import nullcontext

import streamlit as st

from core.plots import bigger_text
from ui import present
from ui.components import component
from ui.frame import NARROW_PX

CONFIG = {"displayModeBar": False}
PLOTLY_HEIGHT = 450                 # what Plotly draws when a figure names no height

GATE_NAME = "lesson1_chart_gate"
_GATE = component(GATE_NAME, "chart_gate")


def show_chart(figure, *, key: str, where=None, place: str | None = None, narrow=None, **options):
    """Draw `figure` in `where` (a column, a container; the page by default) once it is near the window. `key` names
    the chart on its page, and its stand-in, which keeps it drawn across reruns; `place` names the stand-in instead
    where the key changes (a chart given a new key to forget its selection). `narrow`: a function that makes the
    figure for a place narrower than NARROW_PX (the stand-in measures it), where panels side by side would be too
    thin. `options` go to st.plotly_chart (on_select, selection_mode, or width="content"); with on_select, the
    selection comes back once the chart is drawn (None before)."""
    options = {"width": "stretch", "config": CONFIG, "key": key, **options}
    seen_key = gate_key(place or key)
    inside = nullcontext() if where is None or where is st else where
    with inside:
        if options.get("on_select", "ignore") != "ignore":
            return _drawn_when_seen(figure, options, seen_key, narrow)
        _when_seen(figure, options, seen_key, narrow)
    return None


def gate_key(chart_key: str) -> str:
    """The session-state key of a chart's stand-in: {"seen": True} there once the browser saw it near the window."""
    return f"{chart_key}-seen"


@st.fragment
def _when_seen(figure, options: dict, seen_key: str, narrow=None) -> None:
    """A fragment, so that the stand-in saying "seen" reruns this chart only, not the page."""
    _drawn_when_seen(figure, options, seen_key, narrow)


def _drawn_when_seen(figure, options: dict, seen_key: str, narrow=None):
    state = st.session_state.get(seen_key) or {}
    seen = bool(state.get("seen"))
    with st.container(gap=None):                       # the stand-in and the chart, spaced as one chart
        height = 0 if seen else _height(figure)        # also given to Streamlit: it holds the place before the JS runs
        _GATE(key=seen_key, data={"height": height, "seen": seen}, default={"seen": False},
              height=height or "content", on_seen_change=_nothing, on_width_change=_nothing)
        if seen and narrow is not None and (state.get("width") or NARROW_PX) < NARROW_PX:
            figure = narrow()
        if seen and present.is_on():
            figure = bigger_text(figure, present.TEXT_SCALE)
        return st.plotly_chart(figure, **options) if seen else None


def _height(figure) -> int:
    height = getattr(getattr(figure, "layout", None), "height", None)
    return int(height) if height else PLOTLY_HEIGHT


def _nothing() -> None:
    """The stand-in's change needs a callback for Streamlit to rerun its fragment; the state says it all."""
