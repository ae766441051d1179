"""Tiny data and models shared by the core tests."""
import torch
from torch import nn

from core.data import DataLoaders, DeviceLoader


def xor_data(n=512, seed=0, batch_size=32):
    """Two features; the class is whether they have the same sign: needs a hidden layer."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()
    cut = int(n * 0.8)
    return DataLoaders(DeviceLoader(x[:cut], y[:cut], batch_size=batch_size, shuffle=True, seed=seed),
                       DeviceLoader(x[cut:], y[cut:], batch_size=128), vocab=["different", "same"])


class BodyHead(nn.Module):
    """A 'pretrained body' and a 'new head', with a BatchNorm in the body, like a CNN's."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.body(x))


def body_head_splitter(model):
    return [list(model.body[:2].parameters()), list(model.body[2:].parameters()), list(model.head.parameters())]


def open_page(page: str, timeout: float = 120, query: dict | None = None):
    """Run one page file (relative to the repository) as a fresh session; any exception fails the test."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    """The text of a list of AppTest elements (markdown, errors, captions...), one per line, as the student reads
    it: a character the page escaped (ui.text.plain) as itself."""
    import re
    return "\n".join(re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements)


def wait_until(condition, timeout: float = 30, poll: float = 0.05):
    """Poll `condition()` until it returns something truthy (returned), or fail after `timeout` seconds."""
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"still waiting after {timeout} s")
