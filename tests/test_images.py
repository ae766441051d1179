"""Every uploaded file is checked: real images pass, everything else is refused with a reason."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from core.images import check_image
from core.vision.data import BadUpload, load_uploads, load_zip


def jpeg_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_real_jpeg_and_an_rgba_png_are_accepted_as_rgb():
    img, reason = check_image(jpeg_bytes())
    assert reason is None and img.mode == "RGB" and img.size == (40, 30)
    rgba = Image.new("RGBA", (8, 8), (0, 0, 255, 0))           # fully transparent: shown on white
    img, reason = check_image(png_bytes(rgba))
    assert reason is None and np.asarray(img)[0, 0].tolist() == [255, 255, 255]


def test_a_text_file_named_jpg_is_refused():
    img, reason = check_image(b"hello, I am not a photo\n" * 10, "cat.jpg")
    assert img is None and "not an image" in reason


def test_a_truncated_jpeg_is_refused():
    data = jpeg_bytes((200, 200))
    img, reason = check_image(data[: len(data) // 2], "half.jpg")
    assert img is None and ("truncated" in reason or "damaged" in reason)


def test_a_huge_pixel_png_is_refused_before_it_is_decoded():
    # 8000 x 6000 one-bit pixels: 48 megapixels in a few kB of PNG, over our 40-megapixel limit
    data = png_bytes(Image.new("1", (8000, 6000)))
    assert len(data) < 100_000
    img, reason = check_image(data, "bomb.png")
    assert img is None and "8000 x 6000" in reason and "megapixels" in reason


def test_pil_own_bomb_guard_is_reported_in_words(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)          # PIL raises at twice this
    img, reason = check_image(png_bytes(Image.new("RGB", (20, 20))), max_pixels=10**9)
    assert img is None and "far more pixels than any photo" in reason


def test_too_many_bytes_and_empty_files_are_refused():
    assert "limit is" in check_image(jpeg_bytes(), max_bytes=100)[1]
    assert "empty" in check_image(b"")[1]


def test_a_zip_with_class_folders_keeps_the_good_files_and_lists_the_bad(tmp_path):
    data = make_zip({"bird/a.jpg": jpeg_bytes(), "bird/b.jpg": jpeg_bytes(color=(1, 2, 3)),
                     "forest/c.jpg": jpeg_bytes(color=(0, 200, 0)), "forest/fake.jpg": b"not an image",
                     "loose.jpg": jpeg_bytes(), "__MACOSX/bird/._a.jpg": b"junk"})
    items = load_zip(data)
    assert sorted(items.names) == ["bird/a.jpg", "bird/b.jpg", "forest/c.jpg"]
    assert items.labels == ["bird", "bird", "forest"] and items.vocab == ["bird", "forest"]
    reasons = {r.name: r.reason for r in items.rejected}
    assert set(reasons) == {"forest/fake.jpg", "loose.jpg"}
    assert "not an image" in reasons["forest/fake.jpg"] and "class folder" in reasons["loose.jpg"]


def test_a_zip_wrapped_in_one_top_folder_still_finds_the_classes(tmp_path):
    items = load_zip(make_zip({"photos/cat/1.jpg": jpeg_bytes(), "photos/dog/2.jpg": jpeg_bytes()}))
    assert items.labels == ["cat", "dog"]


@pytest.mark.parametrize("name", ["../evil.jpg", "bird/../../evil.jpg", "/etc/evil.jpg"])
def test_a_zip_with_path_traversal_is_refused_and_writes_nothing_outside(tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BadUpload, match="refused"):
        load_zip(make_zip({"bird/a.jpg": jpeg_bytes(), name: jpeg_bytes()}))
    assert not (tmp_path / "evil.jpg").exists()
    assert not (work / "extracted").exists()


def test_something_that_is_not_a_zip_gets_a_sentence(tmp_path):
    with pytest.raises(BadUpload):
        load_zip(b"PK but not really a zip")


def test_class_by_class_uploads_check_every_file():
    items = load_uploads({"bird": [("a.jpg", jpeg_bytes()), ("b.txt.jpg", b"text")],
                          "forest": [("c.png", png_bytes(Image.new("RGB", (9, 9))))]})
    assert items.labels == ["bird", "forest"]
    assert [r.name for r in items.rejected] == ["bird/b.txt.jpg"]


def test_pets_labels_follow_the_course_is_cat_and_breed_and_bad_files_are_listed(tmp_path):
    from core.vision.data import load_pets
    images = tmp_path / "images"
    images.mkdir()
    for name in ("Abyssinian_1.jpg", "Bengal_12.jpg", "american_bulldog_3.jpg"):
        (images / name).write_bytes(jpeg_bytes())
    (images / "Egyptian_Mau_9.jpg").write_bytes(b"broken")
    cats = load_pets(tmp_path, "is_cat")
    assert dict(zip(cats.names, cats.labels)) == {"Abyssinian_1.jpg": "cat", "Bengal_12.jpg": "cat",
                                                  "american_bulldog_3.jpg": "dog"}
    assert [r.name for r in cats.rejected] == ["Egyptian_Mau_9.jpg"]
    assert load_pets(tmp_path, "breed").vocab == ["Abyssinian", "Bengal", "american_bulldog"]
    assert len(load_pets(tmp_path, "is_cat", limit=2).images) <= 2


def test_a_batch_transform_makes_its_stats_and_draws_on_the_batch_device_once():
    """On the CPU the draws are the seeded CPU generator's own, as before; the stats are moved once per device,
    not at every batch (on a GPU each move made the CPU wait for the GPU)."""
    from core.images import OnDevice
    side = OnDevice((0.5, 0.4, 0.3), (0.2, 0.2, 0.2), seed=7)
    cpu = torch.device("cpu")
    old = torch.Generator().manual_seed(7)
    for _ in range(3):
        assert torch.equal(side.rand(5, cpu), torch.rand(5, generator=old))
    mean, std, generator = side.on(cpu)
    assert side.on(cpu)[0] is mean and side.on(cpu)[2] is generator        # made once, kept
    images = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    expected = (images.float() / 255 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / 0.2
    assert torch.allclose(side.normalize(images), expected)
