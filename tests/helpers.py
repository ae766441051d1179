"""Tiny data and models shared by the core tests."""
import json

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


def tables(at) -> list:
    """Every table a page shows, in page order, as DataFrames: the small ones drawn as HTML (ui/tables.py), read
    back from their cells (numbers as numbers again, as the student reads them: to four digits), and the data
    grids (st.dataframe)."""
    from html.parser import HTMLParser

    import pandas as pd
    from streamlit.testing.v1.element_tree import Dataframe, Html

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = ""

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.rows[-1].append(self.cell)
                self.cell = None

    def number_or_text(column):
        try:
            return pd.to_numeric(column.replace({"NaN": "nan", "None": "nan"}))
        except (ValueError, TypeError):
            return column

    def read(markup: str):
        cells = Cells()
        cells.feed(markup)
        head, *rows = cells.rows
        df = pd.DataFrame(rows, columns=head)
        if head and head[0] == "":                     # the index's column
            df = df.set_index("").rename_axis(None)
            df.index = number_or_text(pd.Series(df.index)).tolist()
        return df.apply(number_or_text)

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    found = []
    for node in walk(at.main):
        if isinstance(node, Html) and 'class="l1-table"' in node.value:
            found.append(read(node.value))
        elif isinstance(node, Dataframe):
            found.append(node.value)
    return found


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


def count_reads(monkeypatch, methods=("item", "tolist")) -> list[str]:
    """Every call of these tensor methods (each a read from the device: on a GPU, a wait for it) from now on."""
    import torch
    reads = []
    for method in methods:
        original = getattr(torch.Tensor, method)
        monkeypatch.setattr(torch.Tensor, method,
                            lambda t, *a, _f=original, _m=method, **k: (reads.append(_m), _f(t, *a, **k))[1])
    return reads


def bird_training_reads(root, device, monkeypatch, reads_so_far, **settings) -> tuple[list[int], int]:
    """The bird lesson's training, as its job runs it (its learner, batch transforms and the run's callbacks), on
    `device`: how many reads from the device (`reads_so_far()`, a running count) each of its fits made while it
    trained, validation left out, and how many steps it took. The run's progress writer is told to write only at an
    epoch's end, so what is counted is what every step does, not its few-times-a-second cadence."""
    from core.learner import Learner
    from core.runs import RunStore
    from core.vision.jobs import read_items
    from core.vision.train import make_learner, settings as vision_settings, train
    from core.worker import RunContext, RunProgress

    store = RunStore(root)
    cfg = vision_settings(dict(dict(size=64, bs=8, lr=1e-2, seed=1, valid_pct=0.25), **settings))
    record = store.create("image_classification", "fit", "tests", cfg, {"dataset": "birds", "label": "is_bird"})
    ctx = RunContext(store, record, device)
    learn, _, _ = make_learner(ctx, read_items(record.data, ctx.inputs), cfg, weight_stats=True)
    for cb in learn.cbs:
        if isinstance(cb, RunProgress):
            cb.every = float("inf")

    per_fit, in_validation = [], []
    fit, validate = Learner._fit, Learner._validate

    def counted_fit(self, *args):
        start, in_validation[:] = reads_so_far(), []
        fit(self, *args)
        per_fit.append(reads_so_far() - start - sum(in_validation))

    def counted_validate(self):
        start = reads_so_far()
        validate(self)
        in_validation.append(reads_so_far() - start)

    monkeypatch.setattr(Learner, "_fit", counted_fit)
    monkeypatch.setattr(Learner, "_validate", counted_validate)
    train(learn, cfg)
    return per_fit, learn.train_steps


def code_blocks(at) -> list:
    """The page's code blocks (ui/code.py draws them, not st.code), each with the `value` it shows, as at.code's."""
    from types import SimpleNamespace
    return [SimpleNamespace(value=json.loads(e.proto.json)["text"]) for e in at.get("bidi_component")
            if e.proto.component_name == "lesson1_code"]


def element_key(element) -> str:
    """The key a page gave an element (Streamlit's id is "$$ID-<hash>-<key>")."""
    return element.proto.id.split("-", 2)[2]


def stand_ins(at) -> dict[str, dict]:
    """The page's chart stand-ins (ui/charts.py), by key, with what each tells the browser: its height, and whether
    the chart has been seen."""
    from ui.charts import GATE_NAME
    return {element_key(e): json.loads(e.proto.json) for e in at.get("bidi_component")
            if e.proto.component_name == GATE_NAME}


def matrices(at) -> dict[str, dict]:
    """The page's confusion matrices (ui/matrix.py), by key, with what each tells the browser: counts, labels, the
    cell shown as selected."""
    from ui.matrix import MATRIX_NAME
    return {element_key(e): json.loads(e.proto.json) for e in at.get("bidi_component")
            if e.proto.component_name == MATRIX_NAME}


def charts(at) -> list:
    """The page's Plotly charts as a student sees them after scrolling down the whole page. ui/charts.py draws a
    chart once the browser says that its stand-in came near the window; here every stand-in says so, then the page
    reruns (again while that shows new stand-ins)."""
    for _ in range(5):
        unseen = [key for key, said in stand_ins(at).items() if not said["seen"]]
        if not unseen:
            break
        for key in unseen:
            at.session_state[key] = {"seen": True}
        at.run()
    return list(at.get("plotly_chart"))
