"""Colours for the classes, masks drawn over photos, confidence maps, and the lesson's plotly figures.

Class names may come from a student's codes.txt: they are escaped wherever they reach HTML (the legend, plotly's
labels, which understand a few tags), so a name is always shown as text.
"""
from html import escape

import numpy as np
import plotly.graph_objects as go

from core.bars import Series, hbars
from core.plots import LOG_AXIS, figure, phase_bars, subplot_layout, unfrozen_from, vline

# The scenes' classes get the colours of datasets/scenes (animal orange, plant green, vehicle blue); more classes
# (CamVid has 32) take the next ones from a list of well-separated colours.
PALETTE = [(255, 165, 30), (60, 180, 75), (0, 130, 200), (230, 25, 75), (145, 30, 180), (255, 225, 25),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
           (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
           (0, 0, 128), (128, 128, 128), (255, 99, 71), (46, 139, 87), (65, 105, 225), (218, 165, 32),
           (199, 21, 133), (0, 191, 255), (154, 205, 50), (255, 140, 0), (106, 90, 205), (32, 178, 170),
           (188, 143, 143), (124, 252, 0), (255, 20, 147), (95, 158, 160)]
BACKGROUND_NAMES = {"background", "void", "unlabelled", "unlabeled"}
BACKGROUND_COLOUR = (40, 40, 40)


def is_background(code: str) -> bool:
    return code.lower() in BACKGROUND_NAMES


def class_colours(codes: list[str]) -> np.ndarray:
    """(n_classes, 3) uint8: background-like codes dark grey, the others from PALETTE in order."""
    colours, k = [], 0
    for code in codes:
        if is_background(code):
            colours.append(BACKGROUND_COLOUR)
        else:
            colours.append(PALETTE[k % len(PALETTE)])
            k += 1
    return np.array(colours, dtype=np.uint8)


def label(code: str) -> str:
    """A class name as text inside HTML or a plotly label."""
    return escape(str(code), quote=True)


def hex_colour(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def colour_mask(mask: np.ndarray, codes: list[str]) -> np.ndarray:
    """(H, W) codes -> (H, W, 3) uint8, each class painted its colour."""
    return class_colours(codes)[mask]


BACKGROUND_DIMMED = 0.55     # the background's brightness in an overlay: a green plant tinted green on green grass
#                              could not be told from it; on a dimmed backdrop every tinted class stands out


def overlay(image: np.ndarray, mask: np.ndarray, codes: list[str], alpha: float = 0.6) -> np.ndarray:
    """The photo with each labelled pixel tinted its class's colour, and the background's pixels dimmed."""
    image = np.asarray(image, dtype=np.float32)
    tinted = colour_mask(mask, codes).astype(np.float32)
    labelled = ~np.isin(mask, [i for i, c in enumerate(codes) if is_background(c)])[..., None]
    out = np.where(labelled, (1 - alpha) * image + alpha * tinted, BACKGROUND_DIMMED * image)
    return out.round().clip(0, 255).astype(np.uint8)


def mistakes(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The photo greyed out, with every wrongly labelled pixel in bright red."""
    grey = np.asarray(image, dtype=np.float32).mean(axis=-1, keepdims=True).repeat(3, axis=-1) * 0.6 + 60
    wrong = (truth != predicted)[..., None]
    return np.where(wrong, np.array([255, 0, 0], dtype=np.float32), grey).astype(np.uint8)


def legend_html(codes: list[str], counts: np.ndarray | None = None) -> str:
    """Coloured swatches with the class names (and codes), as a line of HTML."""
    spans = []
    for i, (code, rgb) in enumerate(zip(codes, class_colours(codes))):
        extra = f" · {counts[i] / max(1, counts.sum()):.1%}" if counts is not None else ""
        spans.append(f'<span style="white-space:nowrap;margin-right:14px"><span style="display:inline-block;'
                     f'width:14px;height:14px;border-radius:3px;vertical-align:-2px;background:{hex_colour(rgb)};'
                     f'border:1px solid #888"></span> {i}&nbsp;{label(code)}{extra}</span>')
    return " ".join(spans)


def pixel_share_bars(counts_by_split: dict[str, np.ndarray], codes: list[str]) -> str:
    """The share of pixels of each class, per split (the validation photos' bars paler): background dominates, which
    is why accuracy flatters. An SVG drawing (core/bars.py): the first chart of the lesson loads no Plotly."""
    colours = [hex_colour(c) for c in class_colours(codes)]
    series = []
    for (split, counts), paleness in zip(counts_by_split.items(), (0.0, 0.5)):
        share = counts / max(1, counts.sum())
        series.append(Series(split, [float(v) for v in share], [_paler(c, paleness) for c in colours]))
    return hbars([str(c) for c in codes], series, title="Share of the pixels of each class", axis="share of the pixels",
                 percent=True)


def _paler(colour: str, paleness: float) -> str:
    """`colour` (#rrggbb) mixed with white: 0 leaves it, 1 is white."""
    rgb = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
    return hex_colour([round(c + (255 - c) * paleness) for c in rgb])


def iou_bars(iou: np.ndarray, codes: list[str]) -> go.Figure:
    """Intersection over union per class (absent classes left out). A click anywhere in a class's column selects
    it (an invisible full-height bar behind each one, so a class at IoU 0 can be clicked too); customdata is the
    class's code, so the page can show the photos where that class is worst."""
    keep = [i for i in range(len(codes)) if not np.isnan(iou[i])]
    colours = [hex_colour(c) for c in class_colours(codes)]
    names = [label(codes[i]) for i in keep]
    hover = "%{x}: IoU %{customdata[1]:.2f}<extra>click to see its worst photos</extra>"
    bars = [dict(type="bar", x=names, y=[1.05] * len(keep), customdata=[[i, iou[i]] for i in keep],
                 hovertemplate=hover, marker_color="rgba(0,0,0,0.02)", showlegend=False, name="click"),
            dict(type="bar", x=names, y=[iou[i] for i in keep], customdata=[[i, iou[i]] for i in keep],
                 hovertemplate=hover, marker_color=[colours[i] for i in keep], text=[f"{iou[i]:.2f}" for i in keep],
                 textposition="outside", showlegend=False, name="IoU")]
    return figure(bars, barmode="overlay", yaxis=dict(range=[0, 1.1], title="IoU (1 = perfect overlap)"), height=330,
                  margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select", dragmode=False)


# sure (1.0) bright yellow-green, unsure dark purple: viridis' ends, readable by colour-blind students
CONFIDENCE_STOPS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], np.float32)
UNSURE_COLOUR = (255, 0, 255)


def confidence_image(confidence: np.ndarray, n_classes: int) -> np.ndarray:
    """(H, W) probability of the chosen class -> (H, W, 3) uint8. The scale runs from 1/n_classes (a blind guess,
    the least a winning class can have) to 1 (certain)."""
    floor = 1.0 / max(2, n_classes)
    t = np.clip((np.asarray(confidence, np.float32) - floor) / (1 - floor), 0, 1) * (len(CONFIDENCE_STOPS) - 1)
    low = np.minimum(t.astype(int), len(CONFIDENCE_STOPS) - 2)
    frac = (t - low)[..., None]
    return (CONFIDENCE_STOPS[low] * (1 - frac) + CONFIDENCE_STOPS[low + 1] * frac).round().astype(np.uint8)


def confidence_scale_html(n_classes: int) -> str:
    """The colour scale of `confidence_image`, as a line of HTML."""
    floor = 1.0 / max(2, n_classes)
    stops = ", ".join(hex_colour(c) for c in CONFIDENCE_STOPS)
    return (f'<div style="display:flex;align-items:center;gap:8px;font-size:0.85em">unsure ({floor:.0%})'
            f'<span style="display:inline-block;width:220px;height:12px;border-radius:3px;'
            f'background:linear-gradient(to right, {stops})"></span>certain (100%)</div>')


def unsure_pixels(image: np.ndarray, confidence: np.ndarray, threshold: float) -> np.ndarray:
    """The photo greyed out, with every pixel whose chosen class has a probability under `threshold` in magenta."""
    grey = np.asarray(image, dtype=np.float32).mean(axis=-1, keepdims=True).repeat(3, axis=-1) * 0.6 + 60
    unsure = (np.asarray(confidence) < threshold)[..., None]
    return np.where(unsure, np.array(UNSURE_COLOUR, dtype=np.float32), grey).astype(np.uint8)


def probability_image(probability: np.ndarray, colour) -> np.ndarray:
    """(H, W) probability of one class -> (H, W, 3): black where 0, the class's colour where 1."""
    p = np.clip(np.asarray(probability, np.float32), 0, 1)[..., None]
    return (p * np.asarray(colour, np.float32)).round().astype(np.uint8)


def reliability_bars(rows: list[dict]) -> go.Figure:
    """Per band of confidence: how often the model was right there (bars) against what it claimed (the mean
    confidence of those pixels), and, as the text on each bar, the share of all pixels in that band."""
    shown = [r for r in rows if r["accuracy"] is not None]
    names = [f"{r['low']:.0%}–{r['high']:.0%}" for r in shown]
    data = [dict(type="bar", x=names, y=[r["accuracy"] for r in shown], marker_color="#21918c",
                 # short texts: Plotly shrinks a text to its bar's width ("11.3% of pixels" came out ~6 px high)
                 text=[f"{r['share']:.1%}" for r in shown], textposition="outside",
                 name="right this often (above each bar: its share of the pixels)"),
            dict(type="scatter", x=names, y=[r["claimed"] for r in shown], mode="lines+markers",
                 line=dict(color="#d62728", dash="dash"), name="what it claimed (its mean confidence)")]
    # room above 100% for the bars' texts, but no tick there: a share never goes past 100%
    return figure(data, yaxis=dict(range=[0, 1.2], tickvals=[0, 0.25, 0.5, 0.75, 1.0], tickformat=".0%",
                                   title="pixels labelled right"),
                  xaxis=dict(title="confidence (the probability of the class it chose)"), height=340,
                  margin=dict(l=10, r=10, t=30, b=10),
                  legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))


COLOURBAR_GAP_PX = 62        # from the maps' bottom edge to their colour bars: the step axis's ticks and title,
#                              in presentation mode's bigger text too (at 50 its title touched the bar)


def inside_figure(stats: list[dict], narrow: bool = False) -> go.Figure:
    """What changed inside, as one figure (one chart for the browser to draw, not three). On top, per layer, how far
    its weights had moved from where they started by the end of the frozen epochs and of training (log scale: the
    new decoder moves orders of magnitude more than the encoder). Below, layer by layer (rows, the input at the top)
    over the optimizer steps: how far the weights had moved, and how big the gradients were, as colours on a log10
    scale (both span decades); a dashed line where the encoder was unfrozen. `narrow` (a phone, half a laptop's
    window): the two maps one under the other."""
    layers = list(dict.fromkeys(r["layer"] for r in stats))
    steps = sorted({r["step"] for r in stats})
    bars_px, maps_px, gap_px = 330, max(320, 16 * len(layers) + 100), 150
    titles = ["weights moved by the end of each phase (log scale)", "weights moved (log10)", "gradient size (log10)"]
    bars = phase_bars(stats, layers, lying=narrow)
    if narrow:
        titles[0] = "weights moved per phase (log)"
        bars_px = max(bars_px, 22 * len(layers) + 40)
    margin = dict(l=10, r=10, t=40, b=COLOURBAR_GAP_PX + 40)
    if narrow:
        plot_px = bars_px + 2 * maps_px + 2 * gap_px
        layout = subplot_layout(3, 1, row_heights=[bars_px, maps_px, maps_px], vertical_spacing=gap_px / plot_px,
                                subplot_titles=titles)
    else:
        plot_px = bars_px + maps_px + gap_px              # paper coordinates are fractions of this
        layout = subplot_layout(2, 2, specs=[[{"colspan": 2}, None], [{}, {}]], row_heights=[bars_px, maps_px],
                                vertical_spacing=gap_px / plot_px, horizontal_spacing=0.1, subplot_titles=titles)
    data = [dict(bar, xaxis="x", yaxis="y") for bar in bars]
    row_of, column_of = {layer: i for i, layer in enumerate(layers)}, {step: j for j, step in enumerate(steps)}
    for n, value, floor in ((2, "weight_change", 1e-5), (3, "grad_norm", 1e-12)):
        raw = np.full((len(layers), len(steps)), np.nan)
        for r in stats:                                  # a step logged twice for a layer: its last value
            raw[row_of[r["layer"]], column_of[r["step"]]] = r[value]
        left, right = layout[f"xaxis{n}"]["domain"]
        bottom = layout[f"yaxis{n}"]["domain"][0]
        # each colour bar lies under its own map: standing beside it, the left one's ticks ran into the right map
        # once the figure was narrower than ~600 px
        data.append(dict(type="heatmap", z=np.log10(np.maximum(raw, floor)), x=steps, y=layers, customdata=raw,
                         colorscale="Viridis", hovertemplate="%{y}<br>step %{x}<br>%{customdata:.3g}<extra></extra>",
                         colorbar=dict(orientation="h", x=(left + right) / 2, xanchor="center", len=right - left,
                                       y=bottom - COLOURBAR_GAP_PX / plot_px, yanchor="top", thickness=8),
                         xaxis=f"x{n}", yaxis=f"y{n}"))
    unfreeze = unfrozen_from(stats)
    if unfreeze is not None:
        line = dict(color="white", width=2, dash="dash")
        marks = [vline(unfreeze, line, "unfrozen", axes=(f"x{n}", f"y{n}")) for n in (2, 3)]
        layout["shapes"] = [shape for shape, _ in marks]
        layout["annotations"] += [dict(note, font=dict(color="white")) for _, note in marks]
    if narrow:
        layout["xaxis"].update(LOG_AXIS)
        layout["yaxis"].update(autorange="reversed")                   # the input at the top, as in the maps
    else:
        layout["yaxis"].update(LOG_AXIS)
        layout["xaxis"].update(tickangle=-40)
    for n in (2, 3):
        layout[f"yaxis{n}"].update(autorange="reversed")
        layout[f"xaxis{n}"].update(title="optimizer step")
    if not narrow:
        layout["yaxis3"].update(showticklabels=False)        # the same layers as on its left
    return figure(data, barmode="group", height=plot_px + margin["t"] + margin["b"], margin=margin,
                  legend=dict(orientation="h", yanchor="bottom", y=1.03, xanchor="right", x=1.0), **layout)
