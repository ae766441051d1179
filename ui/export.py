"""Export a trained model and load it back: the weights as safetensors (numbers only, nothing to execute) and
what is needed to use them as JSON, downloaded and uploaded as two files."""
from typing import Callable

import streamlit as st

from core.errors import StudentError
from core.serialize import model_from_bytes, model_to_bytes


def export_and_load_back(model, meta: dict, key: str, filename: str, rebuild: Callable[[dict, dict], object] | None,
                         describe: Callable[[dict], str],
                         load: Callable[[bytes, bytes], tuple[object, dict]] | None = None) -> None:
    """Download buttons for `model` + `meta`; two uploaders and a button that put `rebuild(state, meta)` into
    st.session_state[f"{key}_loaded"] (the page offers it next to the model it just trained). `load(weights, meta)`
    instead, given the files' bytes, returns (the model, its metadata): a lesson that checks the files before
    anything is allocated reads them itself. A StudentError's or ValueError's message is shown as it is."""
    weights_bytes, meta_bytes = model_to_bytes(model, meta)
    d1, d2 = st.columns(2)
    d1.download_button("Download weights (.safetensors)", weights_bytes, f"{filename}.safetensors",
                       key=f"{key}_dl_weights", icon=":material/download:")
    d2.download_button("Download metadata (.json)", meta_bytes, f"{filename}.json", key=f"{key}_dl_meta",
                       icon=":material/download:")
    u1, u2 = st.columns(2)
    up_weights = u1.file_uploader("Load weights (.safetensors)", type=["safetensors"], key=f"{key}_up_weights")
    up_meta = u2.file_uploader("Load metadata (.json)", type=["json"], key=f"{key}_up_meta")
    if up_weights is not None and up_meta is not None and st.button("Load this model", key=f"{key}_load"):
        try:
            if load is not None:
                st.session_state[f"{key}_loaded"], loaded_meta = load(up_weights.getvalue(), up_meta.getvalue())
            else:
                state, loaded_meta = model_from_bytes(up_weights.getvalue(), up_meta.getvalue())
                st.session_state[f"{key}_loaded"] = rebuild(state, loaded_meta)
        except (ValueError, KeyError, RecursionError, StudentError) as e:
            st.error(f"Could not load that model: {e}", icon=":material/error:")
        else:
            st.success(f"{describe(loaded_meta)} Choose it above.", icon=":material/check_circle:")
            st.rerun()
