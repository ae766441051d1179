"""Transforms. Item transforms (Resize with squish / crop / pad) run once per image, on the CPU, when the
images are decoded. Batch transforms (random resized crop, flip, normalise) run on whole uint8 batches
on the training device, every batch, like airbench and fastai's `aug_transforms`.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.images import OnDevice, normalize

RESIZE_METHODS = ("squish", "crop", "pad")


def resize(img: Image.Image, size: int, method: str = "squish") -> Image.Image:
    """fastai's Resize(size, method): a size x size square.
    squish: stretch the whole picture; crop: the centre square, scaled; pad: the whole picture, scaled
    to fit, with black bars (fastai's pad_mode='zeros')."""
    if method not in RESIZE_METHODS:
        raise ValueError(f"unknown resize method {method!r}; use one of {RESIZE_METHODS}")
    w, h = img.size
    if method == "squish":
        return img.resize((size, size), Image.BILINEAR, reducing_gap=2.0)
    if method == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return img.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side), reducing_gap=2.0)
    scale = size / max(w, h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = Image.new("RGB", (size, size))
    canvas.paste(img.resize((new_w, new_h), Image.BILINEAR, reducing_gap=2.0),
                 ((size - new_w) // 2, (size - new_h) // 2))
    return canvas


def to_uint8_tensor(images: list[Image.Image]) -> torch.Tensor:
    """N same-size RGB images -> (N, 3, H, W) uint8."""
    arr = np.stack([np.asarray(img.convert("RGB"), dtype=np.uint8) for img in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def random_resized_crop(x: torch.Tensor, min_scale: float = 0.5, ratio: tuple[float, float] = (3 / 4, 4 / 3),
                        flip: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each image of a float batch (N, C, H, W): a random box covering min_scale..1 of the area with an
    aspect ratio in `ratio`, resized back to H x W (bilinear), and a coin-flip mirror."""
    n = x.shape[0]
    where = generator.device if generator is not None else x.device        # drawn where its generator lives
    rand = lambda: torch.rand(n, generator=generator, device=where).to(x.device)
    area = min_scale + (1 - min_scale) * rand()
    aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * rand())
    width = torch.sqrt(area * aspect).clamp(max=1.0)          # box width / image width
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    centre_x = (1 - width) * (2 * rand() - 1)                 # in [-1, 1] coordinates, box inside the image
    centre_y = (1 - height) * (2 * rand() - 1)
    mirror = rand() < 0.5 if flip else torch.zeros(n, dtype=torch.bool, device=x.device)
    return crop_boxes(x, width, height, centre_x, centre_y, mirror)


def crop_boxes(x, width, height, centre_x, centre_y, mirror) -> torch.Tensor:
    """Resample one box per image (sizes as fractions of the image, centres in [-1, 1]) to the full size.
    One affine grid for the whole batch: one grid_sample however many images there are."""
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = width * torch.where(mirror, -1.0, 1.0).to(x.dtype)
    theta[:, 0, 2] = centre_x
    theta[:, 1, 1] = height
    theta[:, 1, 2] = centre_y
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class BatchTransform:
    """uint8 images -> normalised float, augmented when `augment` (training). Runs on the batch's device."""

    def __init__(self, mean, std, augment: bool = False, min_scale: float = 0.5, seed: int = 0):
        self.device_side = OnDevice(mean, std, seed)
        self.augment, self.min_scale = augment, min_scale

    def __call__(self, batch):
        images, *rest = batch
        x = self.device_side.normalize(images)
        if self.augment:
            x = random_resized_crop(x, self.min_scale, generator=self.device_side.on(x.device)[2])
        return (x, *rest)


def denormalize(x: torch.Tensor, mean, std) -> np.ndarray:
    """Float batch back to (N, H, W, 3) uint8, for showing what the model saw."""
    mean = torch.tensor(mean).view(1, 3, 1, 1)
    std = torch.tensor(std).view(1, 3, 1, 1)
    img = (x.detach().float().cpu() * std + mean).clamp(0, 1) * 255
    return img.round().byte().permute(0, 2, 3, 1).numpy()
