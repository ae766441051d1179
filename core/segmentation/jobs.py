"""The segmentation lesson's jobs (registered in core/lessons.py), run by a worker, never in a page.

    lr_find(ctx, data, config)     results: lrs, losses, valley
    fine_tune(ctx, data, config)   the model (model.safetensors + model.json); per-layer statistics as events;
                                   arrays: the split, the validation photos as the model saw them, their true
                                   masks, the predicted masks, the per-pixel confidence, each photo's loss, the
                                   pixel confusion matrix, IoU per class and per photo;
                                   results: codes, photo names, the numbers the page prints (JSON)
    load_run(store, record)        -> SegRun, everything the results sections draw, from the store alone

data: {"dataset": "scenes"} (embedded), {"dataset": "camvid_tiny", "source": "online"}, or a student's zip kept in
      the run store ({"input": sha256, "kind": "segmentation_zip", "name": ...}).
config: see core/segmentation/train.py; checked here, whatever the page sent.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core.checks import SEED, batch_size, numbers
from core.errors import StudentError
from core.kept import Kept
from core.modelfiles import read_run_model
from core.runs import RunDamaged, read_progress
from core.segmentation.data import BadSegmentationData, SegItems, items_from_zip, load_folder
from core.segmentation.metrics import confidence_bins, iou_per_class, per_image_iou, pixel_confusion
from core.segmentation.model import fastai_code
from core.segmentation.saved import segmenter_from_files
from core.segmentation.train import TrainedSegmenter, make_learner, settings

UPLOAD_KIND = "segmentation_zip"
DATASETS = {"scenes": "the embedded scenes", "camvid_tiny": "CamVid (tiny)"}
# (lowest, highest) of each numeric setting; the class's limits (core/classroom.py) may lower width and epochs
BOUNDS = dict(width=(32, 1024), valid_pct=(0.05, 0.5), seed=SEED, lr=(1e-7, 1.0), epochs=(1, 100),
              freeze_epochs=(0, 10), min_scale=(0.1, 1.0))
WHOLE = ("width", "seed", "epochs", "freeze_epochs")


def check_config(config: dict) -> dict:
    """The run's settings, defaults filled in; StudentError for a value no page offers."""
    from core.models import BACKBONES
    cfg = settings(config)
    cfg = numbers(cfg, BOUNDS, whole=WHOLE)
    if cfg["backbone"] not in BACKBONES:
        raise StudentError(f"There is no encoder called {str(cfg['backbone'])[:40]!r}; choose one of "
                           f"{', '.join(BACKBONES)}.")
    cfg["bs"] = batch_size(cfg["bs"], high=256)
    return cfg


def read_items(data: dict, inputs) -> SegItems:
    """The photos and masks a run trains on."""
    if "input" in data:
        if data.get("kind") != UPLOAD_KIND:
            raise BadSegmentationData("This run's file is not a zip of photos and masks.")
        return items_from_zip(inputs.read(data), str(data.get("name", "your zip")))
    name = data.get("dataset")
    if name not in DATASETS:
        raise BadSegmentationData(f"This lesson trains on {' or '.join(DATASETS)}, or on your own zip.")
    from core.datasets import resolve
    found = resolve(name, prefer_online=data.get("source") == "online")
    return load_folder(found.path, DATASETS[name])


def lr_find(ctx, data: dict, config: dict) -> None:
    """learn.lr_find() on the new decoder, the encoder frozen (as fastai's unet_learner starts)."""
    cfg = check_config(config)
    ctx.report(stage="reading the photos and masks", fraction=0.0)
    items = read_items(data, ctx.inputs)
    learn, _, _ = make_learner(ctx, items, cfg)
    learn.freeze()
    ctx.report(stage="lr_find")
    found = learn.lr_find(num_it=min(100, max(30, 3 * len(learn.dls.train))))
    ctx.check_cancelled()
    ctx.save_results({"lrs": found.lrs, "losses": found.losses, "valley": found.valley})


def fine_tune(ctx, data: dict, config: dict) -> None:
    """learn.fine_tune(epochs, base_lr): the decoder alone, then everything; then what the page shows."""
    cfg = check_config(config)
    ctx.report(stage="reading the photos and masks", fraction=0.0)
    items = read_items(data, ctx.inputs)
    learn, seg, backbone = make_learner(ctx, items, cfg, weight_stats=True)
    start = time.perf_counter()
    learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    seconds = time.perf_counter() - start
    if not all(math.isfinite(r["train_loss"]) and math.isfinite(r["valid_loss"]) for r in learn.recorder.epochs):
        raise StudentError("Training diverged: the loss became infinite or not a number. Try a smaller learning "
                           "rate.")
    ctx.report(stage="looking at the results")
    scores, targets, losses = learn.get_preds()
    confidence, predicted = torch.softmax(scores, dim=1).max(dim=1)
    del scores
    model = learn.model.float().to(memory_format=torch.contiguous_format).cpu().eval()
    segmenter = TrainedSegmenter(model, seg.codes, seg.shape, backbone.spec.mean, backbone.spec.std,
                                 cfg["backbone"], meta=dict(weights=backbone.weights.detail,
                                                            trained_on=items.description))
    ctx.save_model(model, segmenter.export_meta())
    predicted, targets = predicted.numpy().astype(np.uint8), targets.numpy().astype(np.uint8)
    cm = pixel_confusion(predicted, targets, len(seg.codes))
    iou = iou_per_class(cm)
    ctx.save_arrays(train_idx=np.asarray(seg.train_idx, np.int64), valid_idx=np.asarray(seg.valid_idx, np.int64),
                    x_valid=seg.x_valid.permute(0, 2, 3, 1).numpy(), targets=targets, predicted=predicted,
                    confidence=confidence.numpy().astype(np.float16), losses=losses.mean(dim=(1, 2)).numpy(),
                    confusion=cm, iou=iou, image_iou=per_image_iou(predicted, targets, len(seg.codes))
                    .astype(np.float32))
    accuracy, miou = float(np.trace(cm) / max(1, cm.sum())), float(np.nanmean(iou))
    ctx.save_results(dict(
        codes=seg.codes, names=[items.names[i] for i in seg.valid_idx], description=items.description,
        n_train=len(seg.train_idx), n_valid=len(seg.valid_idx), shape=list(seg.shape), backbone=cfg["backbone"],
        pixel_accuracy=accuracy, mean_iou=miou, seconds=seconds, stopped_early=learn.cancelled,
        device=str(ctx.device), fastai_code=fastai_code(cfg["backbone"], len(seg.codes)),
        weights_source=backbone.weights.source, weights_detail=backbone.weights.detail))
    ctx.set_metrics(pixel_accuracy=accuracy, mean_iou=miou)


PROBABILITIES_KEPT = 4     # per run: one photo's (C, H, W) probabilities take up to ~6 MB (32 classes, 256 x 192)


@dataclass
class SegRun:
    """A finished run as the page draws it. Validation arrays are in the order of `results["names"]`."""
    segmenter: TrainedSegmenter      # on the CPU, in eval mode
    results: dict
    x_valid: np.ndarray              # (N, H, W, 3) uint8: the validation photos as the model saw them
    targets: np.ndarray              # (N, H, W) uint8 codes
    predicted: np.ndarray            # (N, H, W) uint8 codes
    confidence: np.ndarray           # (N, H, W) float32: the probability of the predicted code
    losses: np.ndarray               # (N,) each photo's mean pixel loss
    confusion: np.ndarray            # (C, C) pixels: rows truth, columns prediction
    iou: np.ndarray                  # (C,) nan for a class neither present nor predicted
    image_iou: np.ndarray            # (N, C)
    train_idx: np.ndarray
    valid_idx: np.ndarray
    weight_stats: list               # per layer, every few steps (core.callbacks.WeightStats)
    reliability: list | None = None  # per band of confidence, how often it was right (metrics.confidence_bins)
    kept: Kept = field(default_factory=lambda: Kept(PROBABILITIES_KEPT), repr=False, compare=False)

    @property
    def codes(self) -> list[str]:
        return self.segmenter.codes

    def probabilities(self, photo: int) -> np.ndarray:
        """(C, H, W): each class's probability for every pixel of validation photo `photo`, made once per run."""
        return self.kept.get(photo, lambda: self.segmenter.predict_proba(Image.fromarray(self.x_valid[photo])))


def load_run(store, record) -> SegRun:
    """A finished (or stopped) fine_tune run, from its folder alone; RunDamaged with a sentence if a
    file is missing, damaged, or does not agree with the others."""
    segmenter = read_run_model(store.path(record.id), segmenter_from_files)
    arrays, results = store.arrays(record.id), store.results(record.id)
    run = SegRun(segmenter, results, **{k: arrays.get(k) for k in (
        "x_valid", "targets", "predicted", "confidence", "losses", "confusion", "iou", "image_iou", "train_idx",
        "valid_idx")}, weight_stats=read_progress(store, record.id).weight_stats)
    _check_agrees(run)
    run.confidence = run.confidence.astype(np.float32)
    run.reliability = confidence_bins(run.confidence, run.predicted == run.targets)   # made once, with the run
    run.probabilities(0)   # the page opens on it: made here, when a ready-made run loads during its replay
    return run


def _check_agrees(run: SegRun) -> None:
    """The arrays describe the same photos, with codes the model knows: a run file edited or cut short is
    refused here rather than drawn wrongly (or crashing a page)."""
    damaged = RunDamaged("This run's results are damaged (its files do not agree with each other).")
    missing = [k for k in ("x_valid", "targets", "predicted", "confidence", "losses", "confusion", "iou",
                           "image_iou", "train_idx", "valid_idx") if getattr(run, k) is None]
    if missing:
        raise damaged
    n, c = len(run.valid_idx), len(run.codes)
    h, w = run.segmenter.shape
    expected = dict(x_valid=((n, h, w, 3), np.uint8), targets=((n, h, w), np.uint8), predicted=((n, h, w), np.uint8),
                    confidence=((n, h, w), None), losses=((n,), None), confusion=((c, c), None), iou=((c,), None),
                    image_iou=((n, c), None))
    for name, (shape, dtype) in expected.items():
        a = getattr(run, name)
        if a.shape != shape or (dtype is not None and a.dtype != dtype):
            raise damaged
    if n == 0 or run.targets.max() >= c or run.predicted.max() >= c:
        raise damaged
    names, codes = run.results.get("names"), run.results.get("codes")
    if not isinstance(names, list) or len(names) != n or not all(isinstance(x, str) for x in names) or codes != run.codes:
        raise damaged
    for key in ("pixel_accuracy", "mean_iou", "seconds"):
        if not isinstance(run.results.get(key), (int, float)):
            raise damaged
