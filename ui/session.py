"""Who is this browser session? Jobs belong to an owner so that each session runs one job at a time."""
import uuid

import streamlit as st


def session_owner() -> str:
    if "owner" not in st.session_state:
        st.session_state.owner = uuid.uuid4().hex
    return st.session_state.owner


def adopt_owner(owner: str) -> None:
    """A reconnecting tab (job id in the URL) takes over the job's owner, so the one-job limit follows it."""
    st.session_state.owner = owner
