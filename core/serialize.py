"""Save and load trained models without pickle: tensors as safetensors, everything else as JSON."""
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    return path.with_suffix(".safetensors"), path.with_suffix(".json")


def save_model(path, model: torch.nn.Module, meta: dict) -> tuple[Path, Path]:
    """Write `<path>.safetensors` (the weights) and `<path>.json` (what's needed to rebuild and use them)."""
    weights_path, meta_path = _paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic(weights_path, lambda tmp: save_file(state, str(tmp)))
    _atomic(meta_path, lambda tmp: tmp.write_text(json.dumps(dict(meta, format_version=FORMAT_VERSION), indent=2)))
    return weights_path, meta_path


def load_model(path) -> tuple[dict[str, torch.Tensor], dict]:
    weights_path, meta_path = _paths(path)
    return load_file(str(weights_path)), json.loads(meta_path.read_text())


def model_to_bytes(model: torch.nn.Module, meta: dict) -> tuple[bytes, bytes]:
    """For a download button: the same two files, in memory."""
    from safetensors.torch import save
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    return save(state), json.dumps(dict(meta, format_version=FORMAT_VERSION), indent=2).encode()


def model_from_bytes(weights: bytes, meta: bytes) -> tuple[dict[str, torch.Tensor], dict]:
    """For an upload: safetensors can't run code, and JSON can't either. Raises ValueError on a bad file."""
    from safetensors.torch import load
    try:
        state = load(weights)
    except Exception as e:
        raise ValueError(f"this is not a safetensors weights file ({e})") from e
    try:
        info = json.loads(meta)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"the metadata is not valid JSON ({e})") from e
    if not isinstance(info, dict):
        raise ValueError("the metadata JSON must be an object")
    return state, info


def _atomic(final: Path, write) -> None:
    tmp = final.with_name(final.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# ---- checking a model's files before building anything from them (uploads, runs from the store) ----
MAX_META_BYTES = 2**20
MAX_META_DEPTH = 6
MAX_HEADER_BYTES = 16 * 2**20
FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")


def parse_meta(raw: bytes) -> dict:
    """A model's metadata (JSON), or ValueError with a sentence: too large, not JSON, nested deeper than a model's
    metadata ever is, or not an object. Nothing else is read from it here: the caller checks each field."""
    if len(raw) > MAX_META_BYTES:
        raise ValueError("the metadata file is larger than a model's metadata can be")
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("the metadata file is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ValueError("the metadata must be a JSON object")
    if _depth(meta) > MAX_META_DEPTH:
        raise ValueError("the metadata is nested far deeper than a model's metadata is")
    return meta


def _depth(value, limit: int = MAX_META_DEPTH + 1) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def safetensors_shapes(source: bytes | Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a safetensors file's header, without reading a tensor: `source` is the
    file's bytes (an upload) or its path (safetensors.safe_open reads the header only). ValueError if damaged."""
    if isinstance(source, Path):
        from safetensors import safe_open
        try:
            with safe_open(str(source), framework="pt") as f:
                return {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}
        except FileNotFoundError:
            raise
        except Exception:                     # safetensors' own error type for a damaged or truncated file
            raise ValueError("the weights file is damaged or is not a safetensors file") from None
    if len(source) < 8:
        raise ValueError("the weights file is not a safetensors file")
    size = int.from_bytes(source[:8], "little")
    if size > min(MAX_HEADER_BYTES, len(source) - 8):
        raise ValueError("the weights file is damaged or is not a safetensors file")
    try:
        header = json.loads(source[8:8 + size])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("the weights file is damaged or is not a safetensors file") from None
    if not isinstance(header, dict):
        raise ValueError("the weights file is damaged or is not a safetensors file")
    shapes = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str) and isinstance(shape, list)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise ValueError("the weights file is damaged or is not a safetensors file")
        shapes[name] = (entry["dtype"], tuple(shape))
    return shapes


def check_state_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[str, tuple[int, ...]]],
                       what: str) -> None:
    """ValueError (a sentence) unless the weights name exactly the tensors `what` has, each of its shape, floats."""
    missing, extra = set(expected) - set(found), set(found) - set(expected)
    if missing or extra:
        raise ValueError(f"these weights are not those of {what} ({len(missing)} tensors missing, "
                         f"{len(extra)} unexpected)")
    for name, shape in expected.items():
        dtype, got = found[name]
        if tuple(got) != tuple(shape):
            raise ValueError(f"these weights do not fit {what}: '{_printable(name)}' is {list(got)}, not {list(shape)}")
        if dtype not in FLOAT_DTYPES and not name.endswith("num_batches_tracked"):
            raise ValueError(f"these weights do not fit {what}: '{_printable(name)}' holds {dtype}, not floats")


def load_state(source: bytes | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (bytes or path), once its header has been checked."""
    from safetensors.torch import load, load_file
    try:
        return load_file(str(source)) if isinstance(source, Path) else load(source)
    except Exception:
        raise ValueError("the weights file is damaged or is not a safetensors file") from None


def _printable(name: str) -> str:
    return "".join(c for c in name if c.isprintable())[:80]
