"""Export a trained model and load it back, the same in every lesson: the weights as safetensors (numbers only,
nothing to execute) and what is needed to use them as JSON, downloaded and uploaded as two files. Reading the files
back is the lesson's reader (core/modelfiles.py), which checks them before anything is built."""
import logging
import secrets
from typing import Callable

import streamlit as st

from core.errors import StudentError
from core.serialize import meta_bytes, weights_bytes
from ui.text import plain

log = logging.getLogger(__name__)


def file_stem(lesson: str, run_id: str | None) -> str:
    """A model's files named after its run ('tabular-9f3c2'), so two runs' downloads don't overwrite each other;
    a model that was loaded from files, '<lesson>-loaded'."""
    return f"{lesson}-{run_id[-5:]}" if run_id else f"{lesson}-loaded"


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


LOAD_TITLE = "Load a model you exported earlier"


def load_back(key: str, load: Callable[[bytes, bytes], tuple[object, dict]],
              describe: Callable[[object, dict], str]) -> None:
    """A box of two uploaders, the same in every lesson. Once both files are there, `load(weights, meta)` reads
    them into (the model, its metadata); the model goes into st.session_state[f"{key}_loaded"], with a name of
    its own for caching what it computes in st.session_state[f"{key}_loaded_id"] (new with every model loaded),
    and `describe(model, meta)` says what was loaded, until another one is. A file that is not a usable model gets
    its sentence, which stays while the files do, and loses nothing: the model loaded before stays."""
    ss = st.session_state
    error = f"{key}_load_error"
    # keyed: a load draws the sections above again, and an unkeyed box was then drawn anew, closed, hiding its message
    with st.expander(LOAD_TITLE, expanded=bool(ss.get(error)), key=f"{key}_load_box", icon=":material/upload_file:"):
        u1, u2 = st.columns(2)
        up_weights = u1.file_uploader("Weights (.safetensors)", type=["safetensors"], key=f"{key}_up_weights")
        up_meta = u2.file_uploader("Metadata (.json)", type=["json"], key=f"{key}_up_meta")
        st.caption("The two files the Download buttons give. Only safetensors and JSON are read, never pickles, and "
                   "every number in them is checked before anything is built, so a file from someone else cannot "
                   "run code here (a file that describes a model too big for this server is refused too).")
        if up_weights is None or up_meta is None:
            ss.pop(error, None)
            ss.pop(f"{key}_loaded_files", None)         # the same files again later load again
        elif ss.get(f"{key}_loaded_files") != (up_weights.file_id, up_meta.file_id):
            ss[f"{key}_loaded_files"] = (up_weights.file_id, up_meta.file_id)
            try:
                loaded, loaded_meta = load(up_weights.getvalue(), up_meta.getvalue())
            except StudentError as e:
                ss[error] = f"Could not load that model: {e}"
            except Exception:                           # a reader's bug: logged, and a sentence, not a traceback
                log.exception("loading an uploaded model failed")
                ss[error] = "Could not load that model: its files could not be read as a model of this lesson."
            else:
                ss[error] = None
                ss[f"{key}_loaded"] = loaded
                ss[f"{key}_loaded_id"] = f"loaded:{secrets.token_hex(8)}"
                ss[f"{key}_loaded_note"] = describe(loaded, loaded_meta)
                st.rerun()                              # the page draws its choice of model above this section
        if ss.get(error):
            st.error(plain(ss[error]), icon=":material/error:")
            if ss.get(f"{key}_loaded") is not None:
                st.caption("The model you loaded before is still the one in use.")
        elif ss.get(f"{key}_loaded") is not None and ss.get(f"{key}_loaded_note"):
            st.success(ss[f"{key}_loaded_note"], icon=":material/check_circle:")


def export_and_load_back(model, meta: dict, key: str, filename: str,
                         load: Callable[[bytes, bytes], tuple[object, dict]],
                         describe: Callable[[object, dict], str]) -> None:
    """Both: download `model` + `meta`, and load a model back (offered next to the one just trained)."""
    download_buttons(model, meta, key, filename)
    load_back(key, load, lambda loaded, loaded_meta: f"{describe(loaded, loaded_meta)} Choose it above.")
