"""A student's own segmentation data: a zip of photos, masks with the same names and codes.txt, read in memory and
checked. Every bad zip gets a sentence; nothing is written to the temp folder."""
import io
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from core.archives import ArchiveRefused, ZipLimits, read_zip
from core.errors import StudentError
from core.segmentation.data import BadSegmentationData, items_from_zip

CODES = "background\nred thing\ngreen thing\n"


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def squares(n: int = 12, size=(64, 48), seed: int = 0):
    """Black photos with a red square (code 1) on the left and a green one (code 2) on the right."""
    rng = np.random.default_rng(seed)
    w, h = size
    for i in range(n):
        img, mask = np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.uint8)
        for code, colour in ((1, (255, 0, 0)), (2, (0, 255, 0))):
            x, y = (code - 1) * w // 2 + rng.integers(0, w // 2 - 12), rng.integers(0, h - 12)
            img[y:y + 12, x:x + 12] = colour
            mask[y:y + 12, x:x + 12] = code
        yield f"f{i:02d}", img, mask


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def squares_files(n: int = 12, top: str = "", layout: str = "camvid", codes: str = CODES, size=(64, 48)) -> dict:
    files = {f"{top}codes.txt": codes.encode()}
    for stem, img, mask in squares(n, size):
        files[f"{top}images/{stem}.png"] = png(img)
        mask_name = f"labels/{stem}_P.png" if layout == "camvid" else f"masks/{stem}.png"
        files[f"{top}{mask_name}"] = png(mask)
    return files


def squares_zip(n: int = 12, **kwargs) -> bytes:
    return zip_of(squares_files(n, **kwargs))


@pytest.mark.parametrize("top, layout", [("", "camvid"), ("my_data/", "camvid"), ("", "masks")])
def test_a_good_zip_gives_photos_with_their_masks(top, layout):
    items = items_from_zip(squares_zip(8, top=top, layout=layout), "mine.zip")
    assert items.codes == ["background", "red thing", "green thing"] and len(items) == 8
    assert items.names == [f"f{i:02d}.png" for i in range(8)] and items.description == "your zip 'mine.zip'"
    for img, mask in zip(items.images, items.masks):
        rgb = np.asarray(img)
        codes_from_colour = np.where(rgb[..., 0] > 128, 1, np.where(rgb[..., 1] > 128, 2, 0))
        np.testing.assert_array_equal(mask, codes_from_colour)


def mutate(files: dict, changes: dict) -> bytes:
    """The zip of `files` with some replaced, or removed where the change is None."""
    files = dict(files)
    for name, data in changes.items():
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    return zip_of(files)


GOOD = squares_files(6)


@pytest.mark.parametrize("data, words", [
    (mutate(GOOD, {"labels/f02_P.png": png(np.zeros((20, 20), np.uint8))}),
     "f02_P.png is 20x20 but its image is 64x48"),                                         # sizes differ
    (mutate(GOOD, {"labels/f01_P.png": png(np.full((48, 64), 7, np.uint8))}),
     "f01_P.png uses code 7, but codes.txt names only 3 classes"),                         # a value outside the codes
    (mutate(GOOD, {"labels/f01_P.png": png(np.full((48, 64), 3, np.uint8))}),
     "f01_P.png uses code 3, but codes.txt names only 3 classes"),                         # just outside: 0-2 only
    (mutate(GOOD, {"labels/f03_P.png": None, "labels/f04_P.png": None}),
     "f03.png, f04.png have no mask: expected labels/f03_P.png or masks/f03.png for f03.png"),   # missing masks
    (mutate(GOOD, {"labels/f00_P.png": png(np.zeros((48, 64, 3), np.uint8))}), "one code per pixel"),
    (mutate(GOOD, {"images/f00.png": b"%PDF-1.4 not a photo"}), "f00.png can't be used"),
    (mutate(GOOD, {"codes.txt": None}), "no codes.txt"),
    (mutate(GOOD, {"codes.txt": b"only one\n"}), "at least two"),
    (mutate(GOOD, {"codes.txt": b"sky\nsky\n"}), "twice"),
    (mutate(GOOD, {"codes.txt": "caf\xe9\nx\n".encode("latin-1")}), "not a UTF-8 text file"),
    (zip_of({"codes.txt": CODES.encode(), "notes.txt": b"hello"}), "no photos in an images/ folder"),
    (b"PK\x03\x04 this is not really a zip", "not a zip archive"),
])
def test_a_bad_zip_gets_a_sentence(data, words):
    with pytest.raises(StudentError, match=words):
        items_from_zip(data, "bad.zip")


def test_a_mask_claiming_billions_of_pixels_is_not_decoded():
    header_only = png(np.zeros((1, 1), np.uint8))
    huge = bytearray(header_only)
    huge[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")      # the IHDR's width and height
    huge[29:33] = zlib.crc32(bytes(huge[12:29])).to_bytes(4, "big")                  # ... with a valid checksum
    with pytest.raises(BadSegmentationData, match="f00_P.png claims far more pixels"):
        items_from_zip(mutate(GOOD, {"labels/f00_P.png": bytes(huge)}))


def raw_zip(name: str, data: bytes = b"x", mode: int | None = None, flags: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("codes.txt", CODES)
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        info.flag_bits |= flags
        z.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("data, words", [
    (raw_zip("../../etc/cron.d/evil"), "points outside the archive"),
    (raw_zip("images/../../x.png"), "points outside the archive"),
    (raw_zip("/etc/passwd"), "is an absolute path"),
    (raw_zip("C:\\Windows\\x.png"), "is an absolute path"),
    (raw_zip("images/link.png", b"/etc/passwd", mode=stat.S_IFLNK | 0o777), "is a symbolic link"),
    (raw_zip("images/fifo.png", mode=stat.S_IFIFO | 0o644), "is not a regular file"),
])
def test_an_unsafe_zip_is_refused(data, words):
    with pytest.raises(ArchiveRefused, match=words):
        read_zip(data)


def test_a_zip_bomb_is_refused_on_the_bytes_it_really_unpacks_to():
    bomb = zip_of({"codes.txt": CODES.encode(), "images/a.png": b"\0" * (20 * 2**20)})   # 20 MB of zeros: ~20 kB
    assert len(bomb) < 100_000
    with pytest.raises(ArchiveRefused, match="zip bomb"):
        read_zip(bomb)
    with pytest.raises(ArchiveRefused, match="at most 1 MB"):                          # the header's size
        read_zip(bomb, ZipLimits(max_member_bytes=2**20))


def test_a_header_that_lies_about_the_size_is_caught_while_unpacking():
    data = bytearray(zip_of({"images/a.png": os.urandom(3 * 2**20)}))
    data = data.replace((3 * 2**20).to_bytes(4, "little"), (1000).to_bytes(4, "little"))   # claims 1000 bytes
    with pytest.raises(ArchiveRefused):
        read_zip(bytes(data), ZipLimits(max_member_bytes=2**20))


def test_too_many_files_and_hidden_files():
    many = zip_of({f"images/{i}.png": b"x" for i in range(30)})
    with pytest.raises(ArchiveRefused, match="at most 20"):
        read_zip(many, ZipLimits(max_members=20))
    files = read_zip(zip_of({"__MACOSX/images/._a.png": b"junk", "images/.DS_Store": b"junk", "codes.txt": b"a\nb"}))
    assert list(files) == ["codes.txt"]


def test_nothing_is_written_to_the_temp_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    items_from_zip(squares_zip(4))
    with pytest.raises(StudentError):
        items_from_zip(mutate(GOOD, {"labels/f03_P.png": None}))
    assert not list(tmp_path.iterdir())
