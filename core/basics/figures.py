"""The "how training works" lesson's figures: Plotly charts where a student clicks or hovers, SVG drawings elsewhere
(the loop, the gradient's arrows, the fits and loss curves). Pure functions of numbers: no streamlit here."""
import html

import numpy as np
import pandas as pd

from core.basics import quadratic, relu_fit
from core.drawings import svg, ticks
from core.lines import GREEN, ORANGE, RED, Line, chart
from core.plots import figure, subplot_layout, vline

ACTIVE, IDLE, EDGE = "#f59e0b", "#eef2f7", "#475569"
POINTS, CURVE, TRUE = "#2563eb", "#dc2626", "#64748b"

# Samuel's picture, two ways: (x, y) centres of its boxes and the canvas drawn, in units of LOOP_SCALE pixels.
# Wide for a page's whole width; tall for a narrow place (half a laptop's window, a phone, a column), where the
# wide one shrunk to fit had its numbers at 6-8 px.
LOOP_BOXES = {
    "inputs": (1.0, 3.2), "weights": (1.0, 0.8), "model": (3.5, 2.0),
    "results": (6.0, 2.0), "loss": (8.6, 2.0), "update": (5.0, 0.2),
}
LOOP_X, LOOP_Y = (-0.1, 9.7), (-0.45, 3.8)
LOOP_BOXES_TALL = {
    "inputs": (1.2, 4.6), "weights": (3.8, 4.6), "model": (2.5, 3.3),
    "results": (1.2, 2.0), "loss": (1.2, 0.7), "update": (3.8, 0.7),
}
LOOP_X_TALL, LOOP_Y_TALL = (0.15, 4.85), (0.15, 5.15)
LOOP_ARROWS = [("inputs", "model"), ("weights", "model"), ("model", "results"), ("results", "loss"),
               ("loss", "update"), ("update", "weights")]
LOOP_STAGES = quadratic.LOOP_STAGES
BOX_W, BOX_H = 1.9, 0.9
LOOP_SCALE = 100


def _figure(data, height, **layout):
    """A figure of this lesson, built whole (core/plots.py says why): its height, margins and legend, then `layout`."""
    settings = dict(height=height, margin=dict(l=10, r=10, t=40, b=10),
                    legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return figure(data, **{**settings, **layout})


def loop_svg(active=None, numbers=None, max_height: int | None = None, tall: bool = False) -> str:
    """The loop as an SVG drawing, the `active` box (a name or several) lit; `numbers`: box -> a short text under its
    title. A plain drawing rather than a chart: a page draws it in a few milliseconds (a plotly chart costs ~70 ms of
    the browser's time on a 2-core machine), and How training works redraws it several times a second while it
    trains. `max_height` (px) shrinks the wide one, centred, where it sits beside a training; `tall`: the layout for a
    narrow place (ui/images.drawing shows it where the place is narrow), at most 520 px wide."""
    active = {active} if isinstance(active, str) else set(active or ())
    numbers = numbers or {}
    boxes, (x_low, x_high), (y_low, y_high) = ((LOOP_BOXES_TALL, LOOP_X_TALL, LOOP_Y_TALL) if tall
                                               else (LOOP_BOXES, LOOP_X, LOOP_Y))
    to_x = lambda x: round((x - x_low) * LOOP_SCALE, 1)             # noqa: E731  (canvas units -> pixels)
    to_y = lambda y: round((y_high - y) * LOOP_SCALE, 1)            # noqa: E731  (y grows downwards in SVG)
    width, height = to_x(x_high), to_y(y_low)
    parts = []
    for start, end in LOOP_ARROWS:
        (x0, y0), (x1, y1) = _edge_point(boxes, start, end), _edge_point(boxes, end, start)
        parts += _arrow(to_x(x0), to_y(y0), to_x(x1), to_y(y1))
    for name, (x, y) in boxes.items():
        lit = name in active
        parts.append(f'<rect x="{to_x(x - BOX_W / 2)}" y="{to_y(y + BOX_H / 2)}" '
                     f'width="{round(BOX_W * LOOP_SCALE, 1)}" height="{round(BOX_H * LOOP_SCALE, 1)}" rx="6" '
                     f'fill="{ACTIVE if lit else IDLE}" '
                     f'stroke="{ACTIVE if lit else EDGE}" stroke-width="{4 if lit else 1.5}"/>')
        note = numbers.get(name)
        parts.append(f'<text x="{to_x(x)}" y="{to_y(y) + (-6 if note else 7)}" font-size="22" font-weight="bold">'
                     f'{html.escape(name)}</text>')
        if note:
            parts.append(f'<text x="{to_x(x)}" y="{to_y(y) + 22}" font-size="17">{html.escape(str(note))}</text>')
    lit = ", ".join(n for n in LOOP_BOXES if n in active)
    label = "Samuel's loop: inputs and weights go into the model, which gives results; the loss measures them; " \
            "the update changes the weights" + (f". Lit: {lit}" if lit else "")
    size = "max-width:520px" if tall else f"max-height:{max_height}px" if max_height else "max-width:100%"
    return svg(width, height, label, parts, style=f"{size};display:block;margin:auto", attrs='text-anchor="middle"')


def _arrow(x0, y0, x1, y1, colour=EDGE, head=11.0) -> list[str]:
    """A line from (x0, y0) to (x1, y1) and its arrowhead, drawn as a triangle rather than an SVG marker: a marker
    is found by id, and the first of two drawings with the same id may be the hidden one (ui/images.drawing)."""
    length = max(float(np.hypot(x1 - x0, y1 - y0)), 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    bx, by = x1 - ux * head, y1 - uy * head                     # the head's base, where the line stops
    corners = [(x1, y1), (bx - uy * head * 0.45, by + ux * head * 0.45), (bx + uy * head * 0.45, by - ux * head * 0.45)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)
    return [f'<line x1="{x0}" y1="{y0}" x2="{bx:.1f}" y2="{by:.1f}" stroke="{colour}" stroke-width="2.5"/>',
            f'<polygon points="{points}" fill="{colour}"/>']


def _arrowhead(name: str, colour: str, size: float, tip: float) -> str:
    """A triangle for lines to end with (marker-end="url(#name)"); `tip`: how far along it the line stops (of 10)."""
    return (f'<defs><marker id="{name}" viewBox="0 0 10 10" refX="{tip}" refY="5" markerWidth="{size}" '
            f'markerHeight="{size}" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
            '</marker></defs>')


def _edge_point(boxes, name, toward):
    """Where the line from box `name` to box `toward` leaves the box's border."""
    (x, y), (tx, ty) = boxes[name], boxes[toward]
    dx, dy = tx - x, ty - y
    scale = min((BOX_W / 2) / abs(dx) if dx else np.inf, (BOX_H / 2) / abs(dy) if dy else np.inf)
    return x + dx * scale * 1.05, y + dy * scale * 1.05


def loop_numbers(trace, stage_index=len(LOOP_STAGES) - 1, n_show=3):
    """Short texts for each box from a quadratic.step_trace, revealed up to LOOP_STAGES[stage_index]."""
    fmt = lambda v: ", ".join(f"{t:.2f}" for t in v)  # noqa: E731
    a, b, c = trace["weights"]
    na, nb, nc = trace["new_weights"]
    text = {
        "inputs": f"x = {fmt(trace['inputs'][:2])}, …",
        "weights": f"a={a:.3f} b={b:.3f} c={c:.3f}",
        "model": "a·x² + b·x + c",
        "results": f"ŷ = {fmt(trace['preds'][:n_show])}, …",
        "loss": f"{trace['kind']} = {trace['loss']:.4g}",
        "update": "−lr·grad = " + ", ".join(f"{u:.2g}" for u in -trace["update"]),
    }
    shown = set(LOOP_STAGES[:stage_index + 1])
    if "weights" in shown:      # the loop came back round: the weights are the new ones
        text["weights"] = f"a={na:.3f} b={nb:.3f} c={nc:.3f}"
    else:
        shown.add("weights")
    return {k: v for k, v in text.items() if k in shown}


def quadratic_figure(problem, weights, show_true=False, kind="MSE") -> str:
    """The noisy points, the curve for `weights`, and each point's error as a thin line: an SVG drawing (core/lines.py),
    redrawn at every move of a slider and every frame of gradient descent."""
    xs = np.linspace(-2.2, 2.2, 200)
    preds = quadratic.predict(weights, problem.x)
    ex, ey = [], []
    for x, y, p in zip(problem.x, problem.y, preds):
        ex += [x, x, None]
        ey += [y, p, None]
    a, b, c = weights
    lines = [Line("errors", ex, ey, colour=ORANGE, width=1),
             Line("data", problem.x, problem.y, colour=POINTS, points=True),
             Line(quadratic_text(a, b, c), xs, quadratic.predict(weights, xs), colour=CURVE, width=3)]
    if show_true:
        lines.append(Line("true: " + quadratic_text(*problem.true_weights, digits=None), xs,
                          quadratic.predict(problem.true_weights, xs), colour=TRUE, dash=True))
    lo, hi = float(problem.y.min()), float(problem.y.max())
    pad = (hi - lo) * 0.3
    loss = quadratic.loss(weights, problem.x, problem.y, kind)
    return chart(lines, title=f"{kind} = {loss:.3f}", x_label="x", y_label="y", y_range=(lo - pad, hi + pad),
                 height=360, about=f"{len(problem.x)} points and the curve {quadratic_text(a, b, c)}")


def quadratic_text(a: float, b: float, c: float, digits: int | None = 2) -> str:
    """a·x² + b·x + c as it is written: "−20.20x² − 4.05x − 10.32", not "-20.20x² + -4.05x + -10.32"."""
    number = (lambda v: f"{abs(v):.{digits}f}") if digits is not None else (lambda v: f"{abs(v):g}")
    sign = lambda v: "−" if v < 0 else "+"                          # noqa: E731
    return f"{'−' if a < 0 else ''}{number(a)}x² {sign(b)} {number(b)}x {sign(c)} {number(c)}"


def loss_curve_figure(losses, title="loss", diverged=False) -> str:
    """The loss at each step, on a log scale: an SVG drawing (core/lines.py), red once the run has diverged."""
    line = Line(title, list(range(len(losses))), [float(v) for v in losses], colour=RED if diverged else GREEN,
                markers=True, in_legend=False)
    last = next((i for i in reversed(range(len(losses))) if np.isfinite(losses[i])), None)
    return chart([line], title=f"{title} at step {last}: {float(losses[last]):.4g}" if last is not None else title,
                 x_label="step", y_label=f"{title} (log scale)", log_y=True, height=300,
                 about="diverged" if diverged else "", whole_x=True)


def gradient_arrows_svg(weights, grad, lr, names=quadratic.WEIGHT_NAMES, span=(-6.0, 6.0)) -> str:
    """One slider-like track per weight: where the weight is, and an arrow to where the next step of gradient descent
    moves it (−lr·gradient, to scale). An SVG drawing, like the loop: section 3 redraws it at every frame of a run.
    At most 640 px wide, so that its text reads at ~15 px there and ~12 px in half a laptop's window."""
    weights, grad = np.asarray(weights, float), np.asarray(grad, float)
    finite = weights[np.isfinite(weights)]
    lo = min(span[0], finite.min() - 1) if len(finite) else span[0]
    hi = max(span[1], finite.max() + 1) if len(finite) else span[1]
    lo, hi = max(lo, -1e300), min(hi, 1e300)            # a run that exploded: its track still has a finite length
    width, left, right, row_h, top = 600, 12, 588, 62, 6     # ~a pixel a unit (at most 640 px): text ~15 px
    to_x = lambda v: round(left + (v - lo) / (hi - lo) * (right - left), 1)           # noqa: E731
    height = top + row_h * len(names) + 30
    parts = [_arrowhead("grad-arrow", ACTIVE, size=4, tip=6)]
    if lo < 0 < hi:
        parts.append(f'<line x1="{to_x(0)}" y1="{top}" x2="{to_x(0)}" y2="{height - 26}" stroke="#94a3b8" '
                     'stroke-width="1" stroke-dasharray="3 3"/>')
    for i, (name, w, g) in enumerate(zip(names, weights, grad)):
        y = top + row_h * i + 44
        numbers = f" = {w:.3f}  ·  dL/d{name} = {g:.3g}  ·  step = −lr·grad = {-lr * g + 0.0:.3g}"
        parts.append(f'<text x="{left}" y="{y - 20}" font-size="15" style="white-space:pre">'
                     f'<tspan font-weight="bold">{html.escape(name)}</tspan>{html.escape(numbers)}</text>')
        parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#cbd5e1" stroke-width="5" '
                     'stroke-linecap="round"/>')
        if not np.isfinite(w):
            continue
        # to scale: the arrow ends where the step lands (at the track's end if it lands beyond)
        step = -lr * g if np.isfinite(g) else 0.0
        if abs(step) > 1e-9:
            end = min(max(w + step, lo), hi)
            parts.append(f'<line class="step" x1="{to_x(w)}" y1="{y}" x2="{to_x(end)}" y2="{y}" '
                         f'stroke="{ACTIVE}" stroke-width="4" marker-end="url(#grad-arrow)"/>')
        parts.append(f'<circle cx="{to_x(w)}" cy="{y}" r="7" fill="{POINTS}"><title>{html.escape(name)} = {w:.4f}'
                     '</title></circle>')
    for tick in ticks(lo, hi):
        parts.append(f'<text x="{to_x(tick)}" y="{height - 6}" font-size="13" text-anchor="middle" '
                     f'fill="#64748b">{tick:g}</text>')
    moves = "; ".join(f"{n} {'stays' if not np.isfinite(g) or g == 0 else 'goes down' if g > 0 else 'goes up'}"
                      for n, g in zip(names, grad))
    return svg(width, height, "The next step of gradient descent: " + moves, parts,
               style="display:block;width:100%;max-width:640px")


def relu_figure(x, y, net, show_units=True, title="", grid=False):
    """The target points, each unit's ReLU and their sum. With `grid`, the first trace is a faint grid of candidate
    points, which box-selecting adds to the targets; only then, as the browser draws each of its 561 points."""
    xs = np.linspace(relu_fit.X_RANGE[0] - 0.1, relu_fit.X_RANGE[1] + 0.1, 300)
    data = [dict(type="scatter", x=x, y=y, mode="markers", name="target", marker=dict(color=POINTS, size=8))]
    if grid:
        gx, gy = np.meshgrid(np.linspace(-2, 2, 33), np.linspace(-2, 2, 17))
        data.insert(0, dict(type="scatter", x=gx.ravel(), y=gy.ravel(), mode="markers",
                            name="drag a box here to add points", marker=dict(size=7, color="rgba(148,163,184,0.18)"),
                            hoverinfo="x+y"))
    if show_units:
        for i, contrib in enumerate(relu_fit.contributions(net, xs)):
            data.append(dict(type="scatter", x=xs, y=contrib, mode="lines", line=dict(width=1.5, dash="dot"),
                             name=f"unit {i + 1}", opacity=0.8))
    data.append(dict(type="scatter", x=xs, y=relu_fit.predict(net, xs), mode="lines", name="sum (the model)",
                     line=dict(color=CURVE, width=4)))
    # the legend under the plot: above it, it grows a row for every few units and ran under the title
    return _figure(data, 440, title=dict(text=title, x=0.99, xanchor="right"), clickmode="event+select",
                   legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                   dragmode="select", xaxis=dict(range=[-2.2, 2.2], title="x"),
                   yaxis=dict(range=[-2.3, 2.3], title="y"))


def weights_figure(snapshot, first=None, vmax=None, inputs=None, outputs=None, narrow=False):
    """The two weight matrices as heatmaps, hidden units down the side (blue negative, red positive):
    inputs → hidden on the left, hidden → outputs in the middle; and a histogram of all weights,
    now against at the start. `narrow` (a phone, half a laptop's window): the histogram under the two."""
    w1, w2 = snapshot["weights"]["layer 1"], snapshot["weights"]["layer 2"].T
    titles = ["layer 1", "layer 2", "all weights"]        # short, and the axes say what goes in and out
    if narrow:
        layout = subplot_layout(2, 2, specs=[[{}, {}], [{"colspan": 2}, None]], column_widths=[0.72, 0.28],
                                row_heights=[0.62, 0.38], horizontal_spacing=0.16, vertical_spacing=0.27,
                                subplot_titles=titles)
    else:
        layout = subplot_layout(1, 3, column_widths=[0.42, 0.14, 0.44], horizontal_spacing=0.14,
                                subplot_titles=titles)
    right, (low, high) = layout["xaxis2"]["domain"][1], layout["yaxis2"]["domain"]    # the colour bar beside layer 2
    every = np.concatenate([w1.ravel(), w2.ravel()])
    vmax = vmax or float(np.abs(every).max()) or 1.0
    inputs = list(inputs) if inputs is not None else list(range(w1.shape[1]))
    outputs = list(outputs) if outputs is not None else list(range(w2.shape[1]))
    heat = dict(type="heatmap", zmid=0, zmin=-vmax, zmax=vmax, colorscale="RdBu_r")
    data = [dict(heat, z=w1, x=inputs, showscale=False, xaxis="x", yaxis="y"),
            dict(heat, z=w2, x=outputs, colorbar=dict(x=right + 0.02, xanchor="left", y=low, yanchor="bottom",
                                                      len=high - low, thickness=12), xaxis="x2", yaxis="y2")]
    layout["yaxis"].update(autorange="reversed", title="hidden unit")
    layout["yaxis2"].update(autorange="reversed")
    layout["xaxis3"].update(title="weight")
    layout["yaxis3"].update(showticklabels=False)         # the shape is the point, and the colour bar needs the room
    bins = dict(start=-vmax, end=vmax, size=2 * vmax / 40)
    if first is not None and first["step"] != snapshot["step"]:        # at step 0 itself, one histogram, not two
        start = np.concatenate([w.ravel() for w in first["weights"].values()])
        data.append(dict(type="histogram", x=start, name="at step 0", opacity=0.5, marker_color="#94a3b8",
                         xbins=bins, xaxis="x3", yaxis="y3"))
    data.append(dict(type="histogram", x=every, name=f"at step {snapshot['step']}", opacity=0.7, marker_color=CURVE,
                     xbins=bins, xaxis="x3", yaxis="y3"))
    return _figure(data, 780 if narrow else 440, barmode="overlay",
                   legend=dict(orientation="h", x=1, xanchor="right", y=-0.12 if narrow else -0.25), **layout)


def train_valid_figure(epoch_rows):
    """Loss per epoch on the training rows and on the held-out rows: when valid turns up, it's overfitting."""
    epochs = [r["epoch"] for r in epoch_rows]
    data = [dict(type="scatter", x=epochs, y=[r["train_loss"] for r in epoch_rows], name="train loss",
                 line=dict(color=POINTS)),
            dict(type="scatter", x=epochs, y=[r["valid_loss"] for r in epoch_rows], name="valid loss",
                 line=dict(color=CURVE))]
    marks = {}
    if epoch_rows:
        best = int(np.argmin([r["valid_loss"] for r in epoch_rows]))
        shape, note = vline(epochs[best], dict(dash="dot", color=TRUE), "lowest valid loss", "top")
        marks = dict(shapes=[shape], annotations=[note])
    return _figure(data, 320, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
                   xaxis=dict(title="epoch"), yaxis=dict(title="cross-entropy loss"), **marks)


def loop_tables(trace, stage_index, n_rows=6):
    """The numbers behind the loop, revealed up to LOOP_STAGES[stage_index]: one table for this batch's
    points, one for the weights."""
    shown = set(LOOP_STAGES[:stage_index + 1])
    x, y = trace["inputs"][:n_rows], trace["targets"][:n_rows]
    rows = {"x (input)": x, "y (target)": y}
    if "results" in shown:
        rows["ŷ (result)"] = trace["preds"][:n_rows]
    if "loss" in shown:
        err = trace["preds"][:n_rows] - y
        rows["error ŷ − y"] = err
        rows["error²" if trace["kind"] == "MSE" else "|error|"] = err**2 if trace["kind"] == "MSE" else np.abs(err)
    weights = {"weight": list(quadratic.WEIGHT_NAMES), "value": trace["weights"]}
    if "update" in shown:
        weights["gradient"] = trace["grad"]
        weights[f"−lr·gradient (lr={trace['lr']:g})"] = -trace["update"]
    if "weights" in shown:
        weights["new value"] = trace["new_weights"]
    more = len(trace["inputs"]) - n_rows
    rows_frame = pd.DataFrame(rows).map(_short)
    rows_frame.attrs["note"] = f"first {n_rows} of {len(trace['inputs'])} points" if more > 0 else ""
    return rows_frame, pd.DataFrame(weights).map(_short)


def _short(value):
    """4 significant digits: small gradients near the end of a run stay visible."""
    return float(f"{value:.4g}") if isinstance(value, (float, np.floating)) else value


def layers_figure(numbers, inputs, outputs, narrow=False):
    """One passenger through the network, left to right: the 8 inputs (normalised), layer 1's numbers per hidden
    unit before and after the ReLU, the two outputs, and the softmax's probabilities. `narrow` (a phone, half a
    laptop's window): top to bottom, the outputs and the softmax side by side at the end."""
    titles = ["inputs", "hidden units", "outputs", "softmax"]
    if narrow:
        layout = subplot_layout(3, 2, specs=[[{"colspan": 2}, None], [{"colspan": 2}, None], [{}, {}]],
                                vertical_spacing=0.2, horizontal_spacing=0.2, subplot_titles=titles)
    else:
        layout = subplot_layout(1, 4, column_widths=[0.27, 0.43, 0.15, 0.15], horizontal_spacing=0.07,
                                subplot_titles=titles)
    units = list(range(1, len(numbers.hidden) + 1))
    bar = dict(type="bar", showlegend=False)
    data = [dict(bar, x=list(inputs), y=numbers.inputs, marker_color=POINTS, name="input",
                 hovertemplate="%{x}: %{y:.3f}<extra></extra>", xaxis="x", yaxis="y"),
            dict(bar, x=units, y=numbers.hidden, marker_color="#cbd5e1", name="before ReLU",
                 hovertemplate="unit %{x}: %{y:.3f}<extra>before ReLU</extra>", xaxis="x2", yaxis="y2"),
            dict(bar, x=units, y=numbers.relu, marker_color=CURVE, name="after ReLU",
                 hovertemplate="unit %{x}: %{y:.3f}<extra>after ReLU</extra>", xaxis="x2", yaxis="y2"),
            dict(bar, x=list(outputs), y=numbers.outputs, marker_color="#64748b", name="output",
                 hovertemplate="%{x}: %{y:.3f}<extra></extra>", xaxis="x3", yaxis="y3"),
            dict(bar, x=list(outputs), y=numbers.probs, marker_color=["#64748b", "#16a34a"],
                 text=[f"{p:.0%}" for p in numbers.probs], textposition="outside", cliponaxis=False,
                 hovertemplate="P(%{x}) = %{y:.3f}<extra></extra>", xaxis="x4", yaxis="y4")]
    layout["yaxis4"].update(range=[0, 1.2])          # room for "100%" above its bar, in bigger text too
    layout["xaxis2"].update(title="grey: before the ReLU · red: after")
    layout["xaxis"].update(tickangle=-40, title="normalised")
    return _figure(data, 960 if narrow else 380, showlegend=False, barmode="overlay", **layout)
