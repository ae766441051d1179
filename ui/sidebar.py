"""The sidebar every page shares: where training runs, the job queue, which data and weights are here."""
import streamlit as st

from core import datasets, download, models
from core.device import describe_device
from core.jobs import get_runner


@st.cache_data(ttl=10, show_spinner=False)
def _device_summary() -> tuple[str, str]:
    info = describe_device()
    return info.kind, info.summary


@st.cache_data(ttl=60, show_spinner=False)
def _sources() -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    online = download.is_online() or download.is_online("https://huggingface.co")
    data_rows = []
    for spec in datasets.list_datasets():
        if spec.online is not None and download.cached_dataset(spec.online, spec.name):
            where = "downloaded"
        elif spec.embedded_kind is not None:
            where = "embedded"
        else:
            where = "download when online" if online else "not available offline"
        data_rows.append((spec.title, where))
    weight_rows = [(spec.title.split(" (")[0], models.weights_availability(spec, online))
                   for spec in models.list_backbones()]
    return data_rows, weight_rows, online


def render_sidebar() -> None:
    with st.sidebar:
        kind, summary = _device_summary()
        st.markdown("**Training runs on**")
        if kind == "cuda":
            st.success(summary, icon=":material/memory:")
        else:
            st.warning(summary, icon=":material/memory:")
        stats = get_runner().stats()
        st.markdown(f"**Jobs:** {stats['running']} training · {stats['queued']} waiting "
                    f"· {stats['workers']} worker(s)")
        data_rows, weight_rows, online = _sources()
        st.caption("**Online**: the course's real datasets and weights can be downloaded." if online else
                   "**Offline**: every lesson uses its embedded data and weights.")
        with st.expander("Data and weights on this server", icon=":material/inventory_2:"):
            st.markdown("\n".join(f"- {title}: *{where}*" for title, where in data_rows))
            st.markdown("**Pretrained weights**")
            st.markdown("\n".join(f"- {title}: *{where}*" for title, where in weight_rows))
