"""A lesson's numbered sections. Numbers follow the order the page draws them in, so they have no gaps whatever
the page shows (before training, after training, with a loaded model); each section is one keyed container, which
presentation mode steps through one at a time."""
import streamlit as st

_COUNTER = "_section_number"


def start_page() -> None:
    """Called once at the top of every page (ui.frame.require_frame does it)."""
    st.session_state[_COUNTER] = 0


def numbered(title: str):
    """A container headed "N. title": `with numbered("The raw table"): ...`."""
    n = st.session_state.get(_COUNTER, 0) + 1
    st.session_state[_COUNTER] = n
    box = st.container(key=f"lesson-section-{n}")
    box.header(f"{n}. {title}")
    return box
