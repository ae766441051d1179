"""Reading a model's two files without trusting them: the weights (safetensors) and what rebuilds them (JSON). They
may be an upload from anyone (maybe edited, maybe not a model at all) or a run's files in the store.

    parse_meta(source)                    the metadata: a JSON object of bounded size and depth
    header_of(source)                     {tensor: (dtype, shape)} from the safetensors header, no tensor read
    check_header(expected, found, what)   the names, shapes and floating-point dtypes a model needs
    read_tensors(source)                  the tensors, once their header has been checked
    read_run_model(folder, read)          a run's model.safetensors + model.json through a lesson's reader
    register_reader(lesson, read)         each lesson that keeps a model says how its files are read

`source` is a file's bytes (an upload) or its path (a run's file). Every lesson reads the same way: check its
metadata's fields and bound the size of the model they describe, work out the shapes that model has (by arithmetic,
or by building it on the "meta" device, which allocates nothing), check them against the weights' header, read the
tensors, and only then build the model. A tiny JSON that claims a huge model is refused before anything is
allocated, and what is finally built is no bigger than the weights actually sent. Nothing is ever unpickled: JSON
and safetensors hold data only. Every problem is a `ModelFileError`, whose message is a sentence for the student.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Callable, TypeVar

from core.errors import StudentError
from core.registry import Registry

log = logging.getLogger(__name__)

MAX_META_BYTES = 2**20              # a classifier's metadata is a few hundred bytes; a lesson may allow more
MAX_META_DEPTH = 6                  # objects and lists inside each other: model metadata is nearly flat
MAX_HEADER_BYTES = 16 * 2**20       # safetensors' own limit is 100 MB; a model here lists at most a few thousand
MAX_DIMS = 8
FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
NOT_SAFETENSORS = ("The weights file is damaged or is not a safetensors file: use the .safetensors file exported "
                   "with the metadata.")

Source = bytes | Path
T = TypeVar("T")


class ModelFileError(StudentError, ValueError):
    """A model's files that cannot be used; the message says why, for the student (never a path)."""


# ---- the metadata --------------------------------------------------------------------------------------------------
def parse_meta(source: Source, max_bytes: int = MAX_META_BYTES, name: str = "metadata file") -> dict:
    """The metadata as a dict. Nothing else is read from it here: the lesson checks each field it uses.
    FileNotFoundError if a path is missing."""
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    if size > max_bytes:
        raise ModelFileError(f"The {name} is {size / 2**20:,.1f} MB, far larger than a model's {name} here (at most "
                             f"{max_bytes / 2**20:,.0f} MB): is it the .json file exported with the weights?")
    raw = source.read_bytes() if isinstance(source, Path) else source
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise ModelFileError(f"The {name} is nested far too deeply to be a model's metadata.") from None
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"The {name} is not valid JSON: use the .json file exported with the weights.") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"The {name} must hold a JSON object: the .json file exported with the weights.")
    if depth(meta) > MAX_META_DEPTH:
        raise ModelFileError(f"The {name} is nested far too deeply to be a model's metadata.")
    return meta


def depth(value) -> int:
    """How deeply objects and lists nest in `value`, counted without recursion (it stops past MAX_META_DEPTH)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_META_DEPTH:
                break
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


# ---- the weights' header ---------------------------------------------------------------------------------------------
def header_of(source: Source) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors file's header (8 bytes giving its length, then JSON),
    checked against the file's length; no tensor is read. FileNotFoundError if a path is missing."""
    if isinstance(source, Path):
        with source.open("rb") as f:
            start = f.read(8)
            length = int.from_bytes(start, "little") if len(start) == 8 else -1
            header = f.read(length) if 0 <= length <= MAX_HEADER_BYTES else b""
        data_bytes = source.stat().st_size - 8 - length
    else:
        length = int.from_bytes(source[:8], "little") if len(source) >= 8 else -1
        header = source[8:8 + length] if 0 <= length <= MAX_HEADER_BYTES else b""
        data_bytes = len(source) - 8 - length
    if length < 2 or length > MAX_HEADER_BYTES or len(header) != length:
        raise ModelFileError(NOT_SAFETENSORS)
    try:
        entries = json.loads(header)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ModelFileError(NOT_SAFETENSORS) from None
    if not isinstance(entries, dict):
        raise ModelFileError(NOT_SAFETENSORS)
    found = {}
    for tensor, entry in entries.items():
        if tensor == "__metadata__":
            continue
        dtype, shape, offsets = _entry(entry)
        if dtype in DTYPE_BYTES and offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ModelFileError(NOT_SAFETENSORS)
        if offsets[1] > data_bytes:
            raise ModelFileError("The weights file is damaged: it ends before the numbers its header lists (was it "
                                 "cut short?).")
        found[tensor] = (dtype, shape)
    return found


def _entry(entry) -> tuple[str, tuple[int, ...], tuple[int, int]]:
    def whole(n):
        return isinstance(n, int) and not isinstance(n, bool) and n >= 0
    if not isinstance(entry, dict):
        raise ModelFileError(NOT_SAFETENSORS)
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(dtype, str) and isinstance(shape, list) and len(shape) <= MAX_DIMS and all(map(whole, shape))
            and isinstance(offsets, list) and len(offsets) == 2 and all(map(whole, offsets))
            and offsets[0] <= offsets[1]):
        raise ModelFileError(NOT_SAFETENSORS)
    return dtype, tuple(shape), (offsets[0], offsets[1])


def check_header(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[str, tuple[int, ...]]],
                 what: str) -> None:
    """The weights must name exactly the tensors of `what` (say "a resnet18 with 3 classes"), each of the shape the
    metadata implies, in floating point (a BatchNorm's step counter aside)."""
    missing, unexpected = set(expected) - set(found), set(found) - set(expected)
    if missing or unexpected:
        raise ModelFileError(f"These weights are not those of {what}: {len(missing)} of its tensors are missing and "
                             f"{len(unexpected)} are unexpected (are the two files from the same export?).")
    for tensor, shape in expected.items():
        dtype, got = found[tensor]
        if tuple(got) != tuple(shape):
            raise ModelFileError(f"These weights do not fit the metadata: '{printable(tensor)}' is {dims(got)}, but "
                                 f"{what} needs {dims(shape)} (are the two files from the same export?).")
        if dtype not in FLOAT_DTYPES and not tensor.endswith("num_batches_tracked"):
            raise ModelFileError(f"These weights do not fit the metadata: '{printable(tensor)}' holds "
                                 f"{printable(dtype)} numbers, not floating-point weights.")


def parameter_count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def check_size(n_parameters: int, limit: int, what: str) -> None:
    """Refuse, before anything is built, metadata describing a model larger than this server loads."""
    if n_parameters > limit:
        raise ModelFileError(f"The metadata describes a model of {n_parameters:,} parameters; this server loads "
                             f"{what} of up to {limit:,}.")


def read_tensors(source: Source) -> dict:
    """The tensors of a safetensors file (its bytes or its path), once `check_header` has passed."""
    from safetensors.torch import load, load_file
    try:
        return load_file(str(source)) if isinstance(source, Path) else load(source)
    except FileNotFoundError:
        raise
    except Exception as e:                     # safetensors raises its own error types on a damaged file
        log.info("unreadable safetensors weights: %s", e)
        raise ModelFileError("The weights file is damaged: its numbers cannot be read.") from None


def dims(shape) -> str:
    return " × ".join(f"{d:,}" for d in shape) or "a single number"


def printable(text: str) -> str:
    return "".join(c for c in str(text) if c.isprintable())[:80]


# ---- a run's model, and each lesson's reader -------------------------------------------------------------------------
def read_run_model(folder: Path, read: Callable[[Path, Path], T]) -> T:
    """A run's model.safetensors + model.json through `read(weights, meta)`; RunDamaged (a sentence) otherwise."""
    from core.runs import MODEL_FILE, RunDamaged
    try:
        return read(folder / f"{MODEL_FILE}.safetensors", folder / f"{MODEL_FILE}.json")
    except FileNotFoundError:
        raise RunDamaged("This run's model was not saved (it may have stopped before the end).") from None
    except ModelFileError as e:
        raise RunDamaged(f"This run's model cannot be used: {e}") from None


READERS = Registry("model file reader")


def register_reader(lesson: str, read: Callable[[Source, Source], object]) -> Callable:
    """`read(weights, meta)` -> the lesson's usable model, from bytes or paths; ModelFileError otherwise. The page's
    "load it back" and the tests (tests/test_modelfiles_lessons.py) find it here."""
    READERS[lesson] = read               # not .register: a module imported again re-registers the same reader
    return read
