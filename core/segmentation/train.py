"""The lesson's model after training, its export, and the two jobs the job runner runs (never a page's script):

    lr_find_job(ctx, items, config)    -> {"lrs", "losses", "valley"}
    fine_tune_job(ctx, items, config)  -> a TrainedSegmenter plus what the Results section needs

Bind the data and settings with functools.partial and hand the result to `runner.submit`.
`config` is plain JSON (shown by the runner and saved with the run):
    width, valid_pct, seed, bs, backbone, lr, epochs, freeze_epochs, min_scale
"""
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core.device import prefers_channels_last, seed_everything
from core.learner import Learner
from core.memory import plan_image_batches, plan_report
from core.segmentation.data import SegItems, make_dataloaders, pixel_counts, resize_pair, shape_for
from core.segmentation.metrics import iou_per_class, mean_iou, pixel_accuracy, pixel_confusion
from core.segmentation.model import UNet, create_unet, start_from_class_frequencies, unet_splitter
from core.splits import random_split
from core.images import normalize

# 160x120 scenes, 1 frozen + 5 unfrozen epochs at fastai's base_lr: see benchmarks/bench_segmentation.py for time
# and accuracy. lr 1e-2 ended about as well but its frozen epoch's validation loss jumped to ~50 (the decoder's
# BatchNorm statistics lagging behind weights that move that fast): a confusing first row for a student.
DEFAULTS = dict(width=160, valid_pct=0.2, seed=42, bs="auto", backbone="efficientnet_lite0", lr=2e-3, epochs=5,
                freeze_epochs=1, min_scale=0.6)
CPU_BATCH_SIZE = 8       # bs "auto" on a CPU; on a GPU, the largest batch that fits the job's share (core/memory.py)
TASK = "segmentation"


def settings(config: dict | None) -> dict:
    return dict(DEFAULTS, **(config or {}))


@dataclass
class TrainedSegmenter:
    """A trained U-Net and what it needs to label a new photo the way it labelled the validation set."""
    model: UNet
    codes: list[str]
    shape: tuple[int, int]           # (height, width) the model was trained at
    mean: tuple
    std: tuple
    backbone: str
    meta: dict = field(default_factory=dict)

    def predict(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """A PIL image -> (its codes, the probability of the chosen code), both (H, W) at the photo's own size:
        the scores are computed at the training size, then enlarged smoothly before picking a class per pixel."""
        small, _ = resize_pair(image.convert("RGB"), None, self.shape)
        x = torch.from_numpy(np.asarray(small, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
        x = normalize(x, torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1))
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            scores = self.model(x.to(device)).float()
            scores = F.interpolate(scores, size=(image.height, image.width), mode="bilinear", align_corners=False)
            probs = torch.softmax(scores, dim=1)[0].cpu()
        confidence, codes = probs.max(dim=0)
        return codes.numpy().astype(np.uint8), confidence.numpy()

    def export_meta(self) -> dict:
        return dict(task=TASK, backbone=self.backbone, codes=list(self.codes), shape=list(self.shape),
                    mean=list(self.mean), std=list(self.std), **self.meta)


def from_export(state: dict, meta: dict) -> TrainedSegmenter:
    """Rebuild a segmenter from `export_meta()` + safetensors weights (no pretrained weights needed)."""
    needed = ("backbone", "codes", "shape", "mean", "std")
    missing = [k for k in needed if k not in meta]
    if missing or meta.get("task") != TASK:
        raise ValueError("this is not a segmentation model exported by this lesson "
                         f"(missing: {', '.join(missing) or 'task'})")
    model, _ = create_unet(meta["backbone"], len(meta["codes"]), pretrained=False)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"the weights do not fit a U-Net on {meta['backbone']} with {len(meta['codes'])} classes") from e
    return TrainedSegmenter(model.eval(), list(meta["codes"]), tuple(meta["shape"]), tuple(meta["mean"]),
                            tuple(meta["std"]), meta["backbone"])


def make_learner(ctx, items: SegItems, cfg: dict, weight_stats: bool = False):
    seed_everything(cfg["seed"])
    ctx.report(stage="loading images", fraction=0.0)
    model, backbone = create_unet(cfg["backbone"], len(items.codes), pretrained=True)
    ctx.report(weights_source=backbone.weights.source, weights_detail=backbone.weights.detail)
    shape = shape_for(items, cfg["width"])
    n_train = len(random_split(items.groups, cfg["valid_pct"], cfg["seed"])[0])
    plan = plan_image_batches(model, ctx.device, ctx.memory_budget, shape, len(items) * 11 * shape[0] * shape[1],
                              n_train, cfg["bs"], CPU_BATCH_SIZE)       # 11 bytes a pixel: uint8 RGB + int64 code
    ctx.report(**plan_report(plan))
    data = make_dataloaders(items, cfg["width"], cfg["valid_pct"], cfg["seed"], plan.batch_size, backbone.spec.mean,
                            backbone.spec.std, ctx.device, cfg["min_scale"])
    start_from_class_frequencies(model, pixel_counts(items, data.train_idx))
    ctx.check_cancelled()
    learn = Learner(model, data.dls, nn.CrossEntropyLoss(), metrics=(pixel_accuracy, mean_iou),
                    splitter=unet_splitter, cbs=ctx.callbacks(weight_stats=weight_stats),
                    device=ctx.device, channels_last=prefers_channels_last(ctx.device))
    return learn, data, backbone


def lr_find_job(ctx, items: SegItems, config: dict | None = None) -> dict:
    cfg = settings(config)
    learn, _, backbone = make_learner(ctx, items, cfg)
    learn.freeze()                         # as fastai: lr_find on the new decoder, encoder frozen
    ctx.report(stage="lr_find")
    found = learn.lr_find(num_it=min(100, max(30, 3 * len(learn.dls.train))))
    return dict(lrs=found.lrs, losses=found.losses, valley=found.valley, cancelled=found.cancelled,
                weights=backbone.weights.detail)


def fine_tune_job(ctx, items: SegItems, config: dict | None = None) -> dict:
    cfg = settings(config)
    learn, data, backbone = make_learner(ctx, items, cfg)
    start = time.perf_counter()
    learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    seconds = time.perf_counter() - start
    ctx.report(stage="interpreting")
    scores, targets, losses = learn.get_preds()
    predicted = scores.argmax(dim=1)
    model = learn.model.float().to(memory_format=torch.contiguous_format).cpu().eval()
    segmenter = TrainedSegmenter(model, data.codes, data.shape, backbone.spec.mean, backbone.spec.std,
                                 cfg["backbone"], meta=dict(weights=backbone.weights.detail, trained_on=items.description))
    ctx.save_model(model, segmenter.export_meta())
    cm = pixel_confusion(predicted.numpy(), targets.numpy(), len(data.codes))
    return dict(segmenter=segmenter, items=items, valid_idx=data.valid_idx, train_idx=data.train_idx,
                x_valid=data.x_valid.permute(0, 2, 3, 1).numpy(), y_valid=targets.numpy().astype(np.uint8),
                predicted=predicted.numpy().astype(np.uint8), losses=losses.mean(dim=(1, 2)).numpy(),
                confusion=cm, iou=iou_per_class(cm), pixel_accuracy=float(np.trace(cm) / max(1, cm.sum())),
                epochs=[dict(r) for r in learn.recorder.epochs], cancelled=learn.cancelled, seconds=seconds,
                weights_source=backbone.weights.source, weights_detail=backbone.weights.detail)
