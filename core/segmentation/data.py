"""fastai's `SegmentationDataLoaders.from_label_func`, for data laid out like CAMVID_TINY:

    path/images/<name>.<jpg|png>     the photos
    path/labels/<name>_P.png         one class code per pixel (a palette or greyscale PNG); or masks/<name>.png
    path/codes.txt                   the class names, one per line: line i is code i
    path/scenes.csv (optional)       name, group: items of one group stay on one side of the split

The embedded scenes, the CamVid download and a student's zip (read in memory) go through the same checks: a
missing mask, a mask of another size than its photo, a code that codes.txt does not name, each get a sentence.

Images are resized once (bilinear) and their masks with them (nearest: a code is never averaged); the
training batches are augmented on the device, the image and its mask moved together.
"""
import csv
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.data import DataLoaders, DeviceLoader
from core.errors import StudentError
from core.images import MAX_PIXELS, OnDevice, check_image
from core.splits import random_split

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MAX_SIDE = 480                       # CamVid's 960x720 frames are halved on load: plenty for a CPU lesson
MAX_CODES = 256                      # a mask holds one byte per pixel
MAX_CODE_CHARS = 60
MAX_ITEMS = 400                      # photos in a student's zip (about 0.7 MB each once loaded)
MASK_FOLDERS = ("labels", "masks")


class BadSegmentationData(StudentError):
    """The data can't be used for segmentation; the message is a sentence for the student."""


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


def parse_codes(text: bytes | str, where: str = "codes.txt") -> list[str]:
    """np.loadtxt(path/'codes.txt', dtype=str), without numpy's surprises on names with spaces: one class name a
    line, line i naming code i. Refused with a sentence: not text, fewer than two names, more than a mask can
    hold, a name twice or a very long one."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadSegmentationData(f"{where} is not a UTF-8 text file: it must list the class names, one a "
                                      "line.") from None
    codes = [line.strip() for line in text.splitlines() if line.strip()]
    if len(codes) < 2:
        raise BadSegmentationData(f"{where} names {len(codes)} class(es); segmentation needs at least two "
                                  "(say, background and the thing to find), one name a line.")
    if len(codes) > MAX_CODES:
        raise BadSegmentationData(f"{where} names {len(codes)} classes; a mask holds codes 0 to 255, so at most "
                                  f"{MAX_CODES}.")
    long = next((c for c in codes if len(c) > MAX_CODE_CHARS), None)
    if long is not None:
        raise BadSegmentationData(f"A class name in {where} is {len(long)} characters long; keep names under "
                                  f"{MAX_CODE_CHARS}.")
    twice = next((c for i, c in enumerate(codes) if c in codes[:i]), None)
    if twice is not None:
        raise BadSegmentationData(f"{where} names the class “{twice}” twice; each line must name a different "
                                  "class.")
    return codes


def read_codes(path: Path) -> list[str]:
    return parse_codes(Path(path).read_bytes(), Path(path).name)


def read_groups(text: str) -> dict[str, str]:
    """scenes.csv (name, group): items of one group stay on one side of the split."""
    try:
        return {row["name"]: row["group"] for row in csv.DictReader(io.StringIO(text))
                if row.get("name") and row.get("group")}
    except (csv.Error, KeyError, AttributeError):
        return {}


def read_mask(data: bytes, mask_name: str, image: Image.Image, n_codes: int) -> np.ndarray:
    """A mask's codes, checked against its photo and codes.txt; its size is read from the header first, so a
    mask claiming billions of pixels is never decoded."""
    try:
        with Image.open(io.BytesIO(data)) as m:
            if m.width * m.height > MAX_PIXELS:
                raise BadSegmentationData(f"{mask_name} claims {m.width} x {m.height} pixels, far more than any "
                                          "photo here.")
            if m.mode not in ("P", "L"):
                raise BadSegmentationData(f"{mask_name} is a {m.mode} image; a mask holds one code per pixel "
                                          "(a palette or greyscale PNG).")
            mask = np.asarray(m, dtype=np.uint8)
    except BadSegmentationData:
        raise
    except Image.DecompressionBombError:
        raise BadSegmentationData(f"{mask_name} claims far more pixels than any photo here, so it was not "
                                  "opened.") from None
    except (OSError, SyntaxError, ValueError):
        raise BadSegmentationData(f"{mask_name} is not an image this server can read (a mask is a PNG).") from None
    if mask.shape != (image.height, image.width):
        raise BadSegmentationData(f"{mask_name} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                                  f"{image.width}x{image.height}: a mask must be the same size as its photo.")
    if mask.size and int(mask.max()) >= n_codes:
        raise BadSegmentationData(f"{mask_name} uses code {int(mask.max())}, but codes.txt names only {n_codes} "
                                  f"classes (codes 0 to {n_codes - 1}).")
    return mask


def items_from_files(files: dict[str, bytes], description: str, where: str = "The data") -> SegItems:
    """Segmentation items from files by path, as in CamVid's layout, inside an optional top folder:

        codes.txt                                   the class names, one a line (line i is code i)
        images/<stem>.<jpg|png|...>                 the photos
        labels/<stem>_P.png  or  masks/<stem>.png   one code per pixel, the same size as its photo
        scenes.csv (optional)                       name, group: a group stays on one side of the split
    """
    files = _without_top_folder(files)
    if "codes.txt" not in files:
        raise BadSegmentationData(f"{where} has no codes.txt: segmentation data needs images/, labels/ (or masks/) "
                                  "and codes.txt listing the class names, one a line (CamVid's layout).")
    codes = parse_codes(files["codes.txt"])
    photos = sorted(p for p in files if p.startswith("images/") and PurePosixPath(p).suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise BadSegmentationData(f"{where} has no photos in an images/ folder.")
    if len(photos) > MAX_ITEMS:
        raise BadSegmentationData(f"{where} holds {len(photos)} photos; at most {MAX_ITEMS} can be used here.")
    masks = {p: _mask_of(p, files) for p in photos}
    missing = [PurePosixPath(p).name for p, m in masks.items() if m is None]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        first = PurePosixPath(missing[0])                 # the example names a photo that lacks its mask
        raise BadSegmentationData(f"{', '.join(missing[:3])}{more} {'has' if len(missing) == 1 else 'have'} no "
                                  f"mask: expected labels/{first.stem}_P.png or masks/{first.stem}.png for "
                                  f"{first.name}, and the same for every photo.")
    groups = read_groups(files["scenes.csv"].decode("utf-8", "replace")) if "scenes.csv" in files else {}
    items = SegItems([], [], [], [], codes, description)
    for photo in photos:
        name = PurePosixPath(photo).name
        img, reason = check_image(files[photo], name)
        if img is None:
            raise BadSegmentationData(f"{name} can't be used: {reason}.")
        mask = read_mask(files[masks[photo]], PurePosixPath(masks[photo]).name, img, len(codes))
        img, mask = _shrink(img, mask)
        items.images.append(img)
        items.masks.append(mask)
        items.names.append(name)
        items.groups.append(groups.get(PurePosixPath(photo).stem, PurePosixPath(photo).stem))
    if len(items) < 2:
        raise BadSegmentationData(f"{where} holds one photo; at least two are needed (one is kept aside to "
                                  "check the model).")
    return items


def _without_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """A zip made by compressing a folder holds everything under that folder's name."""
    tops = {p.split("/", 1)[0] for p in files}
    if len(tops) == 1 and all("/" in p for p in files):
        return {p.split("/", 1)[1]: data for p, data in files.items()}
    return files


def _mask_of(photo: str, files: dict[str, bytes]) -> str | None:
    stem = PurePosixPath(photo).stem
    for folder in MASK_FOLDERS:
        for name in (f"{stem}_P.png", f"{stem}.png"):
            if f"{folder}/{name}" in files:
                return f"{folder}/{name}"
    return None


def load_folder(path: Path, description: str = "") -> SegItems:
    """A folder in CamVid's layout (the embedded scenes, the CamVid download), checked as an upload is."""
    path = Path(path)
    files = {}
    for sub in ("images", *MASK_FOLDERS):
        if (path / sub).is_dir():
            files.update({f"{sub}/{p.name}": p.read_bytes() for p in sorted((path / sub).iterdir())
                          if p.is_file() and not p.name.startswith(".")})
    for name in ("codes.txt", "scenes.csv"):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
    return items_from_files(files, description or path.name, where=path.name)


def items_from_zip(data: bytes, name: str = "your zip") -> SegItems:
    """A student's zip of photos, masks and codes.txt, read in memory (core/archives.py) and checked."""
    from core.archives import read_zip
    return items_from_files(read_zip(data), f"your zip '{name}'", where="Your zip")


def _shrink(img: Image.Image, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    if max(img.size) <= MAX_SIDE:
        return img, mask
    f = MAX_SIDE / max(img.size)
    size = (max(1, round(img.width * f)), max(1, round(img.height * f)))       # a 60000 x 1 strip keeps a row
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
        self.device_side = OnDevice(mean, std, seed)          # stats and random draws made on the batch's device
        self.augment, self.min_scale = augment, min_scale

    def __call__(self, batch):
        images, masks = batch
        x = self.device_side.normalize(images)
        if not self.augment:
            return x, masks
        n = x.shape[0]
        rand = lambda: self.device_side.rand(n, x.device)
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
