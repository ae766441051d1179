"""A collab model as two files, the weights (safetensors) and what rebuilds them (JSON: settings and both
vocabularies), read back without trusting either: an upload from anyone, or a run's files in the store.

Nothing is built until the metadata has been checked (types, values, sizes) and the shapes it implies match the
tensors the safetensors header lists, so a tiny JSON that claims millions of users × thousands of factors is refused
in microseconds instead of allocating gigabytes. Reading the files safely is core/modelfiles.py's; what is checked
here is what makes them a collab model. Every problem is a `ModelFileError` whose message is a sentence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from torch import nn

from core.collab.model import build_model, expected_shapes
from core.collab.train import CollabSettings
from core.modelfiles import (ModelFileError, check_header, check_size, header_of, parameter_count, parse_meta,
                             read_tensors, register_reader)

MAX_VOCAB = 2_000_000              # users or items (MovieLens 25M has 162,541 users)
MAX_FACTORS = 512
MAX_LAYERS, MAX_WIDTH = 4, 4096
MAX_PARAMETERS = 60_000_000        # 240 MB of float32: far above any model this app trains
MAX_META_BYTES = 64 * 2**20       # both vocabularies: MovieLens 25M's names take a few MB
META_NAME = "metadata file"        # what the page calls the .json file
# exports made before the dot-product model took fastai's names
LEGACY_KEYS = {"user_factors.weight": "u_weight.weight", "item_factors.weight": "i_weight.weight",
               "user_bias.weight": "u_bias.weight", "item_bias.weight": "i_bias.weight"}


class LoadedModel(NamedTuple):
    model: nn.Module             # on the CPU, in eval mode
    users: list[str]
    items: list[str]
    meta: dict


@dataclass(frozen=True)
class Described:
    """What a metadata file describes, once checked: nothing has been allocated for it yet."""
    settings: CollabSettings
    users: list[str]
    items: list[str]
    meta: dict

    def shapes(self) -> dict[str, tuple[int, ...]]:
        s = self.settings
        return expected_shapes(len(self.users), len(self.items), s.n_factors, s.use_nn, list(s.layers))

    @property
    def what(self) -> str:
        s, sizes = self.settings, f"{len(self.users):,} users and {len(self.items):,} items"
        return f"a neural net on {sizes} with layers {list(s.layers)}" if s.use_nn else \
            f"a dot product of {sizes} with {s.n_factors} factors"


# ---- the metadata --------------------------------------------------------------------------------------------------
def _int(value, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ModelFileError(f"The metadata file's '{name}' should be a whole number from {low:,} to {high:,}.")
    return value


def _number(value, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or abs(value) > 1e6:
        raise ModelFileError(f"The metadata file's '{name}' should be a finite number.")
    return float(value)


def _vocab(value, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelFileError(f"The metadata file's '{name}' should be a list of names.")
    if not 2 <= len(value) <= MAX_VOCAB:
        raise ModelFileError(f"The metadata file lists {len(value):,} {name}; a model here has from 2 to "
                             f"{MAX_VOCAB:,}.")
    return value


def check_meta(meta) -> Described:
    """The settings and vocabularies a metadata file describes, checked before anything is built."""
    if not isinstance(meta, dict):
        raise ModelFileError("The metadata file should hold a JSON object, the one downloaded with the weights.")
    if meta.get("kind") != "collab":
        raise ModelFileError("This is not a collaborative-filtering model's metadata file (its 'kind' is not "
                             "'collab').")
    s = meta.get("settings")
    if not isinstance(s, dict):
        raise ModelFileError("The metadata file has no 'settings' object.")
    y_range = s.get("y_range")
    if not isinstance(y_range, list) or len(y_range) != 2:
        raise ModelFileError("The metadata file's 'y_range' should be two numbers, low and high.")
    low, high = _number(y_range[0], "y_range"), _number(y_range[1], "y_range")
    if not low < high:
        raise ModelFileError("The metadata file's 'y_range' should go from a low number to a higher one.")
    use_nn = s.get("use_nn", False)
    if not isinstance(use_nn, bool):
        raise ModelFileError("The metadata file's 'use_nn' should be true or false.")
    layers = s.get("layers", [100])
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ModelFileError(f"The metadata file's 'layers' should list 1 to {MAX_LAYERS} layer sizes.")
    settings = CollabSettings(
        n_factors=_int(s.get("n_factors"), "n_factors", 1, MAX_FACTORS), y_range=(low, high),
        wd=_number(s.get("wd", 0.0), "wd"), use_nn=use_nn,
        layers=tuple(_int(n, "layers", 1, MAX_WIDTH) for n in layers),
        batch_size=_int(s.get("batch_size", 64), "batch_size", 1, 2**20))
    described = Described(settings, _vocab(meta.get("users"), "users"), _vocab(meta.get("items"), "items"), meta)
    check_size(parameter_count(described.shapes()), MAX_PARAMETERS, "collab models")
    return described


# ---- the weights ---------------------------------------------------------------------------------------------------
def match_header(described: Described, header: dict) -> dict[str, str]:
    """Check the tensors the header lists against the shapes the metadata implies; returns the file's name for
    each of the model's tensors (old exports used other names)."""
    wanted = described.shapes()
    names = {k: k for k in wanted}
    if not described.settings.use_nn and set(header) == set(LEGACY_KEYS):
        names = {LEGACY_KEYS[k]: k for k in header}
    check_header({names[k]: shape for k, shape in wanted.items()}, header, described.what)
    return names


def _build(described: Described, state: dict, names: dict[str, str]) -> LoadedModel:
    s = described.settings
    model = build_model(len(described.users), len(described.items), s.n_factors, s.y_range, s.use_nn,
                        list(s.layers))
    model.load_state_dict({key: state[name] for key, name in names.items()})
    return LoadedModel(model.eval(), described.users, described.items, described.meta)


# ---- both ways in: an upload, a run's files --------------------------------------------------------------------------
def collab_from_files(weights: bytes | Path, meta: bytes | Path) -> LoadedModel:
    """A model's two files: the .safetensors and .json the Export section downloads (bytes), or a run's (paths).
    FileNotFoundError if a run's file is missing."""
    described = check_meta(parse_meta(meta, MAX_META_BYTES, META_NAME))
    names = match_header(described, header_of(weights))
    return _build(described, read_tensors(weights), names)


register_reader("collab", collab_from_files)


def export_bytes(model: nn.Module, meta: dict) -> tuple[bytes, bytes]:
    """The two files to download: weights (safetensors) and settings with both vocabularies (JSON)."""
    from core.serialize import model_to_bytes
    return model_to_bytes(model, meta)
