"""The "Is it a bird?" lesson's jobs (registered in core/lessons.py), run by a worker, never in a page.

    lr_find(ctx, data, config)     results: lrs, losses, valley
    fine_tune(ctx, data, config)   the model (safetensors + JSON); arrays: probs, targets, losses, valid_idx,
                                   train_idx; results: vocab, what was trained on, the files left out, timings;
                                   per-layer statistics as events (the run's progress)
    load_run(store, record)        -> VisionRun, for the page: from the store and the run's data reference alone
                                   (with its first validation photo already looked inside, as the page opens on it)

data: {"dataset": "birds", "label": "is_bird" | "kind"}
      {"dataset": "pets", "source": "online", "label": "is_cat" | "breed", "limit": N}
      {"input": sha256, "kind": "image_zip", "name": ...}: a student's photos, one folder per class, kept in the store
config: core/vision/train.py's settings: size, method, valid_pct, seed, bs, backbone, lr, epochs, freeze_epochs,
        min_scale, recipe ("fine_tune" | "fit_one_cycle"), pretrained (False: random weights, said loudly).
"""
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import StudentError
from core.kept import Kept
from core.modelfiles import read_run_model
from core.vision.inside import Inside, look_inside
from core.vision.data import BadUpload, ImageItems, load_embedded, load_pets, load_zip, problems
from core.vision.train import TrainedClassifier, classifier_from_files, make_learner, settings, train

DATASETS = {"birds": ("is_bird", "kind"), "pets": ("is_cat", "breed")}
PETS_LIMIT = (0, 10_000)
LOOKS_KEPT = 8            # per run: a look is ~0.9 MB (a few layers' maps, a Grad-CAM per class), and 12 runs are kept


@dataclass
class VisionRun:
    """A finished fit run as the page uses it."""
    classifier: TrainedClassifier      # on the CPU, in eval mode
    items: ImageItems                  # what it trained on, re-read from the run's data
    probs: np.ndarray                  # (n_valid, n_classes), validation photos in valid_idx's order
    targets: np.ndarray
    losses: np.ndarray
    valid_idx: np.ndarray
    train_idx: np.ndarray
    results: dict                      # vocab, description, rejected, seconds, stopped_early, ...
    looks: Kept = field(default_factory=lambda: Kept(LOOKS_KEPT), repr=False, compare=False)

    def look(self, photo: int) -> tuple[Inside, float]:
        """Inside the model as it sees validation photo `photo` (core/vision/inside.py), and the seconds that took:
        made once per run, whoever asks."""
        def make():
            start = time.perf_counter()
            return look_inside(self.classifier, self.items.images[self.valid_idx[photo]]), time.perf_counter() - start
        return self.looks.get(photo, make)

    @property
    def vocab(self) -> list[str]:
        return self.classifier.vocab

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def valid_images(self) -> list:
        return [self.items.images[i] for i in self.valid_idx]


def read_items(data: dict, inputs) -> ImageItems:
    """The photos a run trains on, from its data reference (a StudentError when they cannot be had). The last few
    sets read are kept: every run on the same photos, and every page showing one, shares one copy."""
    if not isinstance(data, dict):
        raise StudentError("This run's data reference is not what the app writes.")
    if "input" in data:
        if data.get("kind") != "image_zip":
            raise StudentError("This run's upload is not a zip of photos.")
        return _KEPT.get(("input", data["input"]), lambda: load_zip(inputs.read(data)))
    dataset, label = data.get("dataset"), data.get("label")
    if dataset not in DATASETS:
        raise StudentError(f"There is no photo collection called {str(dataset)[:40]!r} in this lesson.")
    label = label if label is not None else DATASETS[dataset][0]
    if label not in DATASETS[dataset]:
        raise StudentError(f"The photos of {dataset!r} can be labelled {' or '.join(DATASETS[dataset])}, "
                           f"not {str(label)[:40]!r}.")
    from core.datasets import resolve
    if dataset == "birds":
        folder = resolve("birds").path
        return _KEPT.get(("birds", label, str(folder)), lambda: load_embedded(folder, label))
    limit = data.get("limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or not PETS_LIMIT[0] <= limit <= PETS_LIMIT[1]:
        raise StudentError(f"The number of Pets photos must be a whole number up to {PETS_LIMIT[1]:,}.")
    folder = resolve("pets", prefer_online=True).path
    return _KEPT.get(("pets", label, limit, str(folder)), lambda: load_pets(folder, label, limit=limit))


# Photos are read-only once loaded, so sets are shared by key (uploads by their sha256: content-addressed). The
# embedded birds take ~100 MB in memory; Pets on a CPU (2,000 photos) ~600 MB.
_KEPT = Kept(4)


def _items(ctx) -> ImageItems:
    ctx.report(stage="reading the photos", fraction=0.0)
    items = read_items(ctx.data, ctx.inputs)
    trouble = problems(items)
    if trouble:
        raise BadUpload(" ".join(trouble))
    return items


def lr_find(ctx, data: dict, config: dict) -> None:
    """learn.lr_find() on the new head, the body frozen (as fastai); the weights are put back afterwards."""
    cfg = settings(config)
    learn, _, _ = make_learner(ctx, _items(ctx), cfg)
    if cfg["recipe"] == "fine_tune" and cfg["pretrained"]:
        learn.freeze()
    ctx.report(stage="lr_find")
    found = learn.lr_find(num_it=min(100, max(30, 4 * len(learn.dls.train))))
    ctx.check_cancelled()
    ctx.save_results({"lrs": found.lrs, "losses": found.losses, "valley": found.valley})


def fine_tune(ctx, data: dict, config: dict) -> None:
    """Train (fine_tune or fit_one_cycle), then keep everything the results draw: the model, the validation
    predictions and losses, the split, and what the photos were."""
    cfg = settings(config)
    items = _items(ctx)
    learn, data_, backbone = make_learner(ctx, items, cfg, weight_stats=True)
    seconds = train(learn, cfg)
    if not all(np.isfinite(row["train_loss"]) for row in learn.recorder.epochs):
        raise StudentError("Training diverged: the loss became infinite or not a number. Try a smaller learning "
                           "rate (run lr_find).")
    ctx.report(stage="looking at the results")
    logits, targets, losses = learn.get_preds()
    model = learn.model.float().to(memory_format=torch.contiguous_format).cpu().eval()
    classifier = TrainedClassifier(model, data_.vocab, cfg["size"], cfg["method"], backbone.spec.mean,
                                   backbone.spec.std, cfg["backbone"],
                                   meta=dict(weights=backbone.weights.detail, trained_on=items.description))
    probs = torch.softmax(logits, 1).numpy()
    error = float((probs.argmax(1) != targets.numpy()).mean())
    ctx.save_model(model, classifier.export_meta())
    ctx.save_arrays(probs=probs.astype(np.float32), targets=targets.numpy().astype(np.int64),
                    losses=losses.numpy().astype(np.float32), valid_idx=np.asarray(data_.valid_idx, np.int64),
                    train_idx=np.asarray(data_.train_idx, np.int64))
    ctx.save_results(dict(
        vocab=data_.vocab, description=items.description, n_items=len(items),
        rejected=[dict(file=r.name, reason=r.reason) for r in items.rejected],
        seconds=seconds, stopped_early=learn.cancelled, recipe=cfg["recipe"], pretrained=cfg["pretrained"],
        weights_source=backbone.weights.source, weights_detail=backbone.weights.detail,
        device=str(ctx.device), error_rate=error))
    ctx.set_metrics(error_rate=error)


def load_run(store, record) -> VisionRun:
    """A finished fit run, from the store and its data reference alone: the checked model, the photos re-read
    (the run keeps no copy of them), and the arrays, checked against each other."""
    from core.inputs import InputStore
    from core.runs import RunDamaged
    results = store.results(record.id)
    arrays = store.arrays(record.id)
    classifier = read_run_model(store.path(record.id), classifier_from_files)
    items = read_items(record.data, InputStore(store.root))
    wanted = dict(probs=(np.floating, 2), targets=(np.integer, 1), losses=(np.floating, 1),
                  valid_idx=(np.integer, 1), train_idx=(np.integer, 1))
    for name, (kind, ndim) in wanted.items():
        if name not in arrays or not np.issubdtype(arrays[name].dtype, kind) or arrays[name].ndim != ndim:
            raise RunDamaged("This run's results file is damaged and cannot be read.")
    n_valid, n_classes = len(arrays["valid_idx"]), len(classifier.vocab)
    consistent = (arrays["probs"].shape == (n_valid, n_classes) and len(arrays["targets"]) == n_valid
                  and len(arrays["losses"]) == n_valid and items.vocab == classifier.vocab
                  and all(0 <= int(i) < len(items) for i in np.concatenate([arrays["valid_idx"], arrays["train_idx"]]))
                  and all(0 <= int(t) < n_classes for t in arrays["targets"]))
    if not consistent:
        raise RunDamaged("This run's photos are not the ones it was trained on any more (the data changed since), "
                         "so its results cannot be shown.")
    run = VisionRun(classifier, items, arrays["probs"], arrays["targets"], arrays["losses"],
                    arrays["valid_idx"], arrays["train_idx"], results)
    if len(run.valid_idx):
        run.look(0)     # the page opens on it: looked at here, when a ready-made run loads during its replay
    return run
