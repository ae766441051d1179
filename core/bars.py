"""Bar charts as SVG drawings, made here and shown as they are: the simple charts of counts and shares a lesson opens
with. A browser draws one in a few milliseconds, where the first Plotly chart of a visit loads Plotly itself: the
tabular lesson's two first charts cost a student's first visit ~1 s of the browser's main thread on a 2-core machine
(2.85 s with them as Plotly charts, 1.80 s without; benchmarks/results/2026-12-06-cpu-2core-charts-as-drawings.md).
Each bar says its value in text, and its row says everything again to a screen reader and on hover (<title>)."""
import html
import math
from dataclasses import dataclass
from typing import Sequence

from core.drawings import FAINT, INK, svg, ticks

BLUE, ORANGE, GREY, RED = "#1f77b4", "#ff7f0e", "#9e9e9e", "#d62728"

WIDTH = 480                 # viewBox units, a pixel each at the chart's natural size (it shrinks, never grows):
                            # half a lesson's width on a laptop, where its text stays at 11-13 px
FONT = 13
CHAR = 7.2                  # a character's width at FONT, roughly: to make room for the labels
BAR, GAP = 20, 10           # a bar's height and the space between rows
MAX_LABEL = 24              # characters; a longer label is cut short (whole in its <title>)


@dataclass
class Series:
    """One set of bars: one value per row; `texts` what each bar says (its value by default); `errors` ± around it."""
    name: str
    values: Sequence[float]
    colour: str | Sequence[str] = BLUE
    texts: Sequence[str] | None = None
    errors: Sequence[float] | None = None


def hbars(labels: Sequence[str], series: Sequence[Series], *, title: str, axis: str = "",
          upto: float | None = None, percent: bool = False) -> str:
    """Horizontal bars, one row per label, the series side by side in each row (a legend when there are several).
    `upto`: where the axis ends (the largest bar, with its error, by default); `percent`: values are shares, 0..1."""
    labels = [str(label) for label in labels]
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    top = upto if upto is not None else max([_reach(s) for s in series] + [0.0])
    top = top if top > 0 and math.isfinite(top) else 1.0
    shown = [label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…" for label in labels]
    left = min(WIDTH * 0.4, 12 + CHAR * max([len(s) for s in shown] + [1]))
    said = [[_text(s, i, percent) for i in range(len(labels))] for s in series]     # what each bar says
    longest = max([len(text) for texts in said for text in texts] + [4])
    right = max(left + WIDTH * 0.3, WIDTH - 10 - CHAR * longest)           # room for the longest bar's text
    scale = (right - left) / top
    row = len(series) * BAR + GAP
    y0 = 30 + (22 if len(series) > 1 else 0)
    height = y0 + row * len(labels) + 44
    parts = [f'<text x="0" y="{FONT + 4}" font-size="{FONT + 2}" font-weight="bold">{html.escape(title)}</text>']
    if len(series) > 1:
        parts += _legend(series, y=y0 - 10)
    for i, (label, short) in enumerate(zip(labels, shown)):
        y = y0 + i * row
        row_says = "; ".join(f"{s.name}: {texts[i]}" for s, texts in zip(series, said))
        parts.append(f'<g><title>{html.escape(f"{label}: {row_says}")}</title>'
                     f'<text x="{left - 6}" y="{y + row / 2 - GAP / 2 + 4}" text-anchor="end">{html.escape(short)}</text>')
        for k, (s, texts) in enumerate(zip(series, said)):
            parts.append(_bar(s, i, texts[i], left, y + k * BAR, scale, right))
        parts.append("</g>")
    parts += _axis(left, right, y0 + row * len(labels) - GAP / 2, top, axis, percent)
    spoken = f"{title}. " + ". ".join(f"{label}: " + "; ".join(
        (f"{s.name} " if len(series) > 1 else "") + texts[i] for s, texts in zip(series, said))
        for i, label in enumerate(labels))
    return svg(WIDTH, round(height), spoken, parts, style=f"display:block;max-width:{WIDTH}px",
               attrs=f'font-family="inherit" font-size="{FONT}"')


def probabilities(probs: Sequence[float], labels: Sequence[str], title: str = "What the model thinks") -> str:
    """A prediction's probability for each class, the likeliest on top (and in red)."""
    order = sorted(range(len(labels)), key=lambda i: -float(probs[i]))
    colours = [RED if rank == 0 else GREY for rank in range(len(order))]
    return hbars([labels[i] for i in order], [Series("probability", [float(probs[i]) for i in order], colours)],
                 title=title, axis="probability", upto=1.0, percent=True)


def _reach(s: Series) -> float:
    """How far right this series' bars go, their errors included."""
    errors = s.errors if s.errors is not None else [0.0] * len(s.values)
    ends = [v + e for v, e in zip(s.values, errors) if math.isfinite(v + e)]
    return max(ends + [0.0])


def _text(s: Series, i: int, percent: bool) -> str:
    if s.texts is not None:
        return str(s.texts[i])
    value = s.values[i]
    return f"{value:.1%}" if percent else f"{value:,.4g}"


def _bar(s: Series, i: int, text: str, left: float, y: float, scale: float, right: float) -> str:
    value = s.values[i] if math.isfinite(s.values[i]) else 0.0
    width = max(0.0, min(value * scale, right - left))
    colour = s.colour if isinstance(s.colour, str) else s.colour[i]
    parts = [f'<rect x="{left:.1f}" y="{y + 2:.1f}" width="{width:.1f}" height="{BAR - 4}" fill="{colour}"/>']
    end = left + width
    if s.errors is not None and s.errors[i] > 0:
        low, high = (max(left, left + (value - s.errors[i]) * scale),
                     min(right, left + (value + s.errors[i]) * scale))
        mid = y + BAR / 2
        parts.append(f'<path d="M{low:.1f},{mid} H{high:.1f} M{low:.1f},{mid - 5} v10 M{high:.1f},{mid - 5} v10" '
                     f'stroke="{INK}" stroke-width="1.2" fill="none"/>')
        end = max(end, high)
    if text:
        parts.append(f'<text x="{end + 5:.1f}" y="{y + BAR / 2 + 4:.1f}" fill="{FAINT}">{html.escape(text)}</text>')
    return "".join(parts)


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], 0.0
    for s in series:
        colour = s.colour if isinstance(s.colour, str) else s.colour[0]
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 17:.1f}" y="{y}">{html.escape(s.name)}</text>')
        x += 40 + CHAR * len(s.name)
    return parts


def _axis(left: float, right: float, y: float, top: float, title: str, percent: bool) -> list[str]:
    """The baseline, 4-6 round ticks under it and the axis's title."""
    parts = [f'<path d="M{left:.1f},{y:.1f} H{right:.1f}" stroke="{FAINT}" stroke-width="1"/>']
    for value in ticks(0.0, top, 6):
        x = left + value * (right - left) / top
        tick = f"{value:.0%}" if percent else f"{value:,.6g}"
        parts.append(f'<path d="M{x:.1f},{y:.1f} v4" stroke="{FAINT}"/>'
                     f'<text x="{x:.1f}" y="{y + 17:.1f}" text-anchor="middle" fill="{FAINT}" '
                     f'font-size="{FONT - 1}">{tick}</text>')
    if title:
        parts.append(f'<text x="{(left + right) / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" fill="{FAINT}">'
                     f'{html.escape(title)}</text>')
    return parts
