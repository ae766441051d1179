"""Training the classifier, and the trained classifier itself (core/vision/jobs.py runs this in a worker).

    settings(config)                    the checked settings of a run (a sentence for anything out of range)
    make_learner(ctx, items, cfg)       the Learner on a pretrained (or, when asked, random) backbone
    train(ctx, items, cfg)              fastai's fine_tune, or fit_one_cycle on everything from the start
    TrainedClassifier                   predict(photos) -> probabilities per class; export_meta()
    classifier_from_files(weights, meta)  a model someone exported, checked before anything is built

bs "auto" is CPU_BATCH_SIZE on a CPU and, on a GPU, the largest batch that fits the job's share of it.
"""
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.checks import SEED, batch_size, flag, numbers
from core.device import prefers_channels_last, seed_everything
from core.errors import StudentError
from core.learner import Learner
from core.memory import BatchPlan, plan_image_batches, plan_report
from core.metrics import error_rate
from core.modelfiles import ModelFileError, check_header, header_of, parse_meta, read_tensors, register_reader
from core.models import BACKBONES, create_backbone, get_backbone_spec
from core.splits import random_split
from core.vision.data import MAX_CLASS_NAME, MAX_CLASSES, ImageItems, make_dataloaders
from core.vision.transforms import RESIZE_METHODS, normalize, resize, to_uint8_tensor

# size 224, as the backbone was pretrained: across 5 seeds on 2 CPU cores, 2.6% mean error (worst 4.9%) in 46 s of
# training, against 6.4% (worst 9.6%) at 160 px in 25 s (benchmarks/bench_image_classification.py --seeds 0 1 2 3 42).
# One epoch after unfreezing, not the course's fine_tune(3): the default has to train in under a minute on a 2-core
# CPU; a GPU server can afford 3.
DEFAULTS = dict(size=224, method="squish", valid_pct=0.2, seed=42, bs="auto", backbone="efficientnet_lite0",
                lr=1e-2, epochs=1, freeze_epochs=1, min_scale=0.75, recipe="fine_tune", pretrained=True)
CPU_BATCH_SIZE = 16      # on 2 cores, batches of 16 gave the best error in the 60 s budget (more steps per epoch)
RECIPES = ("fine_tune", "fit_one_cycle")
SIZE_RANGE = (32, 1024)
BOUNDS = dict(size=SIZE_RANGE, valid_pct=(0.05, 0.5), seed=SEED, lr=(1e-7, 1.0), epochs=(1, 100),
              freeze_epochs=(0, 10), min_scale=(0.05, 1.0))


def settings(config: dict | None) -> dict:
    """The run's settings, defaults filled in, each checked: a link or an old run can carry anything."""
    cfg = dict(DEFAULTS, **(config or {}))

    def bad(key, wanted):
        raise StudentError(f"The setting {key!r} must be {wanted} (this run has {str(cfg[key])[:40]!r}).")

    cfg = numbers(cfg, BOUNDS, whole=("size", "seed", "epochs", "freeze_epochs"))
    if cfg["method"] not in RESIZE_METHODS:
        bad("method", " or ".join(RESIZE_METHODS))
    cfg["bs"] = batch_size(cfg["bs"], high=1024)
    if cfg["backbone"] not in BACKBONES:
        bad("backbone", "one of " + ", ".join(BACKBONES))
    if cfg["recipe"] not in RECIPES:
        bad("recipe", " or ".join(RECIPES))
    if cfg["recipe"] == "fit_one_cycle":
        cfg["freeze_epochs"] = 0                    # it freezes nothing: its epochs are all the epochs it trains
    flag(cfg["pretrained"], "pretrained")
    return cfg


@dataclass
class TrainedClassifier:
    """A trained model and what it needs to classify a new photo the same way it saw the validation set."""
    model: nn.Module
    vocab: list[str]
    size: int
    method: str
    mean: tuple
    std: tuple
    backbone: str
    meta: dict = field(default_factory=dict)

    def inputs(self, images) -> torch.Tensor:
        """PIL images as the model takes them: resized, normalised, (N, 3, size, size) float."""
        x = to_uint8_tensor([resize(img, self.size, self.method) for img in images])
        return normalize(x, torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1))

    def predict(self, images) -> np.ndarray:
        """PIL images -> (N, n_classes) probabilities."""
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            return torch.softmax(self.model(self.inputs(images).to(device)).float(), dim=1).cpu().numpy()

    def export_meta(self) -> dict:
        return dict(task="image_classification", backbone=self.backbone, vocab=list(self.vocab),
                    size=self.size, method=self.method, mean=list(self.mean), std=list(self.std), **self.meta)


# ---- a model someone exported: every field checked before anything is built from it ---------------------------------
def check_meta(meta: dict) -> dict:
    """The fields a classifier is rebuilt from, each checked for type and range; ModelFileError otherwise."""
    if meta.get("task") != "image_classification":
        raise ModelFileError("This is not an image classifier exported by this lesson (its metadata names another "
                             "task).")
    backbone, vocab, size, method = meta.get("backbone"), meta.get("vocab"), meta.get("size"), meta.get("method")
    if not isinstance(backbone, str) or backbone not in BACKBONES:
        raise ModelFileError("The metadata's backbone is not one this app knows (" + ", ".join(BACKBONES) + ").")
    if not isinstance(vocab, list) or not 2 <= len(vocab) <= MAX_CLASSES or \
            not all(isinstance(v, str) and 0 < len(v) <= MAX_CLASS_NAME for v in vocab) or len(set(vocab)) != len(vocab):
        raise ModelFileError(f"The metadata's class names must be 2 to {MAX_CLASSES} different names of at most "
                             f"{MAX_CLASS_NAME} characters.")
    if not isinstance(size, int) or isinstance(size, bool) or not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise ModelFileError(f"The metadata's image size must be a whole number from {SIZE_RANGE[0]} to "
                             f"{SIZE_RANGE[1]}.")
    if method not in RESIZE_METHODS:
        raise ModelFileError("The metadata's resize method must be one of " + ", ".join(RESIZE_METHODS) + ".")
    stats = [meta.get("mean"), meta.get("std")]
    if not all(isinstance(s, list) and len(s) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                            and math.isfinite(v) and abs(v) <= 10 for v in s)
               for s in stats) or min(stats[1]) <= 0:
        raise ModelFileError("The metadata's normalisation (mean and std) must be three finite numbers each, the "
                             "std above 0.")
    return dict(backbone=backbone, vocab=list(vocab), size=size, method=method, mean=tuple(map(float, stats[0])),
                std=tuple(map(float, stats[1])))


def expected_shapes(backbone: str, n_classes: int) -> dict[str, tuple[int, ...]]:
    """The shape of every weight of `backbone` with an `n_classes` head, from a model on the meta device: nothing
    is allocated, whatever the metadata asked for."""
    import timm
    with torch.device("meta"):
        model = timm.create_model(get_backbone_spec(backbone).timm_name.split(".")[0], pretrained=False)
        model.reset_classifier(n_classes)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _described(checked: dict) -> str:
    return f"a {checked['backbone']} with {len(checked['vocab'])} classes"


def _build(checked: dict, state: dict) -> TrainedClassifier:
    backbone = create_backbone(checked["backbone"], len(checked["vocab"]), pretrained=False)
    backbone.model.load_state_dict(state, strict=True)
    return TrainedClassifier(backbone.model.float().eval(), checked["vocab"], checked["size"], checked["method"],
                             checked["mean"], checked["std"], checked["backbone"])


def from_export(state: dict, meta: dict) -> TrainedClassifier:
    """A classifier from weights already in memory and their metadata, both checked first."""
    checked = check_meta(meta)
    found = {k: (_DTYPES.get(v.dtype, str(v.dtype)), tuple(v.shape)) for k, v in state.items()}
    check_header(expected_shapes(checked["backbone"], len(checked["vocab"])), found, _described(checked))
    return _build(checked, state)


_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
           torch.int64: "I64"}


def classifier_from_files(weights: bytes | Path, meta: bytes | Path) -> TrainedClassifier:
    """A classifier from its two exported files (an upload's bytes, or a run's files): the metadata's fields and
    the weights' header are checked (core/modelfiles.py) before a tensor is read or a model is built."""
    checked = check_meta(parse_meta(meta))
    check_header(expected_shapes(checked["backbone"], len(checked["vocab"])), header_of(weights), _described(checked))
    return _build(checked, read_tensors(weights))


register_reader("image_classification", classifier_from_files)


# ---- training ---------------------------------------------------------------------------------------------------------
def batch_plan(ctx, model: nn.Module, items: ImageItems, cfg: dict) -> BatchPlan:
    """The batch size to train with, and the memory the job is expected to need."""
    size = cfg["size"]
    n_train = len(random_split(items.groups, cfg["valid_pct"], cfg["seed"])[0])
    return plan_image_batches(model, ctx.device, ctx.memory_budget, (size, size), len(items) * 3 * size * size,
                              n_train, cfg["bs"], CPU_BATCH_SIZE)


def make_learner(ctx, items: ImageItems, cfg: dict, weight_stats: bool = False):
    seed_everything(cfg["seed"])
    ctx.report(stage="loading images", fraction=0.0)
    backbone = create_backbone(cfg["backbone"], len(items.vocab), pretrained=cfg["pretrained"])
    ctx.report(weights_source=backbone.weights.source, weights_detail=backbone.weights.detail)
    plan = batch_plan(ctx, backbone.model, items, cfg)
    ctx.report(**plan_report(plan))
    data = make_dataloaders(items, cfg["size"], cfg["method"], cfg["valid_pct"], cfg["seed"], plan.batch_size,
                            backbone.spec.mean, backbone.spec.std, ctx.device, cfg["min_scale"])
    ctx.check_cancelled()
    learn = Learner(backbone.model, data.dls, nn.CrossEntropyLoss(), metrics=(error_rate,),
                    splitter=backbone.splitter, cbs=ctx.callbacks(weight_stats=weight_stats),
                    device=ctx.device, channels_last=prefers_channels_last(ctx.device))
    return learn, data, backbone


def train(learn: Learner, cfg: dict) -> float:
    """The recipe: fastai's fine_tune (the new head alone with the body frozen, then everything), or
    fit_one_cycle on every layer from the first step (the course's comparison). Returns the seconds it took."""
    start = time.perf_counter()
    if cfg["recipe"] == "fine_tune":
        learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    else:
        learn.phase = "one_cycle"
        learn.fit_one_cycle(cfg["epochs"], cfg["lr"])
        learn.phase = None
    return time.perf_counter() - start
