"""Images every lesson shares: is this upload really an image we can use (`check_image`), and normalising a batch.

A file is refused (with a sentence saying why) when it is too many bytes, is not an image PIL can
read, is truncated or corrupt, or has too many pixels. The pixel count is read from the header,
before anything is decoded, so a decompression bomb (a tiny file claiming 50 000 x 50 000 pixels)
never gets allocated. PIL's own guard (Image.MAX_IMAGE_PIXELS) is still there behind ours.
"""
import io
from dataclasses import dataclass

import torch
from PIL import Image, UnidentifiedImageError

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
    except (OSError, SyntaxError, ValueError) as e:
        return None, f"the image is damaged or truncated ({e})"


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    mean, std = mean.to(images.device), std.to(images.device)
    return (images.float() / 255.0 - mean) / std
