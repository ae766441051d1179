"""A page for tests/test_browser_matrix.py: a small confusion matrix whose names carry markup, and one of 20
classes."""
import sys
from pathlib import Path

import numpy as np
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ui.matrix import show_confusion  # noqa: E402

st.title("Matrices")
clicked = show_confusion(np.array([[5, 0], [2, 7]]), ["bird", "<b>not</b> bird"], key="small", unit="photos")
st.write(f"Clicked: {clicked}")
many = np.eye(20, dtype=int) * 9 + np.roll(np.eye(20, dtype=int), 1, axis=1)
show_confusion(many, [f"breed number {i} with a long name" for i in range(20)], key="many", unit="photos")
