"""How fast does the segmentation lesson train, and how well? Ours next to a plain-PyTorch peer, same run.

    .venv/bin/python benchmarks/bench_segmentation.py [--width 160] [--epochs 6] [--seeds 42 0] [--no-peer]
                                                      [--threads 2]

ours: the lesson exactly as the page runs it: a run submitted to the training service (a thread worker here),
      the embedded scenes, the default settings; images and masks resized once into uint8 tensors, augmented per
      batch, our Learner's fine_tune; its numbers read back from the run store with the lesson's load_run.
peer: the same U-Net (same pretrained encoder, same starting biases, same split by stamp set), fed by a
      torch Dataset + DataLoader (PIL resize and a torchvision v2 crop/flip of image and mask, per item,
      every epoch) and trained by a plain PyTorch loop: AdamW + OneCycleLR, encoder frozen for the
      first epoch(s), then everything with the encoder's learning rate 100x smaller.
fastai (--fastai-python PY, run in that Python): fastai 2.8's `unet_learner` on the same scenes and split, from the
      same pretrained encoder, with its own DynamicUnet decoder and fine_tune; on a GPU with its AMP + channels-last.
All report seconds of training, pixel accuracy and mean IoU on the validation scenes (whose objects are
stamps neither saw in training), and the IoU of each class. On a GPU the plain loop uses the same bf16 autocast
and channels-last layout as ours.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fastai_side import fastai_results  # noqa: E402
from core.datasets import resolve  # noqa: E402
from core.segmentation.data import load_folder, shape_for  # noqa: E402
from core.segmentation.metrics import iou_per_class, pixel_confusion  # noqa: E402
from core.segmentation.train import settings  # noqa: E402


def run_ours(cfg, service):
    """One fine_tune run through the training service, as the page submits it; its results from the store."""
    from core.runs import DONE
    from core.segmentation.jobs import load_run
    run = service.submit("segmentation", "fit", {"dataset": "scenes"}, cfg, owner="bench", title="bench")
    record = service.wait(run.id, timeout=3600)
    if record.status != DONE:
        raise SystemExit(f"run {record.status}: {record.error}")
    res = load_run(service.store, record)
    return dict(seconds=res.results["seconds"], accuracy=res.results["pixel_accuracy"], iou=res.iou,
                bs=record.info["batch_size"], epoch_s=[round(r["time"], 1) for r in record.epoch_table],
                weights=res.results["weights_detail"], n_train=res.results["n_train"], n_valid=res.results["n_valid"])


def make_service(root: Path):
    """A training service of its own, with one thread worker, over a run store in `root`."""
    from core.backends import make_backend
    from core.runs import RunStore
    from core.service import TrainingService
    return TrainingService(RunStore(root), make_backend("thread", root, 1))


def run_peer(items, cfg):
    import torchvision.transforms.v2 as T
    from torch import nn
    from torch.utils.data import DataLoader, Dataset
    from torchvision import tv_tensors

    from core.device import seed_everything
    from core.learner import NORM_LAYERS
    from core.segmentation.data import pixel_counts
    from core.segmentation.model import create_unet, start_from_class_frequencies
    from core.splits import random_split

    from core.device import autocast_dtype, prefers_channels_last, training_device

    seed_everything(cfg["seed"])
    device = training_device()
    model, backbone = create_unet(cfg["backbone"], len(items.codes), pretrained=True)
    train_idx, valid_idx = random_split(items.groups, cfg["valid_pct"], cfg["seed"])
    start_from_class_frequencies(model, pixel_counts(items, train_idx))
    layout = torch.channels_last if prefers_channels_last(device) else torch.contiguous_format
    model.to(device, memory_format=layout)
    amp = autocast_dtype(device)

    def forward(x):
        x = x.to(device, non_blocking=True).contiguous(memory_format=layout)
        if amp is None:
            return model(x)
        with torch.autocast(device.type, dtype=amp):
            return model(x).float()
    shape = shape_for(items, cfg["width"])
    norm = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize(backbone.spec.mean, backbone.spec.std)])
    augment = T.Compose([T.RandomResizedCrop(shape, scale=(cfg["min_scale"], 1.0), ratio=(4 / 3, 4 / 3)),
                         T.RandomHorizontalFlip()])

    class Scenes(Dataset):
        def __init__(self, idx, train):
            self.idx, self.train = idx, train

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = self.idx[i]
            image = tv_tensors.Image(torch.from_numpy(np.array(items.images[j])).permute(2, 0, 1))
            mask = tv_tensors.Mask(torch.from_numpy(items.masks[j].astype(np.int64)))
            image, mask = T.Resize(shape)(image, mask)             # a Mask is resized with nearest
            if self.train:
                image, mask = augment(image, mask)
            return norm(image), mask.as_subclass(torch.Tensor)

    g = torch.Generator().manual_seed(cfg["seed"])
    bs = cfg["bs"] if cfg["bs"] != "auto" else 8
    workers = dict(num_workers=2, persistent_workers=True) if device.type == "cuda" else {}
    train = DataLoader(Scenes(train_idx, True), batch_size=bs, shuffle=True, drop_last=True, generator=g, **workers)
    valid = DataLoader(Scenes(valid_idx, False), batch_size=bs * 2, **workers)
    loss_func = nn.CrossEntropyLoss()
    norm_params = {id(p) for m in model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}

    def fit(epochs, encoder_lr, decoder_lr, pct_start, div):
        groups = [dict(params=[p for p in model.encoder.parameters() if p.requires_grad], lr=encoder_lr),
                  dict(params=list(model.decoder.parameters()), lr=decoder_lr)]
        opt = torch.optim.AdamW([g for g in groups if g["params"]], betas=(0.9, 0.99), eps=1e-5, weight_decay=1e-2)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                    total_steps=epochs * len(train), pct_start=pct_start,
                                                    div_factor=div, final_div_factor=1e5 / div)
        for _ in range(epochs):
            model.train()
            for x, y in train:
                loss = loss_func(forward(x), y.to(device))
                loss.backward()
                opt.step()
                opt.zero_grad()
                sched.step()

    start = time.perf_counter()
    for p in model.encoder.parameters():                           # frozen: only BatchNorm trains in the encoder
        p.requires_grad_(id(p) in norm_params)
    fit(cfg["freeze_epochs"], cfg["lr"], cfg["lr"], 0.99, 25.0)
    for p in model.encoder.parameters():
        p.requires_grad_(True)
    fit(cfg["epochs"], cfg["lr"] / 2 / 100, cfg["lr"] / 2, 0.3, 5.0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([forward(x).argmax(1).cpu() for x, _ in valid]).numpy()
    targets = torch.cat([y for _, y in valid]).numpy()
    cm = pixel_confusion(predicted, targets, len(items.codes))
    return dict(seconds=seconds, accuracy=float(np.trace(cm) / cm.sum()), iou=iou_per_class(cm), epoch_s=[],
                weights=backbone.weights.detail, n_train=len(train_idx), n_valid=len(valid_idx))


def run_fastai(cfg, bs):
    """fastai 2.8's unet_learner on the same scenes and split, from the same pretrained encoder (in --fastai-python)."""
    import timm
    from fastai.vision.all import (DataBlock, Flip, ImageBlock, IndexSplitter, MaskBlock, Normalize,
                                   RandomResizedCropGPU, Resize, ResizeMethod, set_seed, unet_learner)

    from core.models import BACKBONES
    from core.splits import random_split

    items = load_folder(resolve("scenes").path, "the embedded scenes")
    train_idx, valid_idx = random_split(items.groups, cfg["valid_pct"], cfg["seed"])
    spec = BACKBONES[cfg["backbone"]]
    shape = shape_for(items, cfg["width"])
    set_seed(cfg["seed"])
    block = DataBlock(blocks=(ImageBlock, MaskBlock(items.codes)),
                      get_x=lambda i: np.asarray(items.images[i].convert("RGB")),
                      get_y=lambda i: items.masks[i].astype(np.uint8), splitter=IndexSplitter(valid_idx),
                      item_tfms=Resize(shape, method=ResizeMethod.Squish),
                      batch_tfms=[RandomResizedCropGPU(shape, min_scale=cfg["min_scale"]), Flip(),
                                  Normalize.from_stats(spec.mean, spec.std)])
    dls = block.dataloaders(list(range(len(items))), bs=bs)

    def encoder(pretrained=False):
        model = timm.create_model(spec.timm_name, pretrained=False)
        model.load_state_dict(spec.embedded())
        return model

    learn = unet_learner(dls, encoder, pretrained=False, normalize=False, n_out=len(items.codes))
    if torch.cuda.is_available():
        learn.to_channelslast()
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    scores, targets = learn.get_preds()
    cm = pixel_confusion(scores.argmax(1).numpy(), targets.numpy(), len(items.codes))
    return dict(seconds=seconds, accuracy=float(np.trace(cm) / cm.sum()), iou=iou_per_class(cm).tolist(),
                epoch_s=[], weights=spec.embedded_detail, n_train=len(train_idx), n_valid=len(valid_idx))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--bs", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--fastai-python", help="a Python with fastai installed, to run fastai's unet_learner")
    parser.add_argument("--fastai-runs", type=int, default=1,
                        help="fastai's fine_tune this many times in one process: the first cold, the next warm")
    parser.add_argument("--only-fastai", type=int, help=argparse.SUPPRESS)       # the batch size; prints JSON
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = settings({k: v for k, v in dict(width=args.width, epochs=args.epochs, lr=args.lr, bs=args.bs).items()
                    if v is not None})
    if args.only_fastai:
        for _ in range(args.fastai_runs):
            print(json.dumps(run_fastai(dict(cfg, seed=(args.seeds or [cfg["seed"]])[0]), args.only_fastai)),
                  flush=True)
        return
    items = load_folder(resolve("scenes").path, "the embedded scenes")
    print(f"{len(items)} scenes, codes {items.codes}; torch threads {torch.get_num_threads()}; "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    print(f"settings: {cfg}")
    runs_dir = tempfile.TemporaryDirectory(prefix="lesson1-bench-runs-")
    service = make_service(Path(runs_dir.name))
    rows = []
    for seed in args.seeds or [cfg["seed"]]:
        c = dict(cfg, seed=seed)
        rows.append((f"ours (training service, Learner), seed {seed}", run_ours(c, service)))
        if not args.no_peer:
            rows.append((f"peer (Dataset+DataLoader, plain loop), seed {seed}",
                         run_peer(items, dict(c, bs=rows[-1][1]["bs"]))))
    if args.fastai_python:                  # once, on the first seed, as many fine_tunes as --fastai-runs
        seed = (args.seeds or [cfg["seed"]])[0]
        command = [args.fastai_python, __file__, "--only-fastai", str(rows[0][1]["bs"]), "--seeds", str(seed),
                   "--fastai-runs", str(args.fastai_runs)]
        command += [f"--{k}={v}" for k, v in dict(width=args.width, epochs=args.epochs, lr=args.lr).items() if v]
        rows += [(f"fastai 2.8 unet_learner, seed {seed}{when}", result) for when, result in fastai_results(command)]
    service.shutdown()
    runs_dir.cleanup()
    print(f"\n{'':48s} {'train s':>8s} {'pixel acc':>9s} {'mean IoU':>9s}   IoU per class ({', '.join(items.codes)})")
    for name, r in rows:
        print(f"{name:48s} {r['seconds']:8.1f} {r['accuracy']:9.3f} {np.nanmean(r['iou']):9.3f}   "
              f"{' '.join(f'{v:.2f}' for v in r['iou'])}" + (f"   epochs {r['epoch_s']} s" if r["epoch_s"] else ""))
    always_background = max(np.bincount(np.concatenate([m.ravel() for m in items.masks]))) / sum(m.size for m in items.masks)
    print(f"\ntrain/valid scenes: {rows[0][1]['n_train']}/{rows[0][1]['n_valid']}; weights: {rows[0][1]['weights']}")
    print(f"reference: saying 'background' everywhere gets {always_background:.3f} pixel accuracy, mean IoU "
          f"{always_background / len(items.codes):.3f}")


if __name__ == "__main__":
    main()
