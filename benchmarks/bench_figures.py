"""How long each lesson's figure takes to build on the server: ours (core/plots.figure: one dict of plain traces and
layout, which plotly validates once) against the same figure built the usual plotly way, step by step (go.Figure(),
then add_trace with a go object per trace, then update_layout), which validates each step again. Both must give the
same figure (checked). The pages build several figures on every visit, and How training works one per frame of its
animations, all in the server's one interpreter that a whole class shares. A third column: the same figure asked
for again (a page's next run), which core/plots.figure gives back without building it (the time to make its
traces and a digest of them).

Run: .venv/bin/python benchmarks/bench_figures.py
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_basics import ms_per_call  # noqa: E402
from core import compare, plots  # noqa: E402
from core.basics import figures as basics, relu_fit, titanic  # noqa: E402
from core.collab import figures as collab  # noqa: E402
from core.runs import Progress  # noqa: E402
from core.segmentation import figures as segmentation  # noqa: E402
from core.vision import figures as vision  # noqa: E402

REPEAT = 20                     # calls per timing, best of three (bench_basics.ms_per_call)


def sent(fig: go.Figure) -> dict:
    """The figure as the browser gets it (st.plotly_chart sends plotly's JSON)."""
    return json.loads(pio.to_json(fig, validate=False))


def step_by_step(fig: go.Figure) -> go.Figure:
    """The same figure built the usual way: a figure in its template, a go object per trace, then the layout."""
    spec = fig.to_plotly_json()
    layout = dict(spec["layout"])
    out = go.Figure(layout=dict(template=layout.pop("template")))
    for trace in spec["data"]:
        trace = dict(trace)
        out.add_trace(getattr(go, {"histogram": "Histogram", "heatmap": "Heatmap", "waterfall": "Waterfall",
                                   "box": "Box", "bar": "Bar", "scatter": "Scatter"}[trace.pop("type")])(**trace))
    out.update_layout(layout)
    return out


def cases() -> dict:
    rng = np.random.default_rng(0)
    net = relu_fit.empty()
    for seed in range(5):
        net = relu_fit.add_unit(net, seed)
    x = np.linspace(-2, 2, 40)
    weights = lambda: {"layer 1": rng.normal(size=(32, 8)), "layer 2": rng.normal(size=(2, 32))}  # noqa: E731
    snapshot, first = {"step": 30, "weights": weights()}, {"step": 0, "weights": weights()}
    epochs = [{"epoch": e, "train_loss": 1 / (e + 1), "valid_loss": 0.5 + abs(e - 5) / 20} for e in range(12)]
    passenger = titanic.LayerNumbers(rng.normal(size=8), rng.normal(size=32), np.maximum(0, rng.normal(size=32)),
                                     rng.normal(size=2), np.array([0.3, 0.7]))
    losses = [{"step": i, "epoch": i // 10, "phase": "frozen" if i < 50 else "unfrozen", "raw": 1 / (i + 1),
               "train_loss": 1 / (i + 1)} for i in range(100)]
    valid = [{"step": 10 * (e + 1), "epoch": e, "valid_loss": 1 / (e + 2)} for e in range(10)]
    stats = [{"step": step, "layer": layer, "phase": "frozen" if step < 20 else "unfrozen",
              "weight_change": 0.001 * step * (i + 1), "grad_norm": 0.5 / (i + 1)}
             for step in range(1, 60) for i, layer in enumerate([f"blocks.{b}" for b in range(10)] + ["head"])]
    ratings = pd.DataFrame({"user": rng.integers(0, 600, 20_000), "item": rng.integers(0, 900, 20_000).astype(str),
                            "rating": rng.integers(1, 11, 20_000) / 2})
    pca = pd.DataFrame({"movie": [f"movie {i}" for i in range(1000)], **{f"PC{k}": rng.normal(size=1000)
                                                                          for k in (1, 2, 3)}})
    codes = ["background", "animal", "vehicle"]
    return {
        "How training works: ReLUs": lambda: basics.relu_figure(x, np.sin(x), net, title="5 units"),
        "How training works: the network's weights": lambda: basics.weights_figure(snapshot, first, None,
                                                                                    titanic.FEATURES, titanic.CLASSES),
        "How training works: train and valid loss": lambda: basics.train_valid_figure(epochs),
        "How training works: one passenger, layer by layer": lambda: basics.layers_figure(
            passenger, titanic.FEATURES, titanic.CLASSES),
        "every lesson: lr_find": lambda: plots.lr_finder(list(np.logspace(-6, 0, 50)), list(np.linspace(2, 1, 50)),
                                                         1e-3, 3e-3),
        "bird: what changed inside": lambda: vision.inside_figure(stats),
        "segmentation: what changed inside": lambda: segmentation.inside_figure(stats),
        "segmentation: IoU per class": lambda: segmentation.iou_bars(np.array([0.9, 0.5, 0.3]), codes),
        "collab: ratings per user": lambda: collab.ratings_per_user(ratings),
        "collab: the map of the movies": lambda: collab.factor_map(pca, n_labels=30),
        "collab: one prediction's parts": lambda: collab.prediction_parts({"user_bias": 0.1, "item_bias": -0.2,
                                                                           "dot": 0.5, "sum": 0.4}),
        "compare: the runs' losses": lambda: compare.loss_figure([("a", Progress(
            losses=[dict(r, n_batches=10) for r in losses], valid_losses=valid))]),
    }


def built_every_time(make) -> float:
    """ms per call of `make` with no figure kept (core/plots.figure builds each one)."""
    keep, plots.KEEP_FIGURES = plots.KEEP_FIGURES, 0
    try:
        return ms_per_call(make, REPEAT)
    finally:
        plots.KEEP_FIGURES = keep


def main() -> None:
    print(f"{'figure':52s} {'ours':>8s} {'step by step':>13s} {'asked again':>12s}")
    ours_total = theirs_total = again_total = 0.0
    for name, make in cases().items():
        fig = make()
        rebuilt = step_by_step(fig)
        assert sent(rebuilt) == sent(fig), f"{name}: the two ways differ"
        ours = built_every_time(make)
        theirs = ms_per_call(lambda: step_by_step(fig), REPEAT) - ms_per_call(fig.to_plotly_json, REPEAT)
        make(), make()                                          # asked for twice: kept from now on
        again = ms_per_call(make, REPEAT)
        ours_total, theirs_total, again_total = ours_total + ours, theirs_total + theirs, again_total + again
        print(f"{name:52s} {ours:6.1f} ms {theirs:10.1f} ms {again:9.2f} ms")
    print(f"{'all of them':52s} {ours_total:6.1f} ms {theirs_total:10.1f} ms {again_total:9.2f} ms  "
          f"({theirs_total / ours_total:.1f}x)")


if __name__ == "__main__":
    main()
