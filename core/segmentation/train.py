"""The lesson's Learner and its trained model.

`config` is plain JSON (kept with the run, shown by "About this run", put back by "Train again"):
    width, valid_pct, seed, bs, backbone, lr, epochs, freeze_epochs, min_scale
"""
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core.device import prefers_channels_last, seed_everything
from core.images import normalize
from core.learner import Learner
from core.memory import BatchPlan, plan_image_batches, plan_report
from core.segmentation.data import MAX_SIDE, SegItems, make_dataloaders, pixel_counts, resize_pair, shape_for
from core.segmentation.metrics import mean_iou, pixel_accuracy
from core.segmentation.model import UNet, create_unet, start_from_class_frequencies, unet_layer, unet_splitter
from core.splits import random_split

# 160x120 scenes, 1 frozen + 5 unfrozen epochs at fastai's base_lr: see benchmarks/bench_segmentation.py for time
# and accuracy. lr 1e-2 ended about as well but its frozen epoch's validation loss jumped to ~50 (the decoder's
# BatchNorm statistics lagging behind weights that move that fast): a confusing first row for a student.
DEFAULTS = dict(width=160, valid_pct=0.2, seed=42, bs="auto", backbone="efficientnet_lite0", lr=2e-3, epochs=5,
                freeze_epochs=1, min_scale=0.6)
CPU_BATCH_SIZE = 8       # bs "auto" on a CPU; on a GPU, the largest batch that fits the job's share (core/memory.py)
# ...and that leaves an epoch this many steps. The 160 training scenes learn their rarest class, the animals, only
# with about 20 steps an epoch: in batches of 16 (10 steps, the GPU's choice at 8), the default run's animal IoU
# was 0.00, on the H200 and on the CPU alike; in batches of 8 it was 0.48 (benchmarks/results/, 2026-12-07).
MIN_STEPS_PER_EPOCH = 20
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

    def predict_proba(self, image: Image.Image) -> np.ndarray:
        """fastai's `learn.predict(img)[2]`: (n_classes, H, W) probabilities at the photo's own size (at most
        MAX_SIDE on its longer side): scored at the training size, then enlarged smoothly."""
        image = image.convert("RGB")
        if max(image.size) > MAX_SIDE:
            image = image.copy()
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.BILINEAR)
        small, _ = resize_pair(image, None, self.shape)
        x = torch.from_numpy(np.asarray(small, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
        x = normalize(x, torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1))
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            scores = self.model(x.to(device)).float()
            scores = F.interpolate(scores, size=(image.height, image.width), mode="bilinear", align_corners=False)
            return torch.softmax(scores, dim=1)[0].cpu().numpy()

    def predict(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """(its codes, the probability of the chosen code): both (H, W), the second is the confidence map."""
        probs = self.predict_proba(image)
        return probs.argmax(0).astype(np.uint8), probs.max(0)

    def export_meta(self) -> dict:
        return dict(task=TASK, backbone=self.backbone, codes=list(self.codes), shape=list(self.shape),
                    mean=list(self.mean), std=list(self.std), **self.meta)


def batch_plan(ctx, model: nn.Module, items: SegItems, cfg: dict) -> BatchPlan:
    """The batch size to train with, and the memory the job is expected to need."""
    shape = shape_for(items, cfg["width"])
    n_train = len(random_split(items.groups, cfg["valid_pct"], cfg["seed"])[0])
    return plan_image_batches(model, ctx.device, ctx.memory_budget, shape, len(items) * 11 * shape[0] * shape[1],
                              n_train, cfg["bs"], CPU_BATCH_SIZE,       # 11 bytes a pixel: uint8 RGB + int64 code
                              min_steps=MIN_STEPS_PER_EPOCH)


def make_learner(ctx, items: SegItems, cfg: dict, weight_stats: bool = False):
    """unet_learner(dls, backbone): the data on the training device, the U-Net on the registry's pretrained
    encoder (its weights reported), a batch size that fits (core/memory.py), the run's callbacks."""
    seed_everything(cfg["seed"])
    ctx.report(stage="loading the pretrained encoder", fraction=0.0)
    model, backbone = create_unet(cfg["backbone"], len(items.codes), pretrained=True)
    ctx.report(weights_source=backbone.weights.source, weights_detail=backbone.weights.detail)
    plan = batch_plan(ctx, model, items, cfg)
    ctx.report(**plan_report(plan))
    ctx.report(stage="resizing the photos and masks")
    data = make_dataloaders(items, cfg["width"], cfg["valid_pct"], cfg["seed"], plan.batch_size, backbone.spec.mean,
                            backbone.spec.std, ctx.device, cfg["min_scale"])
    start_from_class_frequencies(model, pixel_counts(items, data.train_idx))
    ctx.check_cancelled()
    learn = Learner(model, data.dls, nn.CrossEntropyLoss(), metrics=(pixel_accuracy, mean_iou),
                    splitter=unet_splitter, cbs=ctx.callbacks(weight_stats=weight_stats, layer_of=unet_layer),
                    device=ctx.device, channels_last=prefers_channels_last(ctx.device))
    return learn, data, backbone
