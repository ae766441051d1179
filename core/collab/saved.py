"""A collab model as two files, the weights (safetensors) and what rebuilds them (JSON: settings and both
vocabularies), read back without trusting either: an upload from anyone, or a run's files in the store.

Nothing is built until the metadata has been checked (types, values, sizes) and the shapes it implies match the
tensors the safetensors header lists, so a tiny JSON that claims millions of users × thousands of factors is refused
in microseconds instead of allocating gigabytes. Nothing is unpickled: safetensors holds numbers only. Every problem
is a `ModelFileError` whose message is a sentence for the student.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from torch import nn

from core.collab.model import build_model, expected_shapes
from core.collab.train import CollabSettings
from core.errors import StudentError

log = logging.getLogger(__name__)

MAX_VOCAB = 2_000_000              # users or items (MovieLens 25M has 162,541 users)
MAX_FACTORS = 512
MAX_LAYERS, MAX_WIDTH = 4, 4096
MAX_PARAMETERS = 60_000_000        # 240 MB of float32: far above any model this app trains
MAX_META_BYTES = 64 * 2**20
MAX_HEADER_BYTES = 1 * 2**20       # a collab model's safetensors header lists a handful of tensors
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
# exports made before the dot-product model took fastai's names
LEGACY_KEYS = {"user_factors.weight": "u_weight.weight", "item_factors.weight": "i_weight.weight",
               "user_bias.weight": "u_bias.weight", "item_bias.weight": "i_bias.weight"}


class ModelFileError(StudentError, ValueError):
    """A saved model that can't be used, with a sentence saying why."""


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


# ---- the metadata --------------------------------------------------------------------------------------------------
def parse_meta(raw: bytes) -> dict:
    if len(raw) > MAX_META_BYTES:
        raise ModelFileError(f"The settings file is {len(raw) / 2**20:.0f} MB; a collab model's is far smaller. "
                             "Is it the right file?")
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise ModelFileError("The settings file is nested too deeply to be a model's settings.") from None
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError("The settings file is not valid JSON: use the .json file downloaded with the weights."
                             ) from None
    if not isinstance(meta, dict):
        raise ModelFileError("The settings file should hold a JSON object, the one downloaded with the weights.")
    return meta


def _int(value, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ModelFileError(f"The settings file's '{name}' should be a whole number from {low:,} to {high:,}.")
    return value


def _number(value, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or abs(value) > 1e6:
        raise ModelFileError(f"The settings file's '{name}' should be a finite number.")
    return float(value)


def _vocab(value, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelFileError(f"The settings file's '{name}' should be a list of names.")
    if not 2 <= len(value) <= MAX_VOCAB:
        raise ModelFileError(f"The settings file lists {len(value):,} {name}; a model here has from 2 to "
                             f"{MAX_VOCAB:,}.")
    return value


def check_meta(meta) -> Described:
    """The settings and vocabularies a metadata file describes, checked before anything is built."""
    if not isinstance(meta, dict):
        raise ModelFileError("The settings file should hold a JSON object, the one downloaded with the weights.")
    if meta.get("kind") != "collab":
        raise ModelFileError("This is not a collaborative-filtering model's settings file (its 'kind' is not "
                             "'collab').")
    s = meta.get("settings")
    if not isinstance(s, dict):
        raise ModelFileError("The settings file has no 'settings' object.")
    y_range = s.get("y_range")
    if not isinstance(y_range, list) or len(y_range) != 2:
        raise ModelFileError("The settings file's 'y_range' should be two numbers, low and high.")
    low, high = _number(y_range[0], "y_range"), _number(y_range[1], "y_range")
    if not low < high:
        raise ModelFileError("The settings file's 'y_range' should go from a low number to a higher one.")
    use_nn = s.get("use_nn", False)
    if not isinstance(use_nn, bool):
        raise ModelFileError("The settings file's 'use_nn' should be true or false.")
    layers = s.get("layers", [100])
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ModelFileError(f"The settings file's 'layers' should list 1 to {MAX_LAYERS} layer sizes.")
    settings = CollabSettings(
        n_factors=_int(s.get("n_factors"), "n_factors", 1, MAX_FACTORS), y_range=(low, high),
        wd=_number(s.get("wd", 0.0), "wd"), use_nn=use_nn,
        layers=tuple(_int(n, "layers", 1, MAX_WIDTH) for n in layers),
        batch_size=_int(s.get("batch_size", 64), "batch_size", 1, 2**20))
    described = Described(settings, _vocab(meta.get("users"), "users"), _vocab(meta.get("items"), "items"), meta)
    n_params = sum(math.prod(shape) for shape in described.shapes().values())
    if n_params > MAX_PARAMETERS:
        raise ModelFileError(f"The settings file describes a model of {n_params:,} parameters; this server loads "
                             f"collab models of up to {MAX_PARAMETERS:,}.")
    return described


# ---- the weights' header -------------------------------------------------------------------------------------------
def header_of_bytes(weights: bytes) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from a safetensors file's header (8 bytes of length, then JSON), tensors unread."""
    if len(weights) < 8:
        raise ModelFileError("The weights file is empty or cut short: it is not a safetensors file.")
    n = int.from_bytes(weights[:8], "little")
    if n > min(MAX_HEADER_BYTES, len(weights) - 8):
        raise ModelFileError("This is not a safetensors weights file (its header is not what safetensors writes).")
    try:
        header = json.loads(weights[8:8 + n])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFileError("This is not a safetensors weights file (its header is not what safetensors writes)."
                             ) from None
    if not isinstance(header, dict):
        raise ModelFileError("This is not a safetensors weights file (its header is not what safetensors writes).")
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(shape, list) and len(shape) <= 8 and
                all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise ModelFileError("The weights file's header is damaged.")
        out[name] = (str(entry.get("dtype")), tuple(shape))
    return out


def header_of_file(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The same from a file on disk: safe_open reads the header only."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), "pt") as f:
            return {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}
    except FileNotFoundError:
        raise
    except Exception as e:                       # safetensors raises its own error types on a damaged file
        log.info("unreadable safetensors header %s: %s", path, e)
        raise ModelFileError("The weights file is damaged: its header cannot be read.") from None


def match_header(described: Described, header: dict) -> dict[str, str]:
    """Check the tensors the header lists against the shapes the metadata implies; returns the file's name for
    each of the model's tensors (old exports used other names)."""
    wanted = described.shapes()
    names = {k: k for k in header}
    if not described.settings.use_nn and set(header) == set(LEGACY_KEYS):
        names = {LEGACY_KEYS[k]: k for k in header}
    if set(names) != set(wanted):
        raise ModelFileError("The weights file and the settings file do not belong together (they name different "
                             "tensors): download both again from the same model.")
    for key, shape in wanted.items():
        dtype, found = header[names[key]]
        if dtype not in FLOAT_DTYPES:
            raise ModelFileError(f"The weights file's '{key}' holds {dtype} numbers, not floating-point weights.")
        if found != shape:
            raise ModelFileError(f"The weights file and the settings file do not belong together: '{key}' should "
                                 f"be {_shape(shape)} for the users, items and settings described, but it is "
                                 f"{_shape(found)}.")
    return names


def _shape(shape) -> str:
    return " × ".join(f"{d:,}" for d in shape)


def _build(described: Described, state: dict, names: dict[str, str]) -> LoadedModel:
    s = described.settings
    model = build_model(len(described.users), len(described.items), s.n_factors, s.y_range, s.use_nn,
                        list(s.layers))
    model.load_state_dict({key: state[name] for key, name in names.items()})
    return LoadedModel(model.eval(), described.users, described.items, described.meta)


# ---- the two ways in -----------------------------------------------------------------------------------------------
def load_exported(weights: bytes, meta: bytes) -> LoadedModel:
    """A model a student uploads: the .safetensors and .json files the Export section downloads."""
    from safetensors.torch import load
    described = check_meta(parse_meta(meta))
    names = match_header(described, header_of_bytes(weights))
    try:
        state = load(weights)
    except Exception as e:
        log.info("unreadable safetensors upload: %s", e)
        raise ModelFileError("The weights file is damaged: its numbers cannot be read.") from None
    return _build(described, state, names)


def load_files(weights_path: Path, meta_path: Path) -> LoadedModel:
    """A model saved on the server (a run's model.safetensors and model.json). FileNotFoundError if one is missing."""
    from safetensors.torch import load_file
    size = Path(meta_path).stat().st_size
    if size > MAX_META_BYTES:
        raise ModelFileError("The model's settings file is too large to be a collab model's.")
    described = check_meta(parse_meta(Path(meta_path).read_bytes()))
    names = match_header(described, header_of_file(weights_path))
    try:
        state = load_file(str(weights_path))
    except Exception as e:
        log.info("unreadable safetensors file %s: %s", weights_path, e)
        raise ModelFileError("The weights file is damaged: its numbers cannot be read.") from None
    return _build(described, state, names)


def export_bytes(model: nn.Module, meta: dict) -> tuple[bytes, bytes]:
    """The two files to download: weights (safetensors) and settings with both vocabularies (JSON)."""
    from core.serialize import model_to_bytes
    return model_to_bytes(model, meta)
