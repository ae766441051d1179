"""Figures every lesson shares, as plain functions returning plotly figures (no streamlit here).

How a figure is built matters: the pages build several on every visit, and How training works two per frame of its
animations. Built whole from plain dicts (`figure`), plotly validates it once: 1.4-11 ms a figure. Built from go
objects with make_subplots, add_trace, add_vline, update_xaxes and update_layout, each of which validates again, the
same figures took 5-31 ms (benchmarks/bench_figures.py). And a figure asked for again with the same numbers (the
page's next run, the next student opening the same run) is the one built before (`figure`): a figure is shared, so
none is ever changed once built."""
import functools
import hashlib
import json
import math
import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

TRAIN_COLOR, VALID_COLOR, ACCENT, MUTED = "#1f77b4", "#ff7f0e", "#d62728", "#9aa5b1"
MUTED_TEXT = "#5c6672"      # MUTED is for marks; text in it was 2.4:1 on white, this is 5.8:1 (WCAG AA: 4.5)
# a log axis labelled at powers of ten only, written out: plotly's own put 2s and 5s between them and wrote "100µ"
LOG_AXIS = dict(type="log", dtick=1, exponentformat="none")


def log_ticks(values) -> dict:
    """A log axis's ticks where its values span a few decades at most: 1, 2 and 5 of each ("0.5", "1", "2"). With
    one tick a decade such an axis showed a lone "1", and Plotly's own minor ticks bare digits ("5" for 0.5). Empty
    (LOG_AXIS's decades) for a wider span."""
    shown = [v for v in values if isinstance(v, (int, float)) and v > 0 and math.isfinite(v)]
    if not shown:
        return {}
    low, high = min(shown), max(shown)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last - first > 3:
        return {}
    ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in (1, 2, 5) if low / 2 <= m * 10.0 ** e <= high * 2]
    return dict(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


PHASE_COLORS = {"frozen": "rgba(31,119,180,0.07)", "unfrozen": "rgba(44,160,44,0.07)"}


def _white_template() -> go.layout.Template:
    """plotly_white's look for the 2-D charts the lessons draw, without its defaults for 20 other kinds of trace and
    its 3-D, map and polar axes. Assigning "plotly_white" makes plotly validate the whole template again for every
    figure (~16 ms, and ~6 KB more per figure sent to every browser on every rerun); this one costs ~1 ms and 0.5 KB."""
    white = pio.templates["plotly_white"]
    keep = ("xaxis", "yaxis", "font", "title", "hoverlabel", "hovermode", "colorway", "paper_bgcolor", "plot_bgcolor",
            "coloraxis", "autotypenumbers", "annotationdefaults", "shapedefaults")
    layout = {k: v for k, v in white.layout.to_plotly_json().items() if k in keep}
    return go.layout.Template(layout=layout, data={"bar": white.data.bar})


TEMPLATE = "lesson1_white"             # every lesson's figures: template=TEMPLATE
pio.templates[TEMPLATE] = _white_template()

def figure(data: Sequence[dict], **layout) -> go.Figure:
    """A figure built whole from plain dicts (`data`: traces with their `type`), in the lessons' template unless
    `layout` names another (None: plotly's default); the same figure as last time for the same traces and layout
    (most of a page's figures are, run after run: building one is mostly plotly copying and checking the
    template). Shared: never change a figure this returns."""
    key = _figure_key(data, layout)
    with _BUILT_LOCK:
        if key in _BUILT:
            _BUILT.move_to_end(key)
            return _BUILT[key]
        # Kept from its second time on: an animation's frames (How training works), each asked for once, would
        # otherwise push out the figures that pages ask for at every run.
        keep = _SEEN_ONCE.pop(key, False)
        if key is not None and not keep:
            _SEEN_ONCE[key] = True
            while len(_SEEN_ONCE) > 8 * KEEP_FIGURES:
                _SEEN_ONCE.popitem(last=False)
    layout = {"template": TEMPLATE, **layout}
    if layout["template"] is None:                  # plotly's default template (plotly applies it cheaply)
        del layout["template"]
    built = go.Figure(dict(data=list(data), layout=layout))
    if keep:
        with _BUILT_LOCK:
            _BUILT[key] = built
            while len(_BUILT) > KEEP_FIGURES:
                _BUILT.popitem(last=False)
    return built


KEEP_FIGURES = 128
_BUILT: OrderedDict = OrderedDict()
_SEEN_ONCE: OrderedDict = OrderedDict()
_BUILT_LOCK = threading.Lock()      # every session's script thread builds figures


def _figure_key(data, layout) -> str | None:
    """A digest of everything the figure is made of, or None (not kept) for a value this does not know."""
    try:
        text = json.dumps([list(data), layout], sort_keys=True, default=_plain, allow_nan=True)
    except (TypeError, ValueError):
        return None
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _plain(value):
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return value.tolist()
        return [str(value.dtype), value.shape, hashlib.blake2b(np.ascontiguousarray(value).tobytes()).hexdigest()]
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not kept: {type(value).__name__}")


PLOTLY_FONT_PX = 12                   # plotly's text size where a figure names none


def bigger_text(built: go.Figure, factor: float) -> go.Figure:
    """A copy of `built` with every text `factor` times its size. Plotly sizes text in pixels, so a page whose text
    grows (presentation mode, for the back of a classroom) leaves its charts' text as small as before."""
    spec = built.to_plotly_json()
    spec["layout"].setdefault("font", {}).setdefault("size", PLOTLY_FONT_PX)
    _grow_fonts(spec, factor)
    margin = spec["layout"].get("margin") or {}          # the margins hold the ticks' and axes' text: they grow too
    for side in ("l", "r", "t", "b"):
        if isinstance(margin.get(side), (int, float)):
            margin[side] = margin[side] * factor
    return go.Figure(spec)


def _grow_fonts(node, factor: float) -> None:
    """Every `size` of every `…font` (font, tickfont, textfont, a title's or an annotation's font), in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and value.get("size") is not None:
                size = value["size"]
                value["size"] = [s * factor for s in size] if isinstance(size, (list, tuple, np.ndarray)) \
                    else size * factor
            _grow_fonts(value, factor)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _grow_fonts(value, factor)


def subplot_layout(rows: int, cols: int, **options) -> dict:
    """make_subplots(rows, cols, **options)'s layout: each subplot's axes (`xaxis2`, `yaxis2`...) with their domains,
    and the subplot titles; a fresh dict for `figure` to add to. Worked out once per shape and titles (make_subplots
    takes ~10 ms); a trace goes in subplot n with `xaxis="x<n>", yaxis="y<n>"` (the first: "x", "y")."""
    return json.loads(_subplot_layout(rows, cols, json.dumps(options, sort_keys=True)))


@functools.lru_cache(maxsize=64)
def _subplot_layout(rows: int, cols: int, options: str) -> str:
    from plotly.subplots import make_subplots
    layout = make_subplots(rows=rows, cols=cols, **json.loads(options)).layout.to_plotly_json()
    layout.pop("template", None)
    return json.dumps(layout)


_NOTE_ANCHORS = {"top": ("center", "bottom"), "top right": ("left", "top"), "top left": ("right", "top")}


def vline(x: float, line: dict, text: str | None = None, position: str = "top right",
          axes: tuple[str, str] = ("x", "y")) -> tuple[dict, dict | None]:
    """fig.add_vline(x, line=line, annotation_text=text, annotation_position=position) on the subplot of `axes`, as
    (the shape, its note or None) for a figure's `shapes` and `annotations`. The note goes at the top of the line."""
    if position not in _NOTE_ANCHORS:
        raise ValueError(f"vline's note goes {', '.join(map(repr, _NOTE_ANCHORS))}, not {position!r}")
    xref, yref = axes[0], f"{axes[1]} domain"
    shape = dict(type="line", x0=x, x1=x, xref=xref, y0=0, y1=1, yref=yref, line=line)
    if text is None:
        return shape, None
    xanchor, yanchor = _NOTE_ANCHORS[position]
    return shape, dict(x=x, xref=xref, y=1, yref=yref, text=text, showarrow=False, xanchor=xanchor, yanchor=yanchor)


def chart(data: Sequence[dict], title: str, x: str, y: str, height: int = 360, xaxis: dict | None = None,
          yaxis: dict | None = None, **layout) -> go.Figure:
    """A one-chart figure with a title, axis titles and the legend above on the right, built whole (`figure`);
    `xaxis`, `yaxis`: more settings for the axes."""
    return figure(data, title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                  legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
                  xaxis=dict(title=x, **(xaxis or {})), yaxis=dict(title=y, **(yaxis or {})), **layout)


def lr_finder(lrs: Sequence[float], losses: Sequence[float], suggestion: float | None = None,
              chosen: float | None = None) -> go.Figure:
    """Loss against learning rate on a log axis: pick an LR where the loss is still falling steeply."""
    data = [dict(type="scatter", x=list(lrs), y=list(losses), mode="lines", name="loss", line=dict(color=TRAIN_COLOR))]
    if suggestion:
        data.append(dict(type="scatter", x=[suggestion], y=[float(np.interp(np.log(suggestion), np.log(lrs), losses))],
                         mode="markers", name=f"suggested (valley): {suggestion:.1e}",
                         marker=dict(color=ACCENT, size=13, symbol="circle")))
    marks = {}
    if chosen:
        shape, note = vline(chosen, dict(color=VALID_COLOR, dash="dash"), f"your choice {chosen:.1e}")
        marks = dict(shapes=[shape], annotations=[note])
    yaxis = {}
    if len(losses):
        low, high = min(losses), np.percentile(losses, 90)
        yaxis = dict(range=[low - 0.05 * (high - low), high + 0.1 * (high - low)])
    return chart(data, "Learning rate finder", "learning rate (log scale)", "loss", xaxis=dict(type="log"),
                 yaxis=yaxis, **marks)


def phase_bars(stats: Sequence[dict], layers: Sequence[str], lying: bool = False) -> list[dict]:
    """Per layer, how far its weights had moved by the end of fine_tune's frozen epoch(s) and by the end of training
    (a run with no frozen phase: by the end of training only). `stats`: the runs' weight statistics, a row per layer
    and logged step. A layer that did not move has 0: no bar on a log axis, which is what a frozen layer should show.
    `lying` (a phone): horizontal bars, each layer's name beside them; slanted under narrow bars, the names
    overlapped. Traces for `figure`."""
    phases = [("frozen", "#9ecae1", "after the frozen epoch(s)"), ("unfrozen", "#08519c", "at the end of training")]
    if not any(r.get("phase") in ("frozen", "unfrozen") for r in stats):
        phases = [(stats[-1].get("phase") if stats else "", "#08519c", "at the end of training")]
    bars = []
    for phase, colour, name in phases:
        rows = [r for r in stats if r.get("phase") == phase]
        if not rows:
            continue
        last_step = max(r["step"] for r in rows)
        last = {r["layer"]: r["weight_change"] for r in rows if r["step"] == last_step}
        moved = [last.get(layer, 0.0) for layer in layers]
        bars.append(dict(type="bar", marker_color=colour, name=name,
                         **(dict(x=moved, y=list(layers), orientation="h") if lying else dict(x=list(layers), y=moved))))
    return bars


def unfrozen_from(stats: Sequence[dict]) -> float | None:
    """Where to draw fine_tune's "unfreeze" line on a chart over the training steps (half a step before the first
    unfrozen one), or None for a run that had no frozen phase."""
    unfrozen = [r["step"] for r in stats if r.get("phase") == "unfrozen"]
    if unfrozen and any(r.get("phase") == "frozen" for r in stats):
        return min(unfrozen) - 0.5
    return None


def epoch_table(rows: Sequence[dict]) -> pd.DataFrame:
    """fastai's epoch table: epoch, train_loss, valid_loss, the metric, time — the numbers students read."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    if "time" in frame:                          # one format for the column: 34.1 s beside 01:06 read as two units
        minutes = any(isinstance(t, (int, float)) and t >= 60 for t in frame["time"])
        frame["time"] = frame["time"].map(lambda t: _duration(t, minutes))
    if "phase" in frame and not frame["phase"].astype(bool).any():
        frame = frame.drop(columns="phase")
    return frame.set_index("epoch")


def _duration(seconds: float, minutes: bool) -> str:
    """fastai's mm:ss where an epoch took a minute or more; else seconds and tenths, so that fast epochs don't all
    read 00:00."""
    if not isinstance(seconds, (int, float)):
        return str(seconds)
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}" if minutes else f"{seconds:.1f} s"
