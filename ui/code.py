"""Code blocks: the course's code beside each step, coloured here on the server, with a copy button.

Why not st.code: its first block on a page makes the browser load and run a 1.6 MB highlighter that knows ~300
languages (~0.22 s of the main thread on a fresh page, then ~14 ms a block), for the few lines of Python each
lesson shows. Python's own tokenizer colours them here; the browser only draws spans.
"""
from __future__ import annotations

import functools
import hashlib
import html
import io
import keyword
import sys
import tokenize
from pathlib import Path

from ui.components import component

_KINDS = {tokenize.COMMENT: "c", tokenize.NUMBER: "n", tokenize.STRING: "s"}
for _name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):      # Python 3.12 splits f-strings
    if hasattr(tokenize, _name):
        _KINDS[getattr(tokenize, _name)] = "s"
_CONSTANTS = {"True", "False", "None"}


def _tokens(code: str):
    """Python's tokens of `code`, as far as they go: a fragment (an unclosed bracket, a line out of context) is
    still coloured up to where the tokenizer stopped, then shown plain."""
    try:
        yield from tokenize.generate_tokens(io.StringIO(code).readline)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


@functools.lru_cache(maxsize=1024)           # pages show the same few blocks at every rerun
def highlighted(code: str, language: str | None = "python") -> str:
    """`code` as HTML: every character escaped, Python's keywords, names defined or called, strings, numbers and
    comments in spans of their class (k, d, f, s, n, c). Any other language is escaped only."""
    if language != "python":
        return html.escape(code)
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    offset = lambda row_col: starts[row_col[0] - 1] + row_col[1]         # the ENDMARKER's row is len(starts)
    out, done, previous = [], 0, None
    for token in _tokens(code):
        begin, end = offset(token.start), offset(token.end)
        if begin < done or end <= begin:
            continue
        kind = _KINDS.get(token.type)
        if token.type == tokenize.NAME:
            if keyword.iskeyword(token.string):
                kind = "n" if token.string in _CONSTANTS else "k"
            elif previous is not None and previous.string in ("def", "class"):
                kind = "d"
            elif code[end:end + 1] == "(":
                kind = "f"
        out.append(html.escape(code[done:begin]))
        text = html.escape(code[begin:end])
        out.append(f'<span class="{kind}">{text}</span>' if kind else text)
        done = end
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            previous = token
    out.append(html.escape(code[done:]))
    return "".join(out)


KEY_PREFIX = "lesson1-code-"          # every block's element has the class st-key-<its key>
SELECTOR = f'[class*="st-key-{KEY_PREFIX}"]'      # every block on a page (presentation mode hides them by it)
_CODE = component("lesson1_code", "code")


def show_code(code: str, language: str | None = "python", *, where=None, wrap: bool = False,
              key: str | None = None) -> None:
    """A code block, as st.code draws one, in `where` (a column; the page by default); `wrap`: long lines wrap
    instead of scrolling. Streamlit needs a key per block; unless given, it is the line that asked for the block
    and what the block shows, so that two blocks alike from one helper (a run's link, per run) never clash."""
    if key is None:
        caller = sys._getframe(1)
        digest = hashlib.blake2b(f"{language}\0{code}".encode(), digest_size=6).hexdigest()
        key = f"{Path(caller.f_code.co_filename).stem}-{caller.f_lineno}-{digest}"
    key = KEY_PREFIX + key
    data = {"html": highlighted(code, language), "text": code, "wrap": wrap}
    if where is None:
        _CODE(data=data, key=key)
    else:
        with where:
            _CODE(data=data, key=key)
