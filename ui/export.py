"""Export a trained model and load it back, the same in every lesson: the weights as safetensors (numbers only,
nothing to execute) and what is needed to use them as JSON, downloaded and uploaded as two files. Reading the files
back is the lesson's reader (core/modelfiles.py), which checks them before anything is built."""
import logging
import secrets
from typing import Callable

import streamlit as st

from core.errors import StudentError
from core.serialize import meta_bytes, weights_bytes

log = logging.getLogger(__name__)


def download_buttons(model, meta: dict, key: str, filename: str) -> None:
    """`<filename>.safetensors` and `<filename>.json`, side by side. The weights are written when the button is
    pressed (Streamlit calls the function then), not on every run of the page: handed bytes, Streamlit keeps them in
    memory for as long as the page shows, and the bird lesson's are 13 MB (a ResNet-18's 43 MB) per student looking
    at their results, made again at each click of the page (25-55 ms)."""
    d1, d2 = st.columns(2)
    d1.download_button("Download weights (.safetensors)", lambda: weights_bytes(model), f"{filename}.safetensors",
                       "application/octet-stream", key=f"{key}_dl_weights", icon=":material/download:")
    d2.download_button("Download metadata (.json)", meta_bytes(meta), f"{filename}.json", "application/json",
                       key=f"{key}_dl_meta", icon=":material/download:")


def load_back(key: str, load: Callable[[bytes, bytes], tuple[object, dict]], describe: Callable[[dict], str]) -> None:
    """Two uploaders and a button: `load(weights, meta)`, given the files' bytes, returns (the model, its metadata);
    the model goes into st.session_state[f"{key}_loaded"], with a name of its own for caching what it computes in
    st.session_state[f"{key}_loaded_id"] (new with every model loaded), and `describe(meta)` says what was loaded,
    until another one is. A file that is not a usable model gets its sentence and loses nothing: the model loaded before stays."""
    u1, u2 = st.columns(2)
    up_weights = u1.file_uploader("Load weights (.safetensors)", type=["safetensors"], key=f"{key}_up_weights")
    up_meta = u2.file_uploader("Load metadata (.json)", type=["json"], key=f"{key}_up_meta")
    if up_weights is not None and up_meta is not None and st.button("Load this model", key=f"{key}_load"):
        try:
            loaded, loaded_meta = load(up_weights.getvalue(), up_meta.getvalue())
        except StudentError as e:
            st.error(f"Could not load that model: {e}", icon=":material/error:")
        except Exception:                           # a reader's bug: logged, and a sentence rather than a traceback
            log.exception("loading an uploaded model failed")
            st.error("Could not load that model: its files could not be read as a model of this lesson.",
                     icon=":material/error:")
        else:
            st.session_state[f"{key}_loaded"] = loaded
            st.session_state[f"{key}_loaded_id"] = f"loaded:{secrets.token_hex(8)}"
            st.session_state[f"{key}_loaded_note"] = describe(loaded_meta)
            st.rerun()                              # the page draws its choice of model above this section
    if st.session_state.get(f"{key}_loaded") is not None and st.session_state.get(f"{key}_loaded_note"):
        st.success(st.session_state[f"{key}_loaded_note"], icon=":material/check_circle:")


def export_and_load_back(model, meta: dict, key: str, filename: str,
                         load: Callable[[bytes, bytes], tuple[object, dict]], describe: Callable[[dict], str]) -> None:
    """Both: download `model` + `meta`, and load a model back (offered next to the one just trained)."""
    download_buttons(model, meta, key, filename)
    load_back(key, load, lambda loaded_meta: f"{describe(loaded_meta)} Choose it above.")
