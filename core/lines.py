"""Line and point charts as SVG drawings, made here and shown as they are (as core/bars.py's bars): the curves of
"How training works", redrawn at every move of a slider and at every frame of a run. A browser draws one in a few
milliseconds; as a Plotly chart each redraw cost ~60 ms of the student's browser, and the first one of a visit
loaded Plotly itself (~0.5 s: the lesson's first visit took 2.2-2.5 s to draw, benchmarks/bench_startup.py).

    chart([Line("data", xs, ys, points=True), Line("fit", xs2, ys2, colour=RED)], title="MSE = 0.12", x_label="x")

A line breaks where a value is None or not finite (the errors of a fit are one line of such pieces). Curves leave
the plot at its edges (clipped), so a wild guess does not squash the points into a corner."""
import html
import math
from dataclasses import dataclass
from typing import Sequence

from core.drawings import FAINT, INK, svg, ticks

BLUE, RED, ORANGE, GREEN, GREY = "#2563eb", "#dc2626", "#f97316", "#16a34a", "#64748b"
WIDTH = 480                 # viewBox units: a pixel each at the chart's natural size
FONT = 13
LEFT, RIGHT, TOP = 52, 12, 30
MOST_MARKERS = 60           # a line of more points is drawn without its markers


@dataclass
class Line:
    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    colour: str = BLUE
    width: float = 2.0
    dash: bool = False
    points: bool = False            # markers only, no line (the data)
    markers: bool = False           # a line with a small marker at each point
    in_legend: bool = True


def chart(lines: Sequence[Line], *, title: str = "", x_label: str = "", y_label: str = "",
          y_range: tuple[float, float] | None = None, log_y: bool = False, height: int = 320,
          about: str = "", whole_x: bool = False) -> str:
    """The lines on shared axes, round ticks on both, the title at the top right and a legend under the plot.
    `y_range` fixes the vertical axis (data outside it is cut at the edge); `log_y` draws it in powers of ten
    (values at or below zero are left out). `about` is what a screen reader hears besides the title. `whole_x`: an
    axis of counts (steps), ticked at whole numbers only."""
    keep = (lambda y: y > 0) if log_y else (lambda y: True)
    xs = [float(x) for line in lines for x, y in zip(line.xs, line.ys) if _finite(x) and _finite(y) and keep(y)]
    ys = [_y(y, log_y) for line in lines for y in line.ys if _finite(y) and keep(y)]
    x_lo, x_hi = _span(xs)
    y_lo, y_hi = (_y(y_range[0], log_y), _y(y_range[1], log_y)) if y_range else _span(ys)
    legend = [line for line in lines if line.in_legend]
    legend_rows = _legend_rows(legend)
    bottom = 44 + (16 if x_label else 0) + 20 * len(legend_rows)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - bottom
    sx = lambda x: LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w
    sy = lambda y: TOP + (y_hi - y) / (y_hi - y_lo) * plot_h
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#f8fafc"/>']
    parts += _y_axis(y_lo, y_hi, log_y, sy, plot_w, y_label)
    parts += _x_axis(x_lo, x_hi, sx, TOP + plot_h, x_label, whole_x)
    # the plot's own viewport, in the same units as the drawing: what leaves it is cut at its edge (no clipPath,
    # whose id would have to be unique in a page of several drawings)
    parts.append(f'<svg x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
                 f'viewBox="{LEFT} {TOP} {plot_w} {plot_h}" overflow="hidden">')
    for line in lines:
        parts.append(_draw(line, sx, lambda y: sy(_y(y, log_y)), keep))
    parts.append("</svg>")
    if title:
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{TOP - 10}" text-anchor="end" font-size="{FONT + 2}" '
                     f'font-weight="bold">{html.escape(title)}</text>')
    parts += _legend(legend_rows, height - 20 * len(legend_rows) + 4)
    spoken = ". ".join(filter(None, [title, about, "; ".join(_said(line) for line in legend)]))
    return svg(WIDTH, height, spoken, parts, style="display:block;width:100%;max-width:640px",
               attrs=f'font-family="inherit" font-size="{FONT}"')


def _finite(v) -> bool:
    return v is not None and math.isfinite(float(v))


def _y(y: float, log_y: bool) -> float:
    return math.log10(float(y)) if log_y else float(y)


def _span(values: list[float]) -> tuple[float, float]:
    """The range of `values`, a little wider than them (and some range even for one value, or none)."""
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def _label(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def _y_axis(lo, hi, log_y, sy, plot_w, title) -> list[str]:
    if log_y:
        marks = [(float(p), f"{10.0 ** p:g}") for p in range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)]
        if len(marks) > 8:
            step = math.ceil(len(marks) / 8)
            marks = marks[::step]
        if len(marks) < 2:                              # less than a tenfold span: 1, 2 and 5 times, else round
            values = [m * 10.0 ** p for p in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)
                      if lo - 1e-9 <= p + math.log10(m) <= hi + 1e-9]
            if len(values) < 2:
                values = [t for t in ticks(10.0 ** lo, 10.0 ** hi, 4) if t > 0]
            marks = [(math.log10(v), _label(round(v, 12))) for v in values]
    else:
        marks = [(t, _label(t)) for t in ticks(lo, hi, 6)]
    parts = []
    for value, text in marks:
        y = sy(value)
        parts.append(f'<path d="M{LEFT},{y:.1f} h{plot_w}" stroke="#e2e8f0"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{FAINT}" '
                     f'font-size="{FONT - 1}">{text}</text>')
    if title:
        parts.append(f'<text x="{LEFT}" y="{TOP - 10}" fill="{FAINT}">{html.escape(title)}</text>')
    return parts


def _x_axis(lo, hi, sx, y, title, whole=False) -> list[str]:
    parts = [f'<path d="M{LEFT},{y:.1f} H{WIDTH - RIGHT}" stroke="{FAINT}"/>']
    for t in ticks(lo, hi, 8):
        if whole and not float(t).is_integer():
            continue
        x = sx(t)
        parts.append(f'<path d="M{x:.1f},{y:.1f} v4" stroke="{FAINT}"/>'
                     f'<text x="{x:.1f}" y="{y + 17:.1f}" text-anchor="middle" fill="{FAINT}" '
                     f'font-size="{FONT - 1}">{_label(t)}</text>')
    if title:
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" '
                     f'fill="{FAINT}">{html.escape(title)}</text>')
    return parts


def _draw(line: Line, sx, sy, keep) -> str:
    pieces, piece = [], []
    for x, y in zip(line.xs, line.ys):
        if _finite(x) and _finite(y) and keep(float(y)):
            piece.append((sx(float(x)), sy(y)))
        elif piece:
            pieces.append(piece)
            piece = []
    if piece:
        pieces.append(piece)
    dots = [p for piece in pieces for p in piece]
    out = []
    if not line.points:
        d = " ".join("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in piece) for piece in pieces)
        if d:
            dash = ' stroke-dasharray="6 4"' if line.dash else ""
            out.append(f'<path d="{d}" fill="none" stroke="{line.colour}" stroke-width="{line.width}"{dash} '
                       f'stroke-linejoin="round"/>')
    if line.points or (line.markers and len(dots) <= MOST_MARKERS):
        r = 4 if line.points else 2
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{line.colour}"/>' for x, y in dots]
    return "".join(out)


def _legend_rows(lines: Sequence[Line]) -> list[list[Line]]:
    rows, row, used = [], [], 0.0
    for line in lines:
        room = 34 + 7.2 * len(line.name)
        if row and used + room > WIDTH:
            rows.append(row)
            row, used = [], 0.0
        row.append(line)
        used += room
    return rows + ([row] if row else [])


def _legend(rows: list[list[Line]], y: float) -> list[str]:
    parts = []
    for k, row in enumerate(rows):
        x = 0.0
        for line in row:
            mid = y + 20 * k
            mark = (f'<circle cx="{x + 8}" cy="{mid - 4}" r="4" fill="{line.colour}"/>' if line.points else
                    f'<path d="M{x},{mid - 4} h16" stroke="{line.colour}" stroke-width="{line.width}"'
                    + (' stroke-dasharray="5 3"' if line.dash else "") + "/>")
            parts.append(mark + f'<text x="{x + 22}" y="{mid}" fill="{INK}">{html.escape(line.name)}</text>')
            x += 34 + 7.2 * len(line.name)
    return parts


def _said(line: Line) -> str:
    values = [float(y) for y in line.ys if _finite(y)]
    if line.points:
        return f"{line.name}: {len(values)} points"
    if len(values) > 1 and not line.markers:
        return line.name
    return f"{line.name}: {len(values)} values" + (f", the last {values[-1]:.4g}" if values else "")
