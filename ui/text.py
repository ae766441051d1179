"""Text from a student's file (a class name, a photo's name) shown inside markdown: escaped, so that it reads as
the text it is, never as a link, an image or formatting."""
import re

_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")       # every ASCII punctuation mark: no bold, link, $LaTeX$, :red[...]


def plain(text) -> str:
    """`text` with every markdown character escaped, on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
