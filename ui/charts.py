"""Every lesson's Plotly charts, drawn one way: across the width of where they go, without Plotly's own toolbar
(Streamlit's, on hover, has full screen and download)."""
import streamlit as st

CONFIG = {"displayModeBar": False}


def show_chart(figure, *, where=None, **options):
    """Draw `figure` in `where` (a column, a container; the page by default). `options` go to st.plotly_chart (key,
    on_select, selection_mode, or width="content"); what it returns comes back (a selection, with on_select)."""
    return (where or st).plotly_chart(figure, **{"width": "stretch", "config": CONFIG, **options})
