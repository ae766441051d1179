"""Students' photos, whatever they send: zips read in memory and refused whole when unsafe, odd pictures (a 60000 x 1
strip, 16-bit greyscale) converted and shown, class names kept as the text they are."""
import io
import os
import stat
import tempfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.archives import ArchiveRefused, ZipLimits, read_zip, zip_of_files
from core.images import check_image, displayable
from core.vision.data import BadUpload, bundle_classes, load_zip


def jpeg(color=(200, 30, 30), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def png(img: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **options)
    return buf.getvalue()


def make_zip(files: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_zip_is_read_in_memory_and_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
    """The bug: a 329 KB zip left 290 MiB extracted in /tmp. Now nothing is written anywhere."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    photos = {f"{cls}/{i}.jpg": jpeg((i * 7 % 255, 40 if cls == "cat" else 200, 90)) for cls in ("cat", "dog")
              for i in range(150)}
    items = load_zip(make_zip(photos, zipfile.ZIP_DEFLATED))
    assert len(items) == 300 and items.vocab == ["cat", "dog"]
    assert list(temp.iterdir()) == []


def test_a_symlink_member_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bird/a.jpg", jpeg())
        link = zipfile.ZipInfo("bird/passwd.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    with pytest.raises(BadUpload, match="symbolic link"):
        load_zip(buf.getvalue())


@pytest.mark.parametrize("name, words", [("../evil.jpg", "outside the archive"), ("bird/../../evil.jpg", "outside"),
                                         ("/etc/evil.jpg", "absolute path"), ("C:/evil.jpg", "absolute path"),
                                         ("\\\\server\\evil.jpg", "absolute path")])
def test_names_that_climb_out_are_refused_before_anything_is_read(name, words):
    with pytest.raises(BadUpload, match=words):
        load_zip(make_zip({"bird/a.jpg": jpeg(), name: jpeg()}))


def test_a_bomb_that_declares_its_size_is_refused_before_unpacking():
    data = make_zip({"bird/a.jpg": jpeg(), "bird/huge.jpg": b"\0" * (3 * 2**20)}, zipfile.ZIP_DEFLATED)
    assert len(data) < 100_000
    with pytest.raises(ArchiveRefused, match="unpacks to 3 MB; each file may be at most 1 MB"):
        read_zip(data, ZipLimits(max_member_bytes=2**20))
    many = make_zip({f"bird/{i}.jpg": b"\0" * 200_000 for i in range(20)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(ArchiveRefused, match="more than 2 MB"):
        read_zip(many, ZipLimits(max_total_bytes=2 * 2**20))
    with pytest.raises(ArchiveRefused, match="holds 20 files; at most 10"):
        read_zip(many, ZipLimits(max_members=10))


def test_a_bomb_that_lies_about_its_size_is_refused_while_unpacking():
    """The central directory says 1 kB; the data unpacks to 5 MB of zeros."""
    honest = make_zip({"bird/a.jpg": b"\0" * (5 * 2**20)}, zipfile.ZIP_DEFLATED)
    lying = bytearray(honest)
    size = (5 * 2**20).to_bytes(4, "little")
    for header in (b"PK\x03\x04", b"PK\x01\x02"):           # the local header and the central directory
        at = lying.find(header)
        field = at + (22 if header == b"PK\x03\x04" else 24)  # uncompressed size
        assert lying[field:field + 4] == size
        lying[field:field + 4] = (1000).to_bytes(4, "little")
    with pytest.raises(BadUpload, match="zip bomb|damaged"):
        load_zip(bytes(lying))


def test_something_that_is_not_a_zip_and_a_damaged_zip_get_sentences():
    with pytest.raises(BadUpload, match="not a zip archive"):
        load_zip(b"PK but not really a zip")
    damaged = bytearray(make_zip({"bird/a.jpg": jpeg(), "dog/b.jpg": jpeg()}, zipfile.ZIP_DEFLATED))
    damaged[40:60] = b"\xff" * 20                               # inside the first member's compressed data
    with pytest.raises(BadUpload, match="damaged|not a zip"):
        load_zip(bytes(damaged))


def test_class_names_are_kept_as_written_and_bad_ones_refused():
    items = load_zip(make_zip({"**bold** $x$/a.jpg": jpeg(), "<i>dog [x](y)/b.jpg": jpeg()}))
    assert items.vocab == ["**bold** $x$", "<i>dog [x](y)"]
    with pytest.raises(BadUpload, match="at most 60 characters"):
        load_zip(make_zip({"x" * 61 + "/a.jpg": jpeg(), "y/b.jpg": jpeg()}))
    with pytest.raises(BadUpload, match="at most 50"):
        load_zip(make_zip({f"class{i}/a.jpg": jpeg() for i in range(51)}))
    with pytest.raises(BadUpload, match="without slashes"):
        bundle_classes({"a/b": [("x.jpg", jpeg())], "c": [("y.jpg", jpeg())]})


def test_photos_taken_class_by_class_make_the_same_zip_for_the_same_photos():
    photos = {"bird": [("a.jpg", jpeg((1, 2, 3))), ("a.jpg", jpeg((4, 5, 6)))], "forest": [("..hidden", jpeg())]}
    first, again = bundle_classes(photos), bundle_classes(photos)
    assert first == again                                          # same photos, same stored input
    items = load_zip(first)
    assert sorted(items.names) == ["bird/1_a.jpg", "bird/a.jpg", "forest/hidden"]


def test_zip_of_files_round_trips():
    files = {"b/2.jpg": b"two", "a/1.jpg": b"one"}
    assert read_zip(zip_of_files(files)) == files


def test_a_16_bit_greyscale_png_keeps_its_shades():
    ramp = (np.arange(256, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)    # 0..65535
    img, reason = check_image(png(Image.fromarray(ramp)))
    assert reason is None
    grey = np.asarray(img)[..., 0]
    np.testing.assert_array_equal(grey, np.arange(256).reshape(16, 16))                 # not all white
    assert (np.asarray(img)[..., 0] == np.asarray(img)[..., 2]).all()


def test_32_bit_and_float_greyscale_are_scaled_not_clipped():
    ints = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))
    assert ints.mode == "I"
    buf = io.BytesIO()
    ints.save(buf, format="TIFF")
    img, _ = check_image(buf.getvalue())
    assert np.asarray(img)[0, :, 0].tolist() == [0, 128, 255]
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    buf = io.BytesIO()
    floats.save(buf, format="TIFF")
    img, _ = check_image(buf.getvalue())
    assert np.asarray(img)[0, :, 0].tolist() == [0, 128, 255]


def test_a_60000_by_1_strip_can_be_shown():
    data = png(Image.new("RGB", (60000, 1), (250, 0, 0)))
    img, reason = check_image(data)
    assert reason is None and img.size == (60000, 1)
    shown = displayable(img)
    assert max(shown.size) <= 768 and shown.size[0] / shown.size[1] <= 6.01
    assert shown.resize((140, round(140 * shown.size[1] / shown.size[0]))).size[1] >= 1   # what the browser does
    tall = displayable(Image.new("RGB", (1, 50000)))
    assert tall.size[1] / tall.size[0] <= 6.01
    ordinary = displayable(Image.new("RGB", (300, 200)))
    assert ordinary.size == (300, 200)


def test_damage_never_reaches_the_student_as_an_exception_text():
    data = png(Image.new("RGB", (50, 50), (1, 2, 3)))
    _, reason = check_image(data[: len(data) - 30])
    assert reason == "the image is damaged or truncated"
    assert os.sep not in reason
