"""Text from a student's file (a class name, a photo's name) shown inside markdown: escaped, so that it reads as
the text it is, never as a link, an image or formatting."""
import re

_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")       # every ASCII punctuation mark: no bold, link, $LaTeX$, :red[...]


def plain(text) -> str:
    """`text` with every markdown character escaped, on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))


_LABEL_MARKDOWN = re.compile(r"([\\*_~`$\[\]:<])")   # what a widget label's markdown acts on: bold, code, LaTeX, links...


def widget_label(text) -> str:
    """`text` as a widget's label: escapes only the characters a label's markdown acts on (bold and italics, code,
    $LaTeX$, [links], :directives[...]), since the label is also the widget's accessible name: "education-num"
    stays "education-num" for a screen reader, where plain() would make it "education\\-num"."""
    return _LABEL_MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))


def chance(p: float) -> str:
    """A probability as a student reads it: in whole percents, but with one decimal where rounding would claim a
    certainty the model does not have (99.8% shown as 100%, 0.3% as 0%)."""
    whole = f"{p:.0%}"
    if whole not in ("0%", "100%") or p <= 0 or p >= 1:
        return whole
    tenth = f"{p:.1%}"
    return {"0.0%": "<0.1%", "100.0%": ">99.9%"}.get(tenth, tenth)


def points_apart(a: float, b: float) -> float:
    """a - b in percentage points, between the two as a page shows them (`f"{a:.1%}"`), so that the gap agrees with
    the numbers beside it: 84.04% and 83.66% show as 84.0% and 83.7%, 0.3 points apart, where their own gap (0.38)
    would say 0.4."""
    return round(float(f"{a * 100:.1f}") - float(f"{b * 100:.1f}"), 1)


def count(n: int, noun: str) -> str:
    """ "1 row", "1,200 rows": a number with its noun, singular where it is one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
