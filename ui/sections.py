"""A lesson's numbered sections. Numbers follow the order the page draws them in, so they have no gaps whatever
the page shows (before training, after training, with a loaded model); each section is one keyed container,
`lesson-section-N`, which presentation mode (ui/present.py) shows one at a time, as slides."""
import streamlit as st

_COUNTER, _TITLES = "_section_number", "_section_titles"


def start_page() -> None:
    """Called once at the top of every page (ui.frame.require_frame does it)."""
    st.session_state[_COUNTER] = 0
    st.session_state[_TITLES] = []


def numbered(title: str):
    """A container headed "N. title": `with numbered("The raw table"): ...`."""
    n = st.session_state.get(_COUNTER, 0) + 1
    st.session_state[_COUNTER] = n
    st.session_state.setdefault(_TITLES, []).append(title)
    box = st.container(key=f"lesson-section-{n}")
    box.header(f"{n}. {title}")
    return box


def titles() -> list[str]:
    """The titles of the sections this run of the page drew, in order."""
    return list(st.session_state.get(_TITLES, []))


def later(*titles: str, why: str) -> None:
    """Sections that need a trained (or loaded) model, drawn as their headings and `why` they are empty, so that a
    section keeps its number, and presentation mode its slides, before, during and after a run."""
    for title in titles:
        with numbered(title):
            st.caption(why)
