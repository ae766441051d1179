"""The app's own small browser components: each one `ui/assets/<stem>.js` with its `<stem>.css`, registered once."""
from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).with_name("assets")


def component(name: str, stem: str):
    """Streamlit's component `name`, drawn by ui/assets/<stem>.js and styled by ui/assets/<stem>.css."""
    return st.components.v2.component(name, js=(ASSETS / f"{stem}.js").read_text(),
                                      css=(ASSETS / f"{stem}.css").read_text())
