"""A saved segmentation model, read back without trusting it: a run's model.safetensors + model.json, or the two
files a student exported (maybe someone else's, maybe edited).

Everything the model is built from is checked BEFORE anything is allocated: the JSON's types and values (a
registered backbone, at most 256 class names of bounded length, a training size within bounds, three finite
means and positive stds; its size and nesting are core/modelfiles.py's), then the weights file's header (names,
dtypes and shapes, read without loading a tensor) against the U-Net those values describe, worked out on the meta
device. Only then are the tensors read and the model built. Nothing is ever unpickled.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from core.modelfiles import ModelFileError, check_header, header_of, parse_meta, read_tensors, register_reader
from core.segmentation.data import MAX_CODE_CHARS, MAX_CODES
from core.segmentation.model import create_unet
from core.segmentation.train import TASK, TrainedSegmenter

MIN_SIDE, MAX_SIDE = 8, 1024
TEXT_KEYS = ("weights", "trained_on")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_meta(meta: Any) -> dict:
    """The metadata, checked field by field; only known fields are kept."""
    if not isinstance(meta, dict):
        raise ModelFileError("The metadata file must hold a JSON object (the file exported with the weights).")
    if meta.get("task") != TASK:
        raise ModelFileError("This is not a segmentation model exported by this lesson (its metadata says another "
                             "task).")
    from core.models import BACKBONES
    backbone = meta.get("backbone")
    if not isinstance(backbone, str) or backbone not in BACKBONES:
        raise ModelFileError(f"The metadata names an encoder this app does not know; it offers {', '.join(BACKBONES)}.")
    codes = meta.get("codes")
    if not isinstance(codes, list) or not 2 <= len(codes) <= MAX_CODES or \
            not all(isinstance(c, str) and 0 < len(c) <= MAX_CODE_CHARS for c in codes):
        raise ModelFileError(f"The metadata's class names must be a list of 2 to {MAX_CODES} short names.")
    shape = meta.get("shape")
    if not isinstance(shape, list) or len(shape) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and MIN_SIDE <= s <= MAX_SIDE for s in shape):
        raise ModelFileError(f"The metadata's image size must be [height, width], each {MIN_SIDE} to {MAX_SIDE} "
                             "pixels.")
    stats = {}
    for key in ("mean", "std"):
        value = meta.get(key)
        if not isinstance(value, list) or len(value) != 3 or not all(_number(v) and abs(v) < 1e3 for v in value):
            raise ModelFileError(f"The metadata's {key} must be three numbers (one per colour channel).")
        stats[key] = tuple(float(v) for v in value)
    if min(stats["std"]) <= 0:
        raise ModelFileError("The metadata's std must be positive numbers.")
    clean = dict(task=TASK, backbone=backbone, codes=list(codes), shape=list(shape), mean=list(stats["mean"]),
                 std=list(stats["std"]))
    clean.update({k: meta[k][:300] for k in TEXT_KEYS if isinstance(meta.get(k), str)})
    return clean


def _described(meta: dict) -> str:
    return f"a U-Net on {meta['backbone']} with {len(meta['codes'])} classes"


def expected_shapes(meta: dict) -> dict[str, tuple[int, ...]]:
    """The U-Net the checked metadata describes, built on the meta device: shapes only, nothing allocated."""
    with torch.device("meta"):
        model, _ = create_unet(meta["backbone"], len(meta["codes"]), pretrained=False)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def segmenter_from_files(weights: bytes | Path, meta: bytes | Path) -> TrainedSegmenter:
    """Two exported files (an upload's bytes, or a run's paths): checked, then loaded. ModelFileError otherwise;
    FileNotFoundError if a run's file is missing."""
    clean = check_meta(parse_meta(meta))
    check_header(expected_shapes(clean), header_of(weights), _described(clean))
    state = read_tensors(weights)
    model, _ = create_unet(clean["backbone"], len(clean["codes"]), pretrained=False)
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
    extra = {k: clean[k] for k in TEXT_KEYS if k in clean}
    return TrainedSegmenter(model.float().eval(), list(clean["codes"]), tuple(clean["shape"]), tuple(clean["mean"]),
                            tuple(clean["std"]), clean["backbone"], extra)


register_reader("segmentation", segmenter_from_files)
