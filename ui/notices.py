"""Banners that say which data and which weights a lesson is using right now."""
import streamlit as st

from core.datasets import DatasetUnavailable, resolve
from core.models import WeightsInfo


def source_notice(notice: str, source: str) -> None:
    """`source`: 'embedded', 'downloaded' or 'cache' — the embedded default is said loudly, never silently."""
    if source == "embedded":
        st.info(notice, icon=":material/inventory_2:")
    else:
        st.success(notice, icon=":material/cloud_done:")


def weights_notice(weights: WeightsInfo) -> None:
    if weights.source == "random":
        st.warning(f"No pretraining: {weights.detail}.", icon=":material/casino:")
    elif weights.source == "embedded":
        st.info(f"Pretrained weights: {weights.detail} (embedded, works offline).", icon=":material/inventory_2:")
    else:
        st.success(f"Pretrained weights: {weights.detail}.", icon=":material/cloud_done:")


def job_notices(snap, items: str = "photos") -> None:
    """Under a finished job: the pretrained weights it started from and the batch size it trained with."""
    info = snap.info if snap else {}
    if info.get("weights_source"):
        weights_notice(WeightsInfo(info["weights_source"], info["weights_detail"]))
    if info.get("batch_size"):
        st.caption(f"Batches of {info['batch_size']} {items}: {info['batch_size_reason']}. "
                   f"Expected memory for training: about {info['estimated_peak_mib']:,} MiB.")


def resolved_once(dataset: str, prefer_online: bool, key: str):
    """core.datasets.resolve(dataset), once per choice of source rather than on every rerun, and the notice saying
    which copy is used. None, with the reason shown, when no copy can be had."""
    ss = st.session_state
    if ss.get(f"{key}_for") != prefer_online:
        try:
            with st.spinner("Looking for the data…"):
                ss[key] = resolve(dataset, prefer_online=prefer_online)
            ss[f"{key}_for"] = prefer_online
        except DatasetUnavailable as e:
            st.error(str(e))
            return None
    found = ss[key]
    source_notice(found.notice, found.source)
    return found
