"""Picking a pretrained backbone in a page: where each one's weights would come from, and a warning when offline."""
import streamlit as st

from core.download import is_online
from core.models import BACKBONES, DEFAULT_BACKBONE, list_backbones, weights_availability

WHERE = {"embedded": "ImageNet weights embedded", "cache": "weights cached", "hub": "weights downloaded",
         "unavailable": "offline: weights unavailable"}


def backbone_picker(label: str, key: str, show_size: bool = True) -> str:
    online = is_online("https://huggingface.co")
    names = [spec.name for spec in list_backbones()]

    def describe(name: str) -> str:
        spec = BACKBONES[name]
        size = f" · {spec.params_m:.1f}M parameters" if show_size else ""
        return f"{spec.title}{size} · {WHERE[weights_availability(spec, online)]}"

    backbone = st.selectbox(label, names, format_func=describe, index=names.index(DEFAULT_BACKBONE), key=key)
    if weights_availability(BACKBONES[backbone], online) == "unavailable":
        st.warning(f"{BACKBONES[backbone].title}'s weights would have to be downloaded, and this server is offline. "
                   f"Pick {BACKBONES[DEFAULT_BACKBONE].title}: its ImageNet weights are embedded.",
                   icon=":material/cloud_off:")
    return backbone
