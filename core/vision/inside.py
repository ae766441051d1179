"""What the model looks at, for one photo: the activation maps of a few layers, from early (edges, colours) to late
(parts of things), and a class activation map per class (Grad-CAM, Selvaraju et al. 2017: the last feature maps
weighted by how much each one raises that class's score).

    inside = look_inside(classifier, photo)        # one forward pass and a backward pass through the head only
    overlay(inside.picture, inside.cams[c])         # the map over the photo, as an image

With a global average pool followed by a linear layer (EfficientNet, ResNet), Grad-CAM is exactly the course's CAM
(Zhou et al. 2016): each class's map is its linear weights applied to the feature map at every position.
"""
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LAYERS_SHOWN = 4
CHANNELS_SHOWN = 6
_lock = threading.Lock()          # one look at a time: a loaded model is shared by every session of the server


@dataclass
class LayerMaps:
    name: str                 # the module, e.g. "blocks.1"
    reduction: int            # its maps are this many times smaller than the photo
    channels: int             # how many maps the layer has
    top: list[int]            # the channels shown: the most active ones
    maps: np.ndarray          # (len(top), h, w) in 0..1


@dataclass
class Inside:
    probs: np.ndarray         # (n_classes,)
    layers: list[LayerMaps]   # early to late
    cams: np.ndarray          # (n_classes, size, size) in 0..1, over the photo as the model saw it
    picture: np.ndarray       # (size, size, 3) uint8: the photo as the model saw it (resized)


def feature_layers(model: nn.Module, n: int = LAYERS_SHOWN) -> list[tuple[str, int]]:
    """(module name, reduction) of `n` layers spread from the first to the last of the model's stages: timm's
    `feature_info` where the model has one, else its direct children."""
    info = getattr(model, "feature_info", None)
    if info:
        stages = [(d["module"], int(d["reduction"])) for d in info]
    else:
        stages = [(name, 0) for name, child in model.named_children() if any(True for _ in child.parameters())]
    if len(stages) <= n:
        return stages
    picks = np.linspace(0, len(stages) - 1, n).round().astype(int)
    return [stages[i] for i in sorted(set(picks))]


def look_inside(classifier, img, n_layers: int = LAYERS_SHOWN, n_channels: int = CHANNELS_SHOWN) -> Inside:
    """One photo through `classifier` (core.vision.train.TrainedClassifier, or anything with `model`, `inputs`,
    `size`, `mean`, `std`): the model needs `forward_features` and `forward_head`, as every timm model has."""
    model = classifier.model
    x = classifier.inputs([img]).to(next(model.parameters()).device)
    layers = dict(feature_layers(model, n_layers))
    modules = dict(model.named_modules())
    seen: dict[str, torch.Tensor] = {}
    me = threading.get_ident()

    def keep(name):
        def hook(_module, _inputs, output):
            if threading.get_ident() == me and isinstance(output, torch.Tensor) and output.ndim == 4:
                seen[name] = output.detach()
        return hook

    with _lock:
        model.eval()
        handles = [modules[name].register_forward_hook(keep(name)) for name in layers if name in modules]
        try:
            with torch.no_grad():
                features = model.forward_features(x).float()
        finally:
            for handle in handles:
                handle.remove()
        features.requires_grad_(True)
        with torch.enable_grad():
            logits = model.forward_head(features).float()
            cams = [_grad_cam(logits[0, c], features, retain=c < logits.shape[1] - 1) for c in range(logits.shape[1])]
    probs = torch.softmax(logits.detach()[0], 0).cpu().numpy()
    size = x.shape[-1]
    cams = np.stack([_upsample(cam, size) for cam in cams])
    return Inside(probs, [_top_maps(name, seen[name], layers[name], n_channels) for name in layers if name in seen],
                  cams, _picture(x, classifier.mean, classifier.std))


def _grad_cam(score: torch.Tensor, features: torch.Tensor, retain: bool) -> torch.Tensor:
    grads = torch.autograd.grad(score, features, retain_graph=retain)[0]
    weights = grads.mean(dim=(2, 3), keepdim=True)                 # how much each feature map raises the score
    return F.relu((weights * features.detach()).sum(1))[0]         # (h, w)


def _upsample(cam: torch.Tensor, size: int) -> np.ndarray:
    cam = F.interpolate(cam[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    top = float(cam.max())
    return (cam / top).cpu().numpy() if top > 0 else np.zeros((size, size), np.float32)


def _top_maps(name: str, output: torch.Tensor, reduction: int, n: int) -> LayerMaps:
    acts = output[0].float()
    # the channels that fire hardest somewhere, above their own average: what a part of the photo set off. Ranked
    # by their average, the top ones were textures firing all over (the grass round a blackbird).
    top = (acts.amax(dim=(1, 2)) - acts.mean(dim=(1, 2))).argsort(descending=True)[:n]
    maps = acts[top]
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = (maps.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-8)
    return LayerMaps(name, reduction, acts.shape[0], top.tolist(), ((maps - low) / span).cpu().numpy())


def _picture(x: torch.Tensor, mean, std) -> np.ndarray:
    img = x[0].detach().float().cpu() * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)
    return (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


# ---- drawing -------------------------------------------------------------------------------------------------------
_HEAT = np.array([[0, 0, 0.5], [0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0], [0.5, 0, 0]])   # blue -> red ("jet")


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Values in 0..1 -> RGB uint8, cold blue to hot red."""
    positions = np.clip(values, 0, 1) * (len(_HEAT) - 1)
    low = np.floor(positions).astype(int).clip(0, len(_HEAT) - 2)
    frac = (positions - low)[..., None]
    return ((_HEAT[low] * (1 - frac) + _HEAT[low + 1] * frac) * 255).round().astype(np.uint8)


def overlay(picture: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The class activation map over the photo: the hotter, the more that part raised the class's score."""
    blended = (1 - alpha) * picture.astype(np.float32) + alpha * heat_colours(cam).astype(np.float32)
    return blended.round().clip(0, 255).astype(np.uint8)


MAP_COLOUR = (255, 221, 0)      # a channel's firing, in yellow over the photo in grey (CAM has the blue-red scale)


def lit_maps(picture: np.ndarray, maps: np.ndarray, size: int) -> list[np.ndarray]:
    """Each of a layer's activation maps over the photo, `size` pixels square: yellow where the channel fires, on
    the photo in dimmed grey. A late layer's map is 7x7: alone it was grey squares, over the photo it says which part
    of it the channel saw (a head, a wheel); yellow shows on a black bird, where lighting the photo did not."""
    photo = torch.from_numpy(picture).permute(2, 0, 1)[None].float()
    photo = F.interpolate(photo, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    grey = 0.6 * (0.299 * photo[0] + 0.587 * photo[1] + 0.114 * photo[2])
    fire = F.interpolate(torch.from_numpy(maps)[:, None], size=(size, size), mode="bilinear",
                         align_corners=False)[:, 0].clamp(0, 1) ** 1.5                # its peaks, not its murmur
    colour = torch.tensor(MAP_COLOUR, dtype=torch.float32).view(1, 3, 1, 1)
    shown = grey[None, None] * (1 - fire[:, None]) + colour * fire[:, None]
    return [m.permute(1, 2, 0).round().clamp(0, 255).byte().numpy() for m in shown]
