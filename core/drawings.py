"""SVG drawings made by the app's own code (Samuel's loop, the gradient's arrows, bar and line charts), shown
inline by ui/images.drawing: the element every one of them is wrapped in, their colours of text, and round ticks."""
import html
import math

INK, FAINT = "#0f172a", "#64748b"


def svg(width, height, label: str, parts: list[str], style: str = "display:block", attrs: str = "") -> str:
    """A drawing `width` x `height` units that scales with the page; `label` is what a screen reader says of it."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" style="{style}" '
            f'role="img" aria-label="{html.escape(label)}" fill="{INK}" {attrs}>{"".join(parts)}</svg>')


def ticks(lo: float, hi: float, most: int = 9) -> list[float]:
    """Round numbers along an axis from `lo` to `hi`: steps of 1, 2 or 5 times a power of ten, at most `most`."""
    raw = (hi - lo) / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [round(k * step, 12) + 0.0 for k in range(first, last + 1)]          # + 0.0: never a "-0" tick
