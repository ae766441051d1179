"""Images both image lessons share, and what comes with them from students:

- `check_image`: is this upload really an image we can use? A file is refused (with a sentence saying why) when it is
  too many bytes, is not an image PIL can read, is truncated or corrupt, or has too many pixels. The pixel count is
  read from the header, before anything is decoded, so a decompression bomb (a tiny file claiming 50 000 x 50 000
  pixels) never gets allocated. PIL's own guard (Image.MAX_IMAGE_PIXELS) is still there behind ours. 16-bit and
  floating-point greyscale is scaled to 8 bits, not clipped.
- `displayable`: a copy any picture can be shown as (a 60000 x 1 strip included).
- `zip_members`, `zip_of_files`: zips of photos read and written in memory, refused whole when unsafe.
- `parse_meta`, `safetensors_shapes`, `check_state_shapes`, `load_state`: loading a model someone else made, its
  metadata and the shapes of its weights checked before anything is built from them.
- `normalize`: uint8 batches to normalised floats.
"""
import io
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.errors import StudentError

MAX_FILE_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000          # a 40-megapixel photo; PIL's own bomb limit is ~89M (error at 2x)


@dataclass
class Rejected:
    name: str
    reason: str


def check_image(data: bytes, name: str = "image", max_bytes: int = MAX_FILE_BYTES,
                max_pixels: int = MAX_PIXELS) -> tuple[Image.Image | None, str | None]:
    """(RGB image, None) when the bytes are a usable image, else (None, reason in plain words)."""
    if len(data) > max_bytes:
        return None, f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB"
    if len(data) == 0:
        return None, "the file is empty"
    try:
        with Image.open(io.BytesIO(data)) as probe:   # reads only the header
            width, height = probe.size
            if width * height > max_pixels:
                return None, (f"the image is {width} x {height} pixels; the limit is "
                              f"{max_pixels / 1e6:.0f} megapixels")
            probe.verify()                             # checks the structure without decoding pixels
        with Image.open(io.BytesIO(data)) as img:      # verify() leaves the image unusable: reopen
            img.load()                                 # a truncated file fails here
            return _to_rgb(img), None
    except UnidentifiedImageError:
        return None, "this is not an image file PIL can read (JPEG, PNG, WebP, GIF, BMP or TIFF)"
    except Image.DecompressionBombError:
        return None, "the image claims far too many pixels (it looks like a decompression bomb)"
    except Exception:                                  # PIL raises many kinds on a malformed file
        return None, "the image is damaged or truncated"


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _wide_grey_to_rgb(img)
    if img.mode in ("RGBA", "LA", "P", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _wide_grey_to_rgb(img: Image.Image) -> Image.Image:
    """Greyscale with more than 8 bits (16-bit PNGs and TIFFs, 32-bit integers, floats) scaled to 0..255: PIL's
    own convert("RGB") clips every value above 255, which turns a 16-bit photo all white."""
    values = np.asarray(img)
    if img.mode.startswith("I;16"):
        scaled = values.astype(np.float32) / 257.0                      # 65535 -> 255
    elif img.mode == "F":
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 0.0
        scaled = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0) * (255.0 if 0 <= top <= 1.0 else 1.0)
    else:                                                               # "I": 32-bit integers, whatever range
        top = float(values.max()) if values.size else 0.0
        divisor = 1.0 if top <= 255 else 257.0 if top <= 65535 else top / 255.0
        scaled = values.astype(np.float64) / divisor
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    mean, std = mean.to(images.device), std.to(images.device)
    return (images.float() / 255.0 - mean) / std


# ---- showing a picture ----------------------------------------------------------------------------------------------
def displayable(img: Image.Image | np.ndarray, max_side: int = 768, max_aspect: float = 6.0) -> Image.Image:
    """A copy safe to show in a page (of a PIL image or a uint8 array): at most `max_side` pixels on its longest
    side, and a picture thinner than 1 : `max_aspect` (a 60000 x 1 strip) padded with grey to that shape, so a
    browser that scales it to a thumbnail never gets a side of 0 pixels."""
    img = Image.fromarray(img) if isinstance(img, np.ndarray) else img.copy()
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.LANCZOS)
    w, h = img.size
    width, height = max(w, round(h / max_aspect), 1), max(h, round(w / max_aspect), 1)
    if (width, height) == (w, h):
        return img
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    canvas.paste(img.convert("RGB"), ((width - w) // 2, (height - h) // 2))
    return canvas


# ---- zips of images, read in memory -----------------------------------------------------------------------------------
ZIP_MAX_MEMBERS = 2_000
ZIP_MAX_TOTAL_BYTES = 300 * 2**20


class BadArchive(StudentError):
    """An uploaded archive refused as a whole; the message is a sentence for the student."""


def zip_members(data: bytes, max_members: int = ZIP_MAX_MEMBERS, max_member_bytes: int = MAX_FILE_BYTES,
                max_total_bytes: int = ZIP_MAX_TOTAL_BYTES) -> Iterator[tuple[str, bytes]]:
    """Each regular file of a zip as (its path inside the zip, its bytes), read in memory one at a time: nothing is
    written to disk, so nothing is left behind. The whole zip is refused (BadArchive) before a byte is unpacked when a
    member's name is absolute or climbs out with '..', a member is a link, a device or encrypted, or there are too
    many members, or their declared sizes are over the limits; and while unpacking when a member turns out bigger than
    it declared (zip bombs lie) or damaged."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise BadArchive("This file could not be opened as a zip archive: it is damaged or not a zip.") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            raise BadArchive(f"The zip holds {len(infos):,} files; the limit is {max_members:,}.")
        files = [info for info in infos if _checked_member(info, max_member_bytes)]
        declared = sum(info.file_size for info in files)
        if declared > max_total_bytes:
            raise BadArchive(f"The zip would unpack to {declared / 2**20:,.0f} MB; the limit is "
                             f"{max_total_bytes / 2**20:,.0f} MB.")
        total = 0
        for info in files:
            try:
                with archive.open(info) as member:
                    content = member.read(max_member_bytes + 1)
            except (zipfile.BadZipFile, NotImplementedError, EOFError, RuntimeError, ValueError, zlib.error,
                    OSError):
                raise BadArchive(f"The zip is damaged: '{_shown(info.filename)}' could not be unpacked.") from None
            total += len(content)
            if len(content) > info.file_size or len(content) > max_member_bytes or total > max_total_bytes:
                raise BadArchive(f"The zip was refused: '{_shown(info.filename)}' unpacks to more than it declares "
                                 "(a zip bomb).")
            yield info.filename, content


def _checked_member(info: zipfile.ZipInfo, max_member_bytes: int) -> bool:
    """True for a regular file to read, False for a folder; BadArchive for anything unsafe."""
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise BadArchive(f"The zip was refused: '{_shown(name)}' is an absolute path.")
    if ".." in parts or any("\x00" in p for p in parts):
        raise BadArchive(f"The zip was refused: '{_shown(name)}' would be written outside its folder.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BadArchive(f"The zip was refused: '{_shown(name)}' is a link, and links are not allowed.")
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BadArchive(f"The zip was refused: '{_shown(name)}' is a special file.")
    if info.flag_bits & 0x1:
        raise BadArchive(f"The zip was refused: '{_shown(name)}' is encrypted.")
    if info.is_dir():
        return False
    if info.file_size > max_member_bytes:
        raise BadArchive(f"The zip was refused: '{_shown(name)}' would unpack to {info.file_size / 2**20:,.0f} MB; "
                         f"the limit for one file is {max_member_bytes / 2**20:,.0f} MB.")
    return True


def _shown(name: str) -> str:
    return "".join(c for c in name if c.isprintable())[:80]


def zip_of_files(files: dict[str, bytes]) -> bytes:
    """A zip of {path inside: bytes}, the same bytes for the same files (no timestamps), so the same photos make
    the same upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), files[name])
    return buffer.getvalue()


# ---- a model someone else made: checked before anything is built ------------------------------------------------------
MAX_META_BYTES = 2**20
MAX_META_DEPTH = 6
MAX_HEADER_BYTES = 16 * 2**20
FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")


def parse_meta(raw: bytes) -> dict:
    """A model's metadata (JSON), or ValueError with a sentence: too large, not JSON, nested deeper than a model's
    metadata ever is, or not an object. Nothing else is read from it here: the caller checks each field."""
    if len(raw) > MAX_META_BYTES:
        raise ValueError("the metadata file is larger than a model's metadata can be")
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("the metadata file is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ValueError("the metadata must be a JSON object")
    if _depth(meta) > MAX_META_DEPTH:
        raise ValueError("the metadata is nested far deeper than a model's metadata is")
    return meta


def _depth(value, limit: int = MAX_META_DEPTH + 1) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def safetensors_shapes(source: bytes | Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors file's header, without reading a tensor: `source` is the
    file's bytes (an upload) or its path (safetensors.safe_open reads the header only). ValueError if damaged."""
    if isinstance(source, Path):
        from safetensors import safe_open
        try:
            with safe_open(str(source), framework="pt") as f:
                return {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}
        except FileNotFoundError:
            raise
        except Exception:                     # safetensors' own error type for a damaged or truncated file
            raise ValueError("the weights file is damaged or is not a safetensors file") from None
    if len(source) < 8:
        raise ValueError("the weights file is not a safetensors file")
    size = int.from_bytes(source[:8], "little")
    if size > min(MAX_HEADER_BYTES, len(source) - 8):
        raise ValueError("the weights file is damaged or is not a safetensors file")
    try:
        header = json.loads(source[8:8 + size])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("the weights file is damaged or is not a safetensors file") from None
    if not isinstance(header, dict):
        raise ValueError("the weights file is damaged or is not a safetensors file")
    shapes = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str) and isinstance(shape, list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise ValueError("the weights file is damaged or is not a safetensors file")
        shapes[name] = (entry["dtype"], tuple(shape))
    return shapes


def check_state_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[str, tuple[int, ...]]],
                       what: str) -> None:
    """ValueError (a sentence) unless the weights name exactly the tensors `what` has, each of its shape, floats."""
    missing, extra = set(expected) - set(found), set(found) - set(expected)
    if missing or extra:
        raise ValueError(f"these weights are not those of {what} ({len(missing)} tensors missing, "
                         f"{len(extra)} unexpected)")
    for name, shape in expected.items():
        dtype, got = found[name]
        if tuple(got) != tuple(shape):
            raise ValueError(f"these weights do not fit {what}: '{_shown(name)}' is {list(got)}, not {list(shape)}")
        if dtype not in FLOAT_DTYPES and not name.endswith("num_batches_tracked"):
            raise ValueError(f"these weights do not fit {what}: '{_shown(name)}' holds {dtype}, not floats")


def load_state(source: bytes | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (bytes or path), once its header has been checked."""
    from safetensors.torch import load, load_file
    try:
        return load_file(str(source)) if isinstance(source, Path) else load(source)
    except Exception:
        raise ValueError("the weights file is damaged or is not a safetensors file") from None
