"""Save trained models without pickle: tensors as safetensors, everything else as JSON. Reading back files that
came from elsewhere (an upload, a run's folder) goes through core/modelfiles.py, which checks them first."""
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
    """Both files as they are, unchecked: a lesson's loader reads through core/modelfiles.py instead."""
    weights_path, meta_path = _paths(path)
    return load_file(str(weights_path)), json.loads(meta_path.read_text())


def model_to_bytes(model: torch.nn.Module, meta: dict) -> tuple[bytes, bytes]:
    """For a download button: the same two files, in memory."""
    return weights_bytes(model), meta_bytes(meta)


def weights_bytes(model: torch.nn.Module) -> bytes:
    from safetensors.torch import save
    return save({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()})


def meta_bytes(meta: dict) -> bytes:
    return json.dumps(dict(meta, format_version=FORMAT_VERSION), indent=2).encode()


def _atomic(final: Path, write) -> None:
    tmp = final.with_name(final.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
