"""Tabular speed and accuracy: ours vs fastai's tabular_learner, same rows, same split, same columns.

    .venv/bin/python benchmarks/bench_tabular.py                       # ours; fastai too if importable
    .venv/bin/python benchmarks/bench_tabular.py --fastai-python /tmp/fastai-venv/bin/python

The second form runs fastai in its own environment (the project does not depend on fastai) and
collects its numbers as JSON. Both sides run the course's recipe: Categorify, FillMissing, Normalize,
the six categorical and three continuous columns, fit_one_cycle(3). fastai with its defaults
(batch 64, lr 1e-3); ours with the whole table as tensors on the device, batch 1024, lr 1e-2.
Seconds per epoch = the whole fit_one_cycle(3) / 3 (training and validation, after the data is ready),
after one untimed warm-up fit on each side; mean over seeds.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAT = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONT = ["age", "fnlwgt", "education-num"]
DATA = ROOT / "datasets" / "adult" / "adult.csv.gz"


def split(n):
    """fastai's RandomSplitter(valid_pct=0.2, seed=42), written out so both sides share it."""
    import torch
    order = torch.randperm(n, generator=torch.Generator().manual_seed(42)).tolist()
    return order[n // 5:], order[:n // 5]


def run_ours(seeds, epochs, batch_size, lr, threads):
    import torch
    torch.set_num_threads(threads)
    from core.device import training_device
    from core.tabular.table import ADULT_SPEC, load_adult
    from core.tabular.train import make_learner, prepare
    df = load_adult(DATA.parent)
    data = prepare(df, ADULT_SPEC)
    assert (data.valid_idx.tolist(), data.train_idx.tolist()) == tuple(reversed(split(len(df))))
    device = training_device()
    make_learner(data, device, batch_size).fit_one_cycle(1, lr)      # warm-up, untimed (both sides get one)
    rows = []
    for seed in seeds:
        learn = make_learner(data, device, batch_size, seed=seed)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        learn.fit_one_cycle(epochs, lr)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rows.append({"seconds_per_epoch": (time.perf_counter() - start) / epochs,
                     "accuracy": learn.recorder.epochs[-1]["accuracy"]})
    return {"who": f"ours (bs {batch_size}, lr {lr:g}, {device.type})", "runs": rows}


def run_fastai(seeds, epochs, threads):
    import pandas as pd
    import torch
    torch.set_num_threads(threads)
    from fastai.tabular.all import (Categorify, FillMissing, Normalize, TabularPandas, accuracy, set_seed,
                                    tabular_learner)
    df = pd.read_csv(DATA)
    train_idx, valid_idx = split(len(df))
    rows = []
    for seed in [None, *seeds]:                  # None: the untimed warm-up
        set_seed(seed or 0)
        to = TabularPandas(df, [Categorify, FillMissing, Normalize], CAT, CONT, y_names="salary",
                           splits=(train_idx, valid_idx))
        dls = to.dataloaders(bs=64)
        learn = tabular_learner(dls, metrics=accuracy)
        if seed is None:
            with learn.no_bar(), learn.no_logging():
                learn.fit_one_cycle(1)
            continue
        start = time.perf_counter()
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(epochs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / epochs
        rows.append({"seconds_per_epoch": seconds, "accuracy": float(learn.validate()[1])})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"who": f"fastai tabular_learner (bs 64, lr 1e-3, {device})", "runs": rows}


def summary(result):
    runs = result["runs"]
    mean = lambda k: sum(r[k] for r in runs) / len(runs)
    return mean("seconds_per_epoch"), mean("accuracy"), min(r["accuracy"] for r in runs), max(r["accuracy"] for r in runs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--fastai-seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for both sides (the app trains tabular models with 1, see cpu_threads)")
    p.add_argument("--fastai-python", help="a Python with fastai installed, to run fastai's side")
    p.add_argument("--only", choices=["ours", "fastai"], help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.only == "fastai":
        print(json.dumps(run_fastai(range(args.fastai_seeds), args.epochs, args.threads)))
        return
    results = [run_ours(range(args.seeds), args.epochs, args.batch_size, args.lr, args.threads)]
    try:
        import fastai  # noqa: F401
        results.append(run_fastai(range(args.fastai_seeds), args.epochs, args.threads))
    except ImportError:
        if args.fastai_python:
            out = subprocess.run([args.fastai_python, __file__, "--only", "fastai", "--epochs", str(args.epochs),
                                  "--fastai-seeds", str(args.fastai_seeds), "--threads", str(args.threads)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:                    # ours is still printed: the peer's failure is said, not fatal
                print(f"fastai's side failed:\n{out.stderr[-1500:]}\n")
            else:
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        else:
            print("fastai is not importable here (pass --fastai-python); fastai's published accuracy on these "
                  "columns is about 0.846 (on ADULT_SAMPLE, another sample and split).\n")

    print(f"Adult census, {args.epochs} epochs (CPU threads: {args.threads}) of fit_one_cycle, 26,049 training / 6,512 validation rows\n")
    print(f"{'':52s} {'s/epoch':>9s} {'accuracy (mean, min-max)':>26s}")
    for r in results:
        sec, acc, lo, hi = summary(r)
        who = f"{r['who']} x{len(r['runs'])}"
        print(f"{who:52s} {sec:9.3f} {acc:10.4f} ({lo:.4f}-{hi:.4f})")
    if len(results) == 2:
        print(f"\nspeed-up per epoch: {summary(results[1])[0] / summary(results[0])[0]:.0f}x, "
              f"accuracy difference: {summary(results[0])[1] - summary(results[1])[1]:+.4f}")


if __name__ == "__main__":
    main()
