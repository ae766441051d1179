"""fastai's `SegmentationDataLoaders.from_label_func`, for data laid out like CAMVID_TINY:

    path/images/<name>.<jpg|png>     the photos
    path/labels/<name>_P.png         one class code per pixel (a palette or greyscale PNG)
    path/codes.txt                   the class names, one per line: line i is code i
    path/scenes.csv (optional)       name, group: items of one group stay on one side of the split

Images are resized once (bilinear) and their masks with them (nearest: a code is never averaged); the
training batches are augmented on the device, the image and its mask moved together.
"""
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.data import DataLoaders, DeviceLoader
from core.images import check_image
from core.splits import random_split
from core.images import normalize
from core.errors import StudentError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MAX_SIDE = 480                       # CamVid's 960x720 frames are halved on load: plenty for a CPU lesson


class BadSegmentationData(StudentError):
    """The folder can't be used as segmentation data; the message is a sentence for the student."""


@dataclass
class SegItems:
    images: list[Image.Image]        # RGB
    masks: list[np.ndarray]          # (H, W) uint8 class codes, same size as the image
    names: list[str]
    groups: list[str]
    codes: list[str]
    description: str = ""

    def __len__(self):
        return len(self.images)

    def subset(self, idx) -> "SegItems":
        return SegItems([self.images[i] for i in idx], [self.masks[i] for i in idx], [self.names[i] for i in idx],
                        [self.groups[i] for i in idx], self.codes, self.description)


def get_image_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def label_func(image_file: Path) -> Path:
    """The course's `lambda o: path/'labels'/f'{o.stem}_P{o.suffix}'`, always .png (a JPEG would blur codes)."""
    image_file = Path(image_file)
    return image_file.parent.parent / "labels" / f"{image_file.stem}_P.png"


def read_codes(path: Path) -> list[str]:
    """np.loadtxt(path/'codes.txt', dtype=str), without numpy's surprises on names with spaces."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def read_groups(path: Path) -> dict[str, str]:
    table = Path(path) / "scenes.csv"
    if not table.exists():
        return {}
    with open(table, newline="") as f:
        return {row["name"]: row["group"] for row in csv.DictReader(f)}


def load_folder(path: Path, description: str = "") -> SegItems:
    path = Path(path)
    for needed in ("images", "labels", "codes.txt"):
        if not (path / needed).exists():
            raise BadSegmentationData(f"{path.name} has no {needed}: segmentation data needs images/, labels/ "
                                      "and codes.txt (CamVid's layout).")
    codes = read_codes(path / "codes.txt")
    groups = read_groups(path)
    images, masks, names, item_groups = [], [], [], []
    for file in get_image_files(path / "images"):
        mask_file = label_func(file)
        if not mask_file.exists():
            raise BadSegmentationData(f"{file.name} has no mask: expected labels/{mask_file.name}.")
        img, reason = check_image(file.read_bytes(), file.name)
        if img is None:
            raise BadSegmentationData(f"{file.name} can't be used: {reason}.")
        with Image.open(mask_file) as m:
            if m.mode not in ("P", "L"):
                raise BadSegmentationData(f"{mask_file.name} is a {m.mode} image; a mask holds one code per pixel "
                                          "(a palette or greyscale PNG).")
            mask = np.asarray(m, dtype=np.uint8)
        if mask.shape != (img.height, img.width):
            raise BadSegmentationData(f"{mask_file.name} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                                      f"{img.width}x{img.height}.")
        if mask.max() >= len(codes):
            raise BadSegmentationData(f"{mask_file.name} uses code {mask.max()}, but codes.txt names only "
                                      f"{len(codes)} classes.")
        img, mask = _shrink(img, mask)
        images.append(img)
        masks.append(mask)
        names.append(file.name)
        item_groups.append(groups.get(file.stem, file.stem))
    if not images:
        raise BadSegmentationData(f"{path.name}/images holds no images.")
    return SegItems(images, masks, names, item_groups, codes, description or path.name)


def _shrink(img: Image.Image, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    if max(img.size) <= MAX_SIDE:
        return img, mask
    f = MAX_SIDE / max(img.size)
    size = (round(img.width * f), round(img.height * f))
    return img.resize(size, Image.BILINEAR), np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))


def pixel_counts(items: SegItems, idx=None) -> np.ndarray:
    """How many pixels of each class (at the stored size)."""
    idx = range(len(items)) if idx is None else idx
    return sum(np.bincount(items.masks[i].ravel(), minlength=len(items.codes)) for i in idx)


def shape_for(items: SegItems, width: int) -> tuple[int, int]:
    """(height, width): `width` pixels wide, the first image's aspect ratio (4:3 for CamVid and the scenes)."""
    w, h = items.images[0].size
    return max(8, round(width * h / w)), width


def resize_pair(img: Image.Image, mask: np.ndarray | None, shape: tuple[int, int]):
    size = (shape[1], shape[0])
    small = img.resize(size, Image.BILINEAR, reducing_gap=2.0)
    if mask is None:
        return small, None
    return small, np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))


def decode(items: SegItems, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image and mask resized once: (N, 3, H, W) uint8 and (N, H, W) int64 codes."""
    pairs = [resize_pair(img, mask, shape) for img, mask in zip(items.images, items.masks)]
    x = torch.from_numpy(np.stack([np.asarray(img, dtype=np.uint8) for img, _ in pairs])).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.stack([mask for _, mask in pairs]).astype(np.int64))
    return x.contiguous(), y


class SegBatchTransform:
    """uint8 images -> normalised float; when training, a random zoom, shift and mirror applied to the image
    (bilinear) and to its mask (nearest) with the same box, so every code stays on its pixel."""

    def __init__(self, mean, std, augment: bool = False, min_scale: float = 0.6, seed: int = 0):
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        self.augment, self.min_scale = augment, min_scale
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch):
        images, masks = batch
        x = normalize(images, self.mean, self.std)
        if not self.augment:
            return x, masks
        n = x.shape[0]
        rand = lambda: torch.rand(n, generator=self.generator).to(x.device)
        side = torch.sqrt(self.min_scale + (1 - self.min_scale) * rand())    # box side, fraction of the image
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = side * torch.where(rand() < 0.5, -1.0, 1.0)
        theta[:, 1, 1] = side
        theta[:, 0, 2] = (1 - side) * (2 * rand() - 1)
        theta[:, 1, 2] = (1 - side) * (2 * rand() - 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        m = F.grid_sample(masks[:, None].float(), grid, mode="nearest", padding_mode="reflection", align_corners=False)
        return x, m[:, 0].round().long()


@dataclass
class SegData:
    dls: DataLoaders
    train_idx: list[int]
    valid_idx: list[int]
    codes: list[str]
    shape: tuple[int, int]
    x_valid: torch.Tensor            # uint8, CPU: the validation images as the model saw them
    y_valid: torch.Tensor            # int64 codes, CPU


def make_dataloaders(items: SegItems, width: int = 160, valid_pct: float = 0.2, seed: int = 42, bs: int = 8,
                     mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), device="cpu", min_scale: float = 0.6) -> SegData:
    """fastai's SegmentationDataLoaders.from_label_func(path, bs, fnames, label_func, codes), split by group."""
    train_idx, valid_idx = random_split(items.groups, valid_pct, seed)
    shape = shape_for(items, width)
    x, y = decode(items, shape)
    xt, yt, xv, yv = x[train_idx], y[train_idx], x[valid_idx], y[valid_idx]
    train = DeviceLoader(xt.to(device), yt.to(device), batch_size=bs, shuffle=True, drop_last=True, seed=seed,
                         batch_tfm=SegBatchTransform(mean, std, augment=True, min_scale=min_scale, seed=seed))
    valid = DeviceLoader(xv.to(device), yv.to(device), batch_size=bs * 2, batch_tfm=SegBatchTransform(mean, std))
    dls = DataLoaders(train, valid, vocab=items.codes, info=dict(mean=mean, std=std, shape=shape))
    return SegData(dls, train_idx, valid_idx, list(items.codes), shape, xv, yv)
