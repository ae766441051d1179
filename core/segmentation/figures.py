"""Colours for the classes, masks drawn over photos, and the lesson's plotly figures."""
import numpy as np
import plotly.graph_objects as go

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


def hex_colour(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def colour_mask(mask: np.ndarray, codes: list[str]) -> np.ndarray:
    """(H, W) codes -> (H, W, 3) uint8, each class painted its colour."""
    return class_colours(codes)[mask]


def overlay(image: np.ndarray, mask: np.ndarray, codes: list[str], alpha: float = 0.6) -> np.ndarray:
    """The photo with each labelled pixel tinted its class's colour; background pixels are left as they are."""
    image = np.asarray(image, dtype=np.float32)
    tinted = colour_mask(mask, codes).astype(np.float32)
    labelled = ~np.isin(mask, [i for i, c in enumerate(codes) if is_background(c)])[..., None]
    out = np.where(labelled, (1 - alpha) * image + alpha * tinted, image)
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
                     f'border:1px solid #888"></span> {i}&nbsp;{code}{extra}</span>')
    return " ".join(spans)


def pixel_share_bars(counts_by_split: dict[str, np.ndarray], codes: list[str]) -> go.Figure:
    """The share of pixels of each class, per split: background dominates, which is why accuracy flatters."""
    colours = [hex_colour(c) for c in class_colours(codes)]
    fig = go.Figure()
    for (split, counts), opacity in zip(counts_by_split.items(), (1.0, 0.5)):
        share = counts / max(1, counts.sum())
        fig.add_trace(go.Bar(x=list(codes), y=share, name=split, marker_color=colours, opacity=opacity,
                             text=[f"{s:.1%}" for s in share], textposition="outside"))
    fig.update_layout(barmode="group", yaxis_tickformat=".0%", yaxis_title="share of the pixels", height=330,
                      margin=dict(l=10, r=10, t=30, b=10), showlegend=len(counts_by_split) > 1, template="plotly_white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return fig


def iou_bars(iou: np.ndarray, codes: list[str]) -> go.Figure:
    """Intersection over union per class (absent classes left out)."""
    keep = [i for i in range(len(codes)) if not np.isnan(iou[i])]
    colours = [hex_colour(c) for c in class_colours(codes)]
    fig = go.Figure(go.Bar(x=[codes[i] for i in keep], y=[iou[i] for i in keep],
                           marker_color=[colours[i] for i in keep], text=[f"{iou[i]:.2f}" for i in keep],
                           textposition="outside"))
    fig.update_layout(yaxis_range=[0, 1.1], yaxis_title="IoU (1 = perfect overlap)", height=330,
                      margin=dict(l=10, r=10, t=30, b=10), template="plotly_white")
    return fig
