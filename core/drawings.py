"""SVG drawings made by the app's own code (Samuel's loop, the gradient's arrows, bar charts), shown inline by
ui/images.drawing: the element every one of them is wrapped in."""
import html

INK = "#0f172a"


def svg(width, height, label: str, parts: list[str], style: str = "display:block", attrs: str = "") -> str:
    """A drawing `width` x `height` units that scales with the page; `label` is what a screen reader says of it."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" style="{style}" '
            f'role="img" aria-label="{html.escape(label)}" fill="{INK}" {attrs}>{"".join(parts)}</svg>')
