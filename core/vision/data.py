"""The DataBlock of the lesson: which images, which labels, which split, which Resize.

get_items  -> `load_embedded`, `load_folder`, `load_zip`, `load_uploads` (every uploaded file checked)
get_y      -> a column of labels.csv, or the name of the folder the file is in (fastai's parent_label)
splitter   -> `random_split(groups, valid_pct, seed)`: fastai's RandomSplitter, by group, so the
              variants of one embedded stamp never sit on both sides
item_tfms  -> `decode(items, size, method)`: Resize once, on the CPU, into one uint8 tensor
batch_tfms -> core.vision.transforms.BatchTransform, on the device, per batch
"""
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from core.data import DataLoaders, DeviceLoader
from core.splits import random_split
from core.images import Rejected, check_image
from core.vision.transforms import BatchTransform, resize, to_uint8_tensor
from core.errors import StudentError

KEEP_SIDE = 384          # originals are shrunk to this on load: enough for any lesson size, small in memory
LABELS = {"is_bird": "bird or not bird", "kind": "what kind of thing"}


class BadUpload(StudentError):
    """The upload as a whole can't be used; the message is a sentence for the student."""


@dataclass
class ImageItems:
    images: list[Image.Image]          # RGB, longest side <= KEEP_SIDE
    labels: list[str]
    names: list[str]                   # file names, to show
    groups: list[str]                  # items of one group stay on one side of the split
    rejected: list[Rejected] = field(default_factory=list)
    description: str = ""

    def __len__(self):
        return len(self.images)

    @property
    def vocab(self) -> list[str]:
        return sorted(set(self.labels))

    def subset(self, idx) -> "ImageItems":
        return ImageItems([self.images[i] for i in idx], [self.labels[i] for i in idx],
                          [self.names[i] for i in idx], [self.groups[i] for i in idx], [], self.description)


def _shrink(img: Image.Image) -> Image.Image:
    if max(img.size) > KEEP_SIDE:
        img = img.copy()
        img.thumbnail((KEEP_SIDE, KEEP_SIDE), Image.LANCZOS)
    return img


def load_embedded(root: Path, label: str = "is_bird") -> ImageItems:
    """The embedded "Is it a bird?" photos (datasets/birds): labels.csv says file, is_bird, kind, group."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {list(LABELS)}")
    root = Path(root)
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    images = []
    for row in rows:
        with Image.open(root / row["file"]) as img:
            images.append(_shrink(img.convert("RGB")))
    return ImageItems(images, [r[label] for r in rows], [Path(r["file"]).name for r in rows],
                      [r["group"] for r in rows], [], f"embedded 'Is it a bird?' photos, label: {LABELS[label]}")


def load_folder(root: Path) -> ImageItems:
    """One folder per class (fastai's get_image_files + parent_label). Every file is checked."""
    root = Path(root)
    children = [p for p in root.iterdir() if not _ignored(p)]
    if len(children) == 1 and children[0].is_dir() and any(p.is_dir() for p in children[0].iterdir()):
        root = children[0]              # a zip of one folder that holds the class folders
    images, labels, names, groups, rejected = [], [], [], [], []
    for path in sorted(root.rglob("*")):
        if path.is_dir() or _ignored(path):
            continue
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            rejected.append(Rejected(rel.as_posix(),
                                     "not inside a class folder (put it in a folder named after its class)"))
            continue
        img, reason = check_image(path.read_bytes(), path.name)
        if img is None:
            rejected.append(Rejected(rel.as_posix(), reason))
            continue
        images.append(_shrink(img))
        labels.append(rel.parts[0])
        names.append(rel.as_posix())
        groups.append(rel.as_posix())
    return ImageItems(images, labels, names, groups, rejected, "your images, one folder per class")


def _ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name == "__MACOSX" or "__MACOSX" in path.parts


def load_zip(data: bytes, workdir: Path) -> ImageItems:
    """A zip with one folder per class, extracted safely (no paths outside, bounded size) then loaded."""
    from core.download import UPLOAD_LIMITS, DownloadError, safe_extract
    target = Path(workdir) / "extracted"
    try:
        safe_extract(data, target, **UPLOAD_LIMITS)
    except DownloadError as e:
        raise BadUpload(f"The zip file was refused: {e}") from e
    except Exception as e:  # not a zip at all, or a corrupt one
        raise BadUpload(f"This file could not be opened as a zip archive ({e}).") from e
    return load_folder(target)


def load_uploads(files_by_class: dict[str, list[tuple[str, bytes]]]) -> ImageItems:
    """Images uploaded class by class in the page: {class name: [(file name, bytes), ...]}."""
    images, labels, names, groups, rejected = [], [], [], [], []
    for label, files in files_by_class.items():
        for name, data in files:
            img, reason = check_image(data, name)
            if img is None:
                rejected.append(Rejected(f"{label}/{name}", reason))
                continue
            images.append(_shrink(img))
            labels.append(label)
            names.append(f"{label}/{name}")
            groups.append(f"{label}/{name}")
    return ImageItems(images, labels, names, groups, rejected, "your images, uploaded class by class")


def problems(items: ImageItems) -> list[str]:
    """Why these items can't train a classifier yet (empty list: fine)."""
    counts = class_counts(items.labels)
    out = []
    if len(counts) < 2:
        out.append(f"A classifier needs at least two classes; found {len(counts)}.")
    few = [c for c, n in counts.items() if n < 2]
    if few:
        out.append(f"Each class needs at least 2 images (one may go to the validation set): {', '.join(few)}.")
    return out


def class_counts(labels) -> dict[str, int]:
    counts = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def decode(items: ImageItems, size: int, method: str) -> torch.Tensor:
    """Resize every image once: (N, 3, size, size) uint8."""
    return to_uint8_tensor([resize(img, size, method) for img in items.images])


@dataclass
class VisionData:
    dls: DataLoaders
    train_idx: list[int]
    valid_idx: list[int]
    vocab: list[str]
    x_valid: torch.Tensor          # uint8, CPU: what the validation images looked like to the model


def make_dataloaders(items: ImageItems, size: int = 128, method: str = "squish", valid_pct: float = 0.2,
                     seed: int = 42, bs: int = 32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     device: torch.device | str = "cpu", min_scale: float = 0.5) -> VisionData:
    vocab = items.vocab
    train_idx, valid_idx = random_split(items.groups, valid_pct, seed)
    x = decode(items, size, method)
    y = torch.tensor([vocab.index(label) for label in items.labels], dtype=torch.long)
    xt, yt, xv, yv = x[train_idx], y[train_idx], x[valid_idx], y[valid_idx]
    train = DeviceLoader(xt.to(device), yt.to(device), batch_size=bs, shuffle=True, drop_last=True,
                         batch_tfm=BatchTransform(mean, std, augment=True, min_scale=min_scale, seed=seed), seed=seed)
    valid = DeviceLoader(xv.to(device), yv.to(device), batch_size=bs * 2,
                         batch_tfm=BatchTransform(mean, std, augment=False))
    dls = DataLoaders(train, valid, vocab=vocab, info=dict(mean=mean, std=std, size=size, method=method))
    return VisionData(dls, train_idx, valid_idx, vocab, xv)


def image_from_bytes(data: bytes, name: str = "image") -> tuple[Image.Image | None, str | None]:
    img, reason = check_image(data, name)
    return (_shrink(img), None) if img is not None else (None, reason)


def encode_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def load_pets(root, label: str = "is_cat", limit: int = 0, seed: int = 0) -> ImageItems:
    """fast.ai's PETS (Oxford-IIIT Pets): images/<Breed_name>_<n>.jpg; cat breeds are Capitalised.
    `is_cat` is the course's `x[0].isupper()`; `breed` is the name without the number. `limit` > 0 keeps a
    random sample (for CPUs)."""
    if label not in ("is_cat", "breed"):
        raise ValueError("label must be 'is_cat' or 'breed'")
    root = Path(root)
    folder = root / "images" if (root / "images").is_dir() else root
    files = sorted(p for p in folder.glob("*.jpg"))
    if limit and len(files) > limit:
        keep = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed))[:limit].tolist()
        files = [files[i] for i in sorted(keep)]
    images, labels, names, rejected = [], [], [], []
    for path in files:
        img, reason = check_image(path.read_bytes(), path.name)
        if img is None:
            rejected.append(Rejected(path.name, reason))
            continue
        breed = path.stem.rsplit("_", 1)[0]
        images.append(_shrink(img))
        labels.append(("cat" if path.name[0].isupper() else "dog") if label == "is_cat" else breed)
        names.append(path.name)
    return ImageItems(images, labels, names, list(names), rejected, f"Oxford-IIIT Pets, label: {label}")
