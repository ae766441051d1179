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
