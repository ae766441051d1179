"""A confusion matrix the student clicks: rows what an item really is, columns what the model said. Drawn by the
browser as a table of buttons (ui/assets/matrix.js), so a lesson's results load no Plotly for it; a click reruns the
code around it, which gets the cell back."""
from contextlib import nullcontext
from typing import Sequence

import numpy as np
import streamlit as st

from ui.components import component

MATRIX_NAME = "lesson1_matrix"
_MATRIX = component(MATRIX_NAME, "matrix")


def show_confusion(counts: np.ndarray, labels: Sequence[str], *, key: str, title: str | None = None,
                     unit: str = "items", where=st) -> tuple[int, int] | None:
    """Draw the matrix in `where`; the cell (actual, predicted) last clicked, or None. Names are shown as text."""
    counts = np.asarray(counts)
    n = len(labels)
    clicked = _cell((st.session_state.get(key) or {}).get("cell"), n)
    if clicked is not None and not counts[clicked]:
        clicked = None                      # the matrix changed under an old click (a new run, the same key)
    data = {"counts": counts.astype(int).tolist(), "labels": [str(label) for label in labels], "unit": unit,
            "title": title, "selected": list(clicked) if clicked else None}
    with nullcontext() if where is st else where:
        _MATRIX(key=key, data=data, default={"cell": None}, on_cell_change=_nothing)
    return clicked


def _cell(value, n: int) -> tuple[int, int] | None:
    """A cell the browser sent, if it is one: two whole numbers in range (anything else is ignored)."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(type(v) is int and 0 <= v < n for v in value):
        return value[0], value[1]
    return None


def _nothing() -> None:
    """A state change needs a callback for Streamlit to rerun; the state says it all."""
