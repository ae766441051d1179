"""The lesson's two jobs, run by the job runner on a worker thread (never in a page's script):

    lr_find_job(ctx, items, config)    -> {"lrs", "losses", "valley"}
    fine_tune_job(ctx, items, config)  -> a TrainedClassifier plus what the Results section needs

Bind the data and settings with functools.partial and hand the result to `runner.submit`.
`config` is plain JSON (shown by the runner and saved with the run):
    size, method, valid_pct, seed, bs, backbone, lr, epochs, freeze_epochs
bs "auto" is CPU_BATCH_SIZE on a CPU and, on a GPU, the largest batch that fits the job's share of it.
"""
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.device import prefers_channels_last, seed_everything
from core.learner import Learner
from core.memory import BatchPlan, plan_image_batches, plan_report
from core.metrics import error_rate
from core.models import create_backbone
from core.splits import random_split
from core.vision.data import ImageItems, make_dataloaders
from core.vision.transforms import normalize, resize, to_uint8_tensor

# size 224, as the backbone was pretrained: across 5 seeds on 2 CPU cores, 2.6% mean error (worst 4.9%) in 46 s of
# training, against 6.4% (worst 9.6%) at 160 px in 25 s (benchmarks/bench_image_classification.py --seeds 0 1 2 3 42).
DEFAULTS = dict(size=224, method="squish", valid_pct=0.2, seed=42, bs="auto", backbone="efficientnet_lite0",
                lr=1e-2, epochs=1, freeze_epochs=1, min_scale=0.75)
CPU_BATCH_SIZE = 16      # on 2 cores, batches of 16 gave the best error in the 60 s budget (more steps per epoch)


def settings(config: dict | None) -> dict:
    return dict(DEFAULTS, **(config or {}))


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

    def predict(self, images) -> np.ndarray:
        """PIL images -> (N, n_classes) probabilities."""
        x = to_uint8_tensor([resize(img, self.size, self.method) for img in images])
        x = normalize(x, torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1))
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            return torch.softmax(self.model(x.to(device)).float(), dim=1).cpu().numpy()

    def export_meta(self) -> dict:
        return dict(task="image_classification", backbone=self.backbone, vocab=list(self.vocab),
                    size=self.size, method=self.method, mean=list(self.mean), std=list(self.std), **self.meta)


def from_export(state: dict, meta: dict) -> TrainedClassifier:
    """Rebuild a classifier from `export_meta()` + safetensors weights (no pretrained download needed)."""
    needed = ("backbone", "vocab", "size", "method", "mean", "std")
    missing = [k for k in needed if k not in meta]
    if missing or meta.get("task") != "image_classification":
        raise ValueError("this is not an image classifier exported by this lesson "
                         f"(missing: {', '.join(missing) or 'task'})")
    backbone = create_backbone(meta["backbone"], len(meta["vocab"]), pretrained=False)
    try:
        backbone.model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"the weights do not fit a {meta['backbone']} with {len(meta['vocab'])} classes") from e
    return TrainedClassifier(backbone.model.eval(), list(meta["vocab"]), int(meta["size"]), meta["method"],
                             tuple(meta["mean"]), tuple(meta["std"]), meta["backbone"])


def batch_plan(ctx, model: nn.Module, items: ImageItems, cfg: dict) -> BatchPlan:
    """The batch size to train with, and the memory the job is expected to need."""
    size = cfg["size"]
    n_train = len(random_split(items.groups, cfg["valid_pct"], cfg["seed"])[0])
    return plan_image_batches(model, ctx.device, ctx.memory_budget, (size, size), len(items) * 3 * size * size,
                              n_train, cfg["bs"], CPU_BATCH_SIZE)


def make_learner(ctx, items: ImageItems, cfg: dict, weight_stats: bool = False):
    seed_everything(cfg["seed"])
    ctx.report(stage="loading images", fraction=0.0)
    backbone = create_backbone(cfg["backbone"], len(items.vocab), pretrained=True)
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


def lr_find_job(ctx, items: ImageItems, config: dict | None = None) -> dict:
    cfg = settings(config)
    learn, _, backbone = make_learner(ctx, items, cfg)
    learn.freeze()                         # as fastai: lr_find on the new head, body frozen
    ctx.report(stage="lr_find")
    found = learn.lr_find(num_it=min(100, max(30, 4 * len(learn.dls.train))))
    return dict(lrs=found.lrs, losses=found.losses, valley=found.valley, cancelled=found.cancelled,
                weights=backbone.weights.detail)


def fine_tune_job(ctx, items: ImageItems, config: dict | None = None) -> dict:
    cfg = settings(config)
    learn, data, backbone = make_learner(ctx, items, cfg, weight_stats=True)
    start = time.perf_counter()
    learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    seconds = time.perf_counter() - start
    ctx.report(stage="interpreting")
    logits, targets, losses = learn.get_preds()
    model = learn.model.float().to(memory_format=torch.contiguous_format).cpu().eval()
    classifier = TrainedClassifier(model, data.vocab, cfg["size"], cfg["method"], backbone.spec.mean,
                                   backbone.spec.std, cfg["backbone"],
                                   meta=dict(weights=backbone.weights.detail, trained_on=items.description))
    ctx.save_model(model, classifier.export_meta())
    return dict(classifier=classifier, items=items, probs=torch.softmax(logits, 1).numpy(), targets=targets.numpy(),
                losses=losses.numpy(), valid_idx=data.valid_idx, train_idx=data.train_idx,
                epochs=[dict(r) for r in learn.recorder.epochs], cancelled=learn.cancelled,
                seconds=seconds, weights_source=backbone.weights.source, weights_detail=backbone.weights.detail)
