"""A page for tests/test_browser_charts.py: two charts side by side, then one more, then one that answers clicks,
screens below the top. Two have a figure for a narrow place (ui/charts.NARROW_PX)."""
import sys
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ui.charts import show_chart  # noqa: E402

st.title("Charts far down")
st.container(height=3000, border=False).write("A long page before the charts.")
left, right = st.columns(2)
show_chart(go.Figure(go.Bar(y=[1, 2, 3]), layout=dict(height=300)), where=left, key="left",     # ~460 px wide:
           narrow=lambda: go.Figure(go.Bar(y=[1, 2, 3]), layout=dict(height=420)))               # this one drawn
show_chart(go.Figure(go.Bar(y=[3, 2, 1]), layout=dict(height=300)), where=right, key="right")
st.container(height=3000, border=False).write("And more below them.")
show_chart(go.Figure(go.Scatter(y=[1, 3, 2])), key="last",                                  # wide: not this one
           narrow=lambda: go.Figure(go.Scatter(y=[1, 3, 2]), layout=dict(height=421)))
st.container(height=3000, border=False).write("And a chart to click, further down.")
event = show_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[2, 5, 3]), layout=dict(height=300)), key="click",
                   on_select="rerun", selection_mode="points")
points = event.selection.points if event else []
st.write(f"Clicked: {points[0]['x']}" if points else "Clicked: nothing")
