"""Images both image lessons share, and what comes with them from students:

- `check_image`: is this upload really an image we can use? A file is refused (with a sentence saying why) when it is
  too many bytes, is not an image PIL can read, is truncated or corrupt, or has too many pixels. The pixel count is
  read from the header, before anything is decoded, so a decompression bomb (a tiny file claiming 50 000 x 50 000
  pixels) never gets allocated. PIL's own guard (Image.MAX_IMAGE_PIXELS) is still there behind ours. 16-bit and
  floating-point greyscale is scaled to 8 bits, not clipped.
- `displayable`: a copy any picture can be shown as (a 60000 x 1 strip included).
- `normalize`: uint8 batches to normalised floats.
"""
import io
from dataclasses import dataclass

import numpy as np
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
        return None, "this is not an image this server can read (it reads JPEG, PNG, WebP, GIF, BMP and TIFF)"
    except Image.DecompressionBombError:
        return None, "the file claims far more pixels than any photo has, so it was not opened"
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


class OnDevice:
    """What a batch transform needs on the batch's device, made there once: its normalisation stats and a seeded
    random stream. Copying from the CPU to a GPU at every batch (a random draw, a mean) makes the CPU wait for the
    GPU to finish everything queued before it can go on: no step could be queued while the last one ran. On the CPU
    the stream is the seeded CPU generator itself, so a CPU run draws exactly what it drew before."""

    def __init__(self, mean, std, seed: int = 0):
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._made: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Generator]] = {}

    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
        """(mean, std, generator) on `device`."""
        key = str(device)
        if key not in self._made:
            generator = (self.generator if device.type == "cpu"
                         else torch.Generator(device=device).manual_seed(self.seed))
            self._made[key] = (self.mean.to(device), self.std.to(device), generator)
        return self._made[key]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        mean, std, _ = self.on(images.device)
        return normalize(images, mean, std)

    def rand(self, n: int, device: torch.device) -> torch.Tensor:
        """n uniform numbers in [0, 1), drawn on `device`."""
        return torch.rand(n, generator=self.on(device)[2], device=device)


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
