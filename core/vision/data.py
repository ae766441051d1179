"""The DataBlock of the lesson: which images, which labels, which split, which Resize.

get_items  -> `load_embedded`, `load_pets`, `load_zip` (in memory), `load_uploads` (every uploaded file checked)
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
from core.archives import ArchiveRefused, ZipLimits, read_zip, zip_of_files
from core.images import MAX_FILE_BYTES, Rejected, check_image
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


MAX_CLASSES = 50
PHOTO_ZIP = ZipLimits(max_members=2_000, max_member_bytes=MAX_FILE_BYTES, max_total_bytes=300 * 2**20)
MAX_CLASS_NAME = 60


def load_zip(data: bytes) -> ImageItems:
    """A zip with one folder per class (fastai's get_image_files + parent_label), read in memory one file at a time:
    nothing is extracted to disk. Every file is checked; a zip unsafe as a whole is refused (BadUpload)."""
    checked = []                      # (path inside the zip, shrunk image or None, why not)
    try:
        for name, content in read_zip(data, PHOTO_ZIP).items():
            name = "/".join(p for p in name.replace("\\", "/").split("/") if p)
            if _ignored(name):
                continue
            img, reason = check_image(content, name.rsplit("/", 1)[-1])
            checked.append((name, _shrink(img) if img is not None else None, reason))
    except ArchiveRefused as e:
        raise BadUpload(str(e)) from None
    tops = {name.split("/", 1)[0] for name, _, _ in checked}
    if len(tops) == 1 and all(name.count("/") >= 2 for name, _, _ in checked):
        checked = [(name.split("/", 1)[1], img, reason) for name, img, reason in checked]   # photos/cat/1.jpg
    images, labels, names, rejected = [], [], [], []
    for name, img, reason in sorted(checked, key=lambda c: c[0]):
        if "/" not in name:
            rejected.append(Rejected(name, "not inside a class folder (put it in a folder named after its class)"))
        elif img is None:
            rejected.append(Rejected(name, reason))
        else:
            images.append(img)
            labels.append(name.split("/", 1)[0])
            names.append(name)
    check_class_names(labels)
    return ImageItems(images, labels, names, list(names), rejected, "your images, one folder per class")


def _ignored(name: str) -> bool:
    parts = name.split("/")
    return parts[-1].startswith(".") or "__MACOSX" in parts


def check_class_names(labels: list[str]) -> None:
    """BadUpload unless the classes are few enough and their names short and printable."""
    classes = set(labels)
    if len(classes) > MAX_CLASSES:
        raise BadUpload(f"There are {len(classes)} class folders; a lesson model takes at most {MAX_CLASSES}.")
    for name in classes:
        if len(name) > MAX_CLASS_NAME or not name.isprintable() or not name.strip() or set(name) & set("/\\"):
            raise BadUpload(f"Class names must be printable, without slashes, and at most {MAX_CLASS_NAME} "
                            f"characters long; one is {len(name)} characters.")


def bundle_classes(files_by_class: dict[str, list[tuple[str, bytes]]]) -> bytes:
    """Photos uploaded or taken class by class ({class: [(file name, bytes), ...]}) as the zip a run trains on, one
    folder per class: the same kind of stored input as a student's own zip."""
    check_class_names(list(files_by_class))
    files = {}
    for label, photos in files_by_class.items():
        for i, (name, data) in enumerate(photos):
            stem = "".join(c for c in str(name).replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())[:80]
            stem = stem.lstrip(".") or f"photo{i}.jpg"
            path = f"{label}/{stem}"
            files[path if path not in files else f"{label}/{i}_{stem}"] = data
    return zip_of_files(files)


def load_uploads(files_by_class: dict[str, list[tuple[str, bytes]]]) -> ImageItems:
    """Images uploaded class by class: {class name: [(file name, bytes), ...]}, checked like a zip's."""
    items = load_zip(bundle_classes(files_by_class))
    items.description = "your images, uploaded class by class"
    return items


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
