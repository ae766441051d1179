"""A CSV upload that keeps the last good table, so a broken file loses nothing, and keeps the file itself in the
run store (core/inputs.py): a worker in another process reads it from there, and a run can be trained again."""
from typing import Callable

import pandas as pd
import streamlit as st

from core.errors import StudentError
from core.inputs import InputStore
from core.service import get_service
from ui.identity import current_user
from ui.text import plain

KEPT_NOTICE = ("Your file is kept on this server with the runs that train on it (so a worker can read it and the "
               "run can be repeated); the trained model keeps each column's categories, medians and means. "
               "Delete your runs and uploads on the My runs page.")


def store_upload(data: bytes, kind: str, name: str) -> dict:
    """Keep an upload in the run store; returns its reference (a run's `data`). Raises LimitError if too big."""
    return InputStore(get_service().store.root).put(data, kind=kind, name=name, owner=current_user().id)


def read_upload(ref: dict) -> bytes:
    """The bytes of an upload kept in the run store (checked against their hash); InputMissing if gone."""
    return InputStore(get_service().store.root).read(ref)


def kept_upload(label: str, key: str, read: Callable[[bytes, str], pd.DataFrame], kind: str = "csv") -> bool:
    """A CSV uploader whose last good table stays in st.session_state[f"{key}_upload_df"] (with `_upload_id`,
    `_upload_name` and `_upload_ref`, the stored file's reference). A file `read` refuses gets its message, and the
    previous table stays. True when a new table was just read."""
    ss = st.session_state
    upload = st.file_uploader(label, type=["csv", "txt", "tsv"], key=f"{key}_upload")
    if upload is None or ss.get(f"{key}_upload_id") == upload.file_id:
        return False
    try:
        data = upload.getvalue()
        df = read(data, f"'{upload.name}'")
        ref = store_upload(data, kind, upload.name)
    except StudentError as e:
        st.error(plain(e), icon=":material/error:")       # it may quote the file: text, not markup
        if f"{key}_upload_df" in ss:
            st.caption(f"Still using your previous file, '{plain(ss[f'{key}_upload_name'])}'.")
        return False
    ss[f"{key}_upload_df"], ss[f"{key}_upload_id"], ss[f"{key}_upload_name"] = df, upload.file_id, upload.name
    ss[f"{key}_upload_ref"] = ref
    return True
