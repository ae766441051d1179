"""A CSV upload that keeps the last good table in the session, so a broken file loses nothing."""
from typing import Callable

import pandas as pd
import streamlit as st

from core.tables import TableError


def kept_upload(label: str, key: str, read: Callable[[bytes, str], pd.DataFrame]) -> bool:
    """A CSV uploader whose last good table stays in st.session_state[f"{key}_upload_df"] (with `_upload_id` and
    `_upload_name`). A file `read` refuses gets its message, and the previous table stays. True when a new table
    was just read."""
    ss = st.session_state
    upload = st.file_uploader(label, type=["csv", "txt", "tsv"], key=f"{key}_upload")
    if upload is None or ss.get(f"{key}_upload_id") == upload.file_id:
        return False
    try:
        df = read(upload.getvalue(), f"'{upload.name}'")
    except TableError as e:
        st.error(str(e), icon=":material/error:")
        if f"{key}_upload_df" in ss:
            st.caption(f"Still using your previous file, '{ss[f'{key}_upload_name']}'.")
        return False
    ss[f"{key}_upload_df"], ss[f"{key}_upload_id"], ss[f"{key}_upload_name"] = df, upload.file_id, upload.name
    return True
