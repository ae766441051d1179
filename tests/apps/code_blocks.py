"""A page for tests/test_browser_code.py: a code block too long for its column, and one that fits."""
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from ui.code import show_code  # noqa: E402

st.title("Code blocks")
narrow, _ = st.columns([1, 2])
show_code("learn = vision_learner(dls, 'efficientnet_lite0', metrics=error_rate, pretrained=True)", where=narrow,
          key="long")
show_code("learn.lr_find()", key="short")
