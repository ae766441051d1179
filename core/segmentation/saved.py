"""A saved segmentation model, read back without trusting it: a run's model.safetensors + model.json, or the two
files a student exported (maybe someone else's, maybe edited).

Everything the model is built from is checked BEFORE anything is allocated: the JSON's types and values (a
registered backbone, at most 256 class names of bounded length, a training size within bounds, three finite
means and positive stds, no deep nesting), then the weights file's header (names, dtypes and shapes, read
without loading a tensor) against the U-Net those values describe. Only then are the tensors read. Nothing is
ever unpickled: safetensors holds numbers only.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import torch

from core.errors import StudentError
from core.segmentation.data import MAX_CODE_CHARS, MAX_CODES
from core.segmentation.model import create_unet
from core.segmentation.train import TASK, TrainedSegmenter

MAX_META_BYTES = 1 * 2**20
MAX_HEADER_BYTES = 16 * 2**20
MAX_DEPTH = 6                        # model.json is flat but for its lists
MIN_SIDE, MAX_SIDE = 8, 1024
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}
TEXT_KEYS = ("weights", "trained_on")


class BadModel(StudentError, ValueError):
    """The files are not a segmentation model this lesson can use; the message is a sentence for the student."""


def parse_meta(raw: bytes | str) -> dict:
    """model.json's bytes -> a clean, bounded metadata dict (BadModel otherwise)."""
    if len(raw) > MAX_META_BYTES:
        raise BadModel("The metadata file is far larger than a model's metadata (a few hundred bytes).")
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise BadModel("The metadata file is nested far too deeply to be a model's metadata.") from None
    except (ValueError, UnicodeDecodeError):
        raise BadModel("The metadata file is not valid JSON.") from None
    return check_meta(meta)


def _depth(value: Any) -> int:
    """How deeply lists and objects nest (iteratively: a hostile file cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_meta(meta: Any) -> dict:
    """The metadata, checked field by field; only known fields are kept."""
    if not isinstance(meta, dict):
        raise BadModel("The metadata file must hold a JSON object (the file exported with the weights).")
    if _depth(meta) > MAX_DEPTH:
        raise BadModel("The metadata file is nested far too deeply to be a model's metadata.")
    if meta.get("task") != TASK:
        raise BadModel("This is not a segmentation model exported by this lesson (its metadata says another task).")
    from core.models import BACKBONES
    backbone = meta.get("backbone")
    if not isinstance(backbone, str) or backbone not in BACKBONES:
        raise BadModel("The metadata names an encoder this app does not know; it offers "
                       f"{', '.join(BACKBONES)}.")
    codes = meta.get("codes")
    if not isinstance(codes, list) or not 2 <= len(codes) <= MAX_CODES or \
            not all(isinstance(c, str) and 0 < len(c) <= MAX_CODE_CHARS for c in codes):
        raise BadModel(f"The metadata's class names must be a list of 2 to {MAX_CODES} short names.")
    shape = meta.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and MIN_SIDE <= s <= MAX_SIDE for s in shape):
        raise BadModel(f"The metadata's image size must be [height, width], each {MIN_SIDE} to {MAX_SIDE} pixels.")
    stats = {}
    for key in ("mean", "std"):
        value = meta.get(key)
        if not isinstance(value, list) or len(value) != 3 or not all(_number(v) and abs(v) < 1e3 for v in value):
            raise BadModel(f"The metadata's {key} must be three numbers (one per colour channel).")
        stats[key] = tuple(float(v) for v in value)
    if min(stats["std"]) <= 0:
        raise BadModel("The metadata's std must be positive numbers.")
    clean = dict(task=TASK, backbone=backbone, codes=list(codes), shape=list(shape), mean=list(stats["mean"]),
                 std=list(stats["std"]))
    clean.update({k: meta[k][:300] for k in TEXT_KEYS if isinstance(meta.get(k), str)})
    return clean


def header_of_bytes(weights: bytes) -> dict[str, tuple[str, tuple[int, ...]]]:
    """A safetensors file's table of contents (name -> dtype, shape), from its header alone."""
    if len(weights) < 8:
        raise BadModel("The weights file is not a safetensors file.")
    (length,) = struct.unpack("<Q", weights[:8])
    if length > min(MAX_HEADER_BYTES, len(weights) - 8):
        raise BadModel("The weights file is not a safetensors file (its header is damaged).")
    try:
        header = json.loads(weights[8:8 + length])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadModel("The weights file is not a safetensors file (its header is damaged).") from None
    if not isinstance(header, dict):
        raise BadModel("The weights file is not a safetensors file (its header is damaged).")
    table = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str) or \
                not isinstance(entry.get("shape"), list) or not all(isinstance(s, int) for s in entry["shape"]):
            raise BadModel("The weights file is not a safetensors file (its header is damaged).")
        table[name] = (entry["dtype"], tuple(entry["shape"]))
    return table


def header_of_file(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The same, read with safetensors.safe_open: no tensor is loaded."""
    from safetensors import safe_open
    table = {}
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            piece = f.get_slice(name)
            table[name] = (piece.get_dtype(), tuple(piece.get_shape()))
    return table


def _expected(meta: dict):
    """The U-Net the metadata describes (bounded by check_meta), with random weights for now."""
    model, _ = create_unet(meta["backbone"], len(meta["codes"]), pretrained=False)
    return model


def _check_header(table: dict, model) -> None:
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if set(table) != set(wanted):
        raise BadModel(f"These weights are not a U-Net on the encoder the metadata names: "
                       f"{len(set(wanted) - set(table))} tensors missing, {len(set(table) - set(wanted))} unknown.")
    for name, (dtype, shape) in table.items():
        if dtype not in DTYPES:
            raise BadModel(f"The weights hold {dtype} numbers; a model's weights are floating point.")
        if shape != wanted[name]:
            raise BadModel(f"The weights do not fit the metadata: “{name[:60]}” is {list(shape)}, the model needs "
                           f"{list(wanted[name])} (are the two files from the same export?).")


def _segmenter(model, state: dict, meta: dict) -> TrainedSegmenter:
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
    extra = {k: meta[k] for k in TEXT_KEYS if k in meta}
    return TrainedSegmenter(model.float().eval(), list(meta["codes"]), tuple(meta["shape"]), tuple(meta["mean"]),
                            tuple(meta["std"]), meta["backbone"], extra)


def segmenter_from_bytes(weights: bytes, meta: bytes) -> TrainedSegmenter:
    """Two uploaded files (Export → Load back): checked, then loaded. Raises BadModel."""
    clean = parse_meta(meta)
    model = _expected(clean)
    _check_header(header_of_bytes(weights), model)
    from safetensors.torch import load
    try:
        state = load(weights)
    except Exception:                          # safetensors raises its own types on a file cut short
        raise BadModel("The weights file is damaged (it may have been cut short).") from None
    return _segmenter(model, state, clean)


def segmenter_from_files(weights_path: Path, meta_path: Path) -> TrainedSegmenter:
    """A run's saved model: checked, then loaded. Raises BadModel; FileNotFoundError if a file is missing."""
    clean = parse_meta(Path(meta_path).read_bytes())
    model = _expected(clean)
    try:
        table = header_of_file(weights_path)
    except FileNotFoundError:
        raise
    except Exception:
        raise BadModel("This run's weights file is damaged and cannot be read.") from None
    _check_header(table, model)
    from safetensors import safe_open
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            state = {name: f.get_tensor(name) for name in table}
    except Exception:
        raise BadModel("This run's weights file is damaged and cannot be read.") from None
    return _segmenter(model, state, clean)
