"""The lesson's own plotly figures: what changed inside each layer (the generic ones, lr_find among them, live in
core/plots.py). Class names, which come from students' folders, reach no Plotly figure: the confusion matrix
(ui/matrix.py) and a photo's probabilities (core/bars.py) show them as text."""
import plotly.graph_objects as go

from core.plots import LOG_AXIS, figure, log_ticks, phase_bars, subplot_layout, unfrozen_from, vline


def _layer_order(stats: list[dict]) -> list[str]:
    seen = []
    for r in stats:
        if r["layer"] not in seen:
            seen.append(r["layer"])
    return seen


def _colors(n: int) -> list[str]:
    """Body layers blue (early light, late dark), the last one (the new head) red."""
    blues = [f"rgba(31, 119, 180, {0.25 + 0.7 * i / max(1, n - 2)})" for i in range(n - 1)]
    return blues + ["#d62728"]


def inside_figure(stats: list[dict], narrow: bool = False) -> go.Figure:
    """What changed inside, as one figure (one chart for the browser to draw, not three): on top, how far each
    layer's weights had moved by the end of each phase; below, over the training steps, how far they moved and how big
    their gradients were, a line per layer (clicking a layer in the legend hides it in both). A dashed line marks
    where fine_tune unfroze the body. `narrow` (a phone): the three one under the other, the bars lying down with
    each layer's name beside them (slanted under narrow bars, the names overlapped)."""
    titles = ["weights moved by the end of each phase (log scale)", "weights moved (log scale)",
              "gradient size (log scale)"]
    bars = phase_bars(stats, _layer_order(stats), lying=narrow)
    if narrow:
        titles[0] = "weights moved per phase (log)"
        layout = subplot_layout(3, 1, vertical_spacing=0.09, row_heights=[0.36, 0.32, 0.32], subplot_titles=titles)
    else:
        layout = subplot_layout(2, 2, specs=[[{"colspan": 2}, None], [{}, {}]], vertical_spacing=0.2,
                                horizontal_spacing=0.08, row_heights=[0.45, 0.55], subplot_titles=titles)
    data = [dict(bar, xaxis="x", yaxis="y") for bar in bars]
    data += [dict(line, xaxis="x2", yaxis="y2") for line in layer_lines(stats, "weight_change")]
    data += [dict(line, showlegend=False, xaxis="x3", yaxis="y3")
             for line in layer_lines(stats, "grad_norm")]
    unfreeze = unfrozen_from(stats)
    if unfreeze is not None:
        marks = [vline(unfreeze, dict(dash="dash", color="gray"), "unfreeze", "top left", axes=(f"x{n}", f"y{n}"))
                 for n in (2, 3)]
        layout["shapes"] = [shape for shape, _ in marks]
        layout["annotations"] += [note for _, note in marks]
    # log scales: the head moves ~100x more than the body, and the body's small moves are the point; a frozen
    # layer, which does not move at all, has no bar and no line until it is unfrozen
    for axis in ("xaxis" if narrow else "yaxis", "yaxis2", "yaxis3"):
        layout[axis].update(LOG_AXIS)
    layout["yaxis3"].update(log_ticks([r.get("grad_norm") for r in stats]))    # they span a decade or so
    if narrow:
        layout["yaxis"].update(autorange="reversed")                   # the input first, as the legend lists them
    else:
        layout["xaxis"].update(tickangle=-45)
    for axis in ("xaxis2", "xaxis3"):
        layout[axis].update(title="training step")
    return figure(data, barmode="group", height=1250 if narrow else 760, margin=dict(l=10, r=10, t=40, b=10),
                  legend=dict(orientation="h", yanchor="bottom", y=1.04, xanchor="right", x=1.0),
                  # the layers' legend under the lines: beside them, its 12 names left the two plots ~140 px each
                  # in a half-width laptop window
                  legend2=dict(orientation="h", yanchor="top", y=-0.1, x=0, font=dict(size=10), title_text="layer"),
                  **layout)


def layer_lines(stats: list[dict], value: str) -> list[dict]:
    """One line per layer over the training steps, for a log axis: `weight_change` (how far its weights moved from
    the pretrained ones, relative) or `grad_norm`. A step where it is 0 (a frozen layer) is left out, not drawn at a
    made-up floor."""
    layers = _layer_order(stats)
    lines = []
    for layer, color in zip(layers, _colors(len(layers))):
        rows = [r for r in stats if r["layer"] == layer]
        values = [r[value] if r[value] > 0 else None for r in rows]          # a log axis has no 0: a gap
        lines.append(dict(type="scatter", x=[r["step"] for r in rows], y=values, mode="lines", name=layer,
                          legendgroup=layer, legend="legend2",
                          line=dict(color=color, width=3 if color == "#d62728" else 1.5)))
    return lines
