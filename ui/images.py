"""Pictures for `st.image`, encoded once per server rather than on every run of a page.

Given an array or a PIL image, Streamlit encodes it as a JPEG at quality 100 on every run of the page, for every
student, then decodes that, shrinks it to the width it is shown at and encodes it again. A lesson shows dozens of
pictures: on the bird lesson this was a third of the server's time per visit (py-spy, 2-core machine). Here a picture
is shrunk to the width it is shown at and encoded once (a JPEG at quality 90, Streamlit's own second encoding; a PNG
where it may be transparent), remembered by its pixels, and handed to Streamlit as bytes, which it passes on as they
are."""
import hashlib
import io
import threading
from collections import OrderedDict

import numpy as np
import streamlit as st
from PIL import Image

CACHE_BYTES = 64 * 2**20        # per server process: ~6,000 thumbnails of 130 px, ~600 pictures of 700 px

_cache: OrderedDict[bytes, bytes] = OrderedDict()
_cached_bytes = 0
_lock = threading.Lock()        # page scripts of several sessions run at once, each in its own thread


def encoded(picture: Image.Image | np.ndarray, width: int | None = None) -> bytes:
    """`picture` as the bytes of an image file, at most `width` pixels wide (and never bigger than
    core.images.displayable allows), remembered by its pixels and width."""
    key = _key(picture, width)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    data = _encode(picture, width)
    _remember(key, data)
    return data


def show(pictures, captions=None, width: int | None = None, where=st) -> None:
    """`st.image` of several pictures in a row (one element, not a column each), each encoded once."""
    pictures = list(pictures)
    where.image([encoded(p, width) for p in pictures], caption=list(captions) if captions is not None else None,
                width=width if width else "stretch")


def _key(picture, width) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    if isinstance(picture, Image.Image):
        digest.update(f"{picture.mode} {picture.size}".encode())
        if picture.mode == "P":
            digest.update(bytes(picture.getpalette() or ()) + repr(picture.info.get("transparency")).encode())
        digest.update(picture.tobytes())
    else:
        array = np.ascontiguousarray(picture)
        digest.update(f"{array.dtype} {array.shape}".encode())
        digest.update(array.data)
    digest.update(f" {width}".encode())
    return digest.digest()


def _encode(picture, width) -> bytes:
    from core.images import displayable       # here, not above: it imports torch, and the welcome page draws with us
    if isinstance(picture, np.ndarray) and picture.dtype != np.uint8:
        picture = picture.astype(np.uint8)           # as Streamlit does with an array
    img = displayable(picture)
    if width and img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)
    out = io.BytesIO()
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img.save(out, format="PNG")
    else:
        img.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def _remember(key: bytes, data: bytes) -> None:
    global _cached_bytes
    with _lock:
        if key in _cache:
            return
        _cache[key] = data
        _cached_bytes += len(data)
        while _cached_bytes > CACHE_BYTES and _cache:
            _, dropped = _cache.popitem(last=False)
            _cached_bytes -= len(dropped)


MARKDOWN_SIGNS = "\\`*_[]$~"     # characters Streamlit's markdown would read in text between tags (emphasis, maths)


def drawing(svg: str, where=st, narrow: str | None = None) -> None:
    """An SVG drawing made by this app's own code (core/), inline in the page: `st.html` sanitises SVG away and
    `st.image` would hide its text from screen readers. Markdown's own signs are written as character references, so
    the drawing's text is shown as it is. `narrow`: the same drawing laid out for a place narrower than
    ui/frame.NARROW_PX, shown there instead (the browser picks, by a CSS container query: no rerun)."""
    for one in (svg, narrow or "<svg"):
        if not one.lstrip().startswith("<svg"):
            raise ValueError("drawing() shows an <svg> made by the app, nothing else")
    shown = f'<div class="l1-pic">{svg}</div>' if narrow is None else \
        f'<div class="l1-pic l1-drawing"><div class="l1-wide">{svg}</div><div class="l1-narrow">{narrow}</div></div>'
    for sign in MARKDOWN_SIGNS:
        shown = shown.replace(sign, f"&#{ord(sign)};")
    where.markdown(shown.replace("\n", " "), unsafe_allow_html=True)
