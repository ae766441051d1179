"""A page for tests/test_browser_narrow_places.py: a code block too long for its column and one that fits; Samuel's
loop in a narrow column and across the page."""
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from core.basics.figures import loop_svg  # noqa: E402
from ui import images  # noqa: E402
from ui.code import show_code  # noqa: E402
from ui.frame import app_style  # noqa: E402

app_style()                              # the app's CSS, as streamlit_app.py gives every page
st.title("Narrow places")
narrow, _ = st.columns([1, 2])
show_code("learn = vision_learner(dls, 'efficientnet_lite0', metrics=error_rate, pretrained=True)", where=narrow,
          key="long")
show_code("learn.lr_find()", key="short")

half, _ = st.columns(2)
images.drawing(loop_svg("loss", {"loss": "in a column"}), where=half, narrow=loop_svg("loss", {"loss": "in a column"},
                                                                                      tall=True))
images.drawing(loop_svg("loss", {"loss": "across"}), narrow=loop_svg("loss", {"loss": "across"}, tall=True))
with st.container(key="lesson-section-9"):            # a lesson's section paints nothing outside itself (ui/frame)
    images.drawing(loop_svg("update", {"update": "last in its section"}, max_height=340),
                   narrow=loop_svg("update", {"update": "last in its section"}, tall=True))
st.markdown("After the section.")
import pandas as pd  # noqa: E402

from ui.tables import show_table  # noqa: E402

cut, _ = st.columns([1, 2])
# forty blank columns (names of no-break spaces): too wide for the column, and nothing drawn but the shadow
show_table(pd.DataFrame({"\u00a0" * (i + 1): [""] for i in range(40)}), where=cut, index=False)
