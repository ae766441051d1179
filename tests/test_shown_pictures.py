"""ui/images.py: pictures encoded once, at the width they are shown at, remembered by their pixels."""
import io

import numpy as np
import pytest
from PIL import Image

from ui import images


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(images, "_cache", type(images._cache)())
    monkeypatch.setattr(images, "_cached_bytes", 0)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def photo(seed=0, size=(224, 160)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def test_a_picture_is_shrunk_to_the_width_shown_and_encoded_once():
    data = images.encoded(photo(), 130)
    img = opened(data)
    assert img.format == "JPEG" and img.size == (130, 93)                 # 160 * 130 / 224, rounded
    assert images.encoded(photo(), 130) is data                          # the same pixels: not encoded again
    assert images.encoded(Image.fromarray(photo()), 130) is not data     # a PIL image: its own key, the same look
    assert opened(images.encoded(photo(), 300)).size == (224, 160)       # never made bigger


def test_a_different_picture_or_width_is_a_different_entry():
    changed = photo()
    changed[0, 0, 0] ^= 1
    first = images.encoded(photo(), 130)
    assert images.encoded(changed, 130) is not first
    assert images.encoded(photo(), 64) is not first and opened(images.encoded(photo(), 64)).width == 64


def test_transparency_is_kept_as_png_and_odd_pictures_are_made_showable():
    rgba = np.zeros((20, 20, 4), np.uint8)
    assert opened(images.encoded(rgba)).format == "PNG"
    strip = opened(images.encoded(np.zeros((1, 600, 3), np.uint8)))      # a 600 x 1 strip: padded, never 0 px high
    assert strip.height >= 100
    floats = opened(images.encoded(np.full((8, 8), 3.7)))                # as Streamlit does: to uint8
    assert np.asarray(floats.convert("L")).max() in (3, 4)


def test_the_cache_keeps_to_its_budget(monkeypatch):
    monkeypatch.setattr(images, "CACHE_BYTES", 40_000)
    for seed in range(20):
        images.encoded(photo(seed), 130)                                 # noise: ~10 KB each as JPEG
    assert images._cached_bytes <= 40_000 and 1 <= len(images._cache) < 20
    assert images._cached_bytes == sum(len(v) for v in images._cache.values())
    newest = images.encoded(photo(19), 130)
    assert images.encoded(photo(19), 130) is newest                      # the latest is still there


def test_shown_in_a_page_with_captions():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_string("""
import numpy as np
from ui import images
images.show([np.zeros((50, 80, 3), np.uint8), np.full((50, 80, 3), 200, np.uint8)], ["dark", "<b>light</b>"], width=40)
""").run()
    assert not at.exception
    (shown,) = at.image                                                  # one element for the row
    assert shown.captions == ["dark", "<b>light</b>"]
    assert all(i.url.endswith(".jpg") for i in shown.proto.imgs)


def test_a_drawing_is_inline_svg_whose_text_markdown_leaves_alone():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_string("""
from core.basics.figures import loop_svg
from ui import images
images.drawing(loop_svg("loss", {"inputs": "*x* _y_ $z$"}))
""").run()
    assert not at.exception
    (shown,) = at.markdown
    assert shown.value.startswith('<div class="l1-pic"><svg') and "\n" not in shown.value
    assert "&#42;x&#42; &#95;y&#95; &#36;z&#36;" in shown.value          # shown as typed, not as emphasis or maths
    assert not any(sign in shown.value for sign in images.MARKDOWN_SIGNS)
    with pytest.raises(ValueError):
        images.drawing("<img src=x onerror=alert(1)>")
    with pytest.raises(ValueError):
        images.drawing("<svg></svg>", narrow="<img src=x onerror=alert(1)>")


def test_a_drawing_with_a_narrow_layout_sends_both_in_one_element():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_string("""
from core.basics.figures import loop_svg
from ui import images
images.drawing(loop_svg("loss", {"inputs": "*x*"}), narrow=loop_svg("loss", {"inputs": "*x*"}, tall=True))
""").run()
    assert not at.exception
    (shown,) = at.markdown
    assert shown.value.startswith('<div class="l1-pic l1-drawing"><div class="l1-wide"><svg')
    assert shown.value.count("<svg") == 2 and '<div class="l1-narrow"><svg' in shown.value
    assert shown.value.count("&#42;x&#42;") == 2 and "*" not in shown.value
