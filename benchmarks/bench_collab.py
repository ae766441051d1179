"""Collaborative filtering speed and accuracy on the embedded MovieLens: ours vs peers, same ratings, same split.

    .venv/bin/python benchmarks/bench_collab.py
    .venv/bin/python benchmarks/bench_collab.py --fastai-python /tmp/fastai-venv/bin/python

Every side trains DotProductBias with 50 factors, y_range (0.5, 5.5), fit_one_cycle(5), on fastai's
RandomSplitter(valid_pct=0.2, seed=42) of the same 100,004 ratings, with two recipes:
- the course's: batches of 64, fit_one_cycle(5, 5e-3, wd=0.1);
- the app's default: batches of 512, fit_one_cycle(5, 1e-2, wd=0.5) (8x fewer steps, so more decay per step).
The sides:
- ours: the lesson's Learner over DeviceLoader (core/collab/train.py);
- plain PyTorch: the same model class, a torch.utils.data DataLoader and a hand-written one-cycle loop;
- fastai's collab_learner, when a Python with fastai is given (it runs there; the ratings go through a temporary
  CSV that is deleted afterwards: MovieLens may not be redistributed);
- two reference lines with no learning of taste: the training mean for everyone, and mean + user and movie biases.
Seconds per epoch = the whole fit / epochs (training + validation), after one untimed warm-up epoch on each side.
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS, FACTORS = 5, 50
RECIPES = {"course": (64, 5e-3, 0.1), "app": (512, 1e-2, 0.5)}      # batch size, lr, wd


def ratings_table():
    from core.collab.data import embedded_movielens
    from core.datasets import load_embedded_table
    return embedded_movielens(load_embedded_table("movielens"))


def run_ours(ratings, seeds, epochs, threads, recipe):
    import torch
    torch.set_num_threads(threads)
    from core.collab.data import prepare
    from core.collab.train import CollabSettings, make_learner
    from core.device import training_device
    bs, lr, wd = recipe
    data = prepare(ratings)
    device = training_device()
    settings = CollabSettings(n_factors=FACTORS, wd=wd, batch_size=bs)
    make_learner(data, settings, device).fit_one_cycle(1, lr)          # warm-up, untimed
    rows = []
    for seed in seeds:
        learn = make_learner(data, settings, device, seed=seed)
        start = time.perf_counter()
        learn.fit_one_cycle(epochs, lr)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rows.append({"seconds_per_epoch": (time.perf_counter() - start) / epochs,
                     "rmse": learn.recorder.epochs[-1]["rmse"]})
    return {"who": f"ours: Learner + DeviceLoader ({device.type})", "runs": rows}


def run_plain_torch(ratings, seeds, epochs, threads, recipe):
    """The same model and recipe with the usual PyTorch pieces: TensorDataset, DataLoader, AdamW, OneCycleLR."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    torch.set_num_threads(threads)
    from core.collab.data import prepare
    from core.collab.model import DotProductBias
    bs, lr, wd = recipe
    data = prepare(ratings)
    train, valid = TensorDataset(*data.tensors(data.train_idx)), TensorDataset(*data.tensors(data.valid_idx))
    rows = []
    for seed in [None, *seeds]:
        torch.manual_seed(seed or 0)
        model = DotProductBias(len(data.users), len(data.items), FACTORS)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd)
        n_epochs = 1 if seed is None else epochs
        loader = DataLoader(train, batch_size=bs, shuffle=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=n_epochs * len(loader), pct_start=0.25,
                                                    div_factor=25, final_div_factor=1e5, anneal_strategy="cos",
                                                    base_momentum=0.85, max_momentum=0.95)
        start = time.perf_counter()
        for _ in range(n_epochs):
            model.train()
            for x, y in loader:
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad()
                sched.step()
            model.eval()
            with torch.no_grad():
                sq = sum(((model(x) - y) ** 2).sum().item() for x, y in DataLoader(valid, batch_size=8192))
        if seed is not None:
            rows.append({"seconds_per_epoch": (time.perf_counter() - start) / n_epochs,
                         "rmse": math.sqrt(sq / len(valid))})
    return {"who": "plain PyTorch: DataLoader + loop", "runs": rows}


def run_fastai(csv_path, seeds, epochs, threads, recipe):
    import pandas as pd
    import torch
    torch.set_num_threads(threads)
    from fastai.collab import CollabDataLoaders, collab_learner
    from fastai.torch_core import set_seed
    bs, lr, wd = recipe
    ratings = pd.read_csv(csv_path)
    rows = []
    for seed in [None, *seeds]:
        set_seed(seed or 0)
        dls = CollabDataLoaders.from_df(ratings, user_name="user", item_name="item", rating_name="rating", bs=bs,
                                        valid_pct=0.2, seed=42)
        learn = collab_learner(dls, n_factors=FACTORS, y_range=(0.5, 5.5))
        with learn.no_bar(), learn.no_logging():
            if seed is None:
                learn.fit_one_cycle(1, lr, wd=wd)
                continue
            start = time.perf_counter()
            learn.fit_one_cycle(epochs, lr, wd=wd)
            seconds = (time.perf_counter() - start) / epochs
        rows.append({"seconds_per_epoch": seconds, "rmse": math.sqrt(float(learn.validate()[0]))})
    return {"who": "fastai 2.8 collab_learner", "runs": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for every side (the app trains small models on 1, see core.device.cpu_threads)")
    p.add_argument("--fastai-python", help="a Python with fastai installed, to run fastai's side")
    p.add_argument("--only-fastai", help=argparse.SUPPRESS)
    args = p.parse_args()
    seeds = range(args.seeds)
    if args.only_fastai:
        print(json.dumps([run_fastai(args.only_fastai, seeds, args.epochs, args.threads, RECIPES[r])
                          for r in args.recipes]))
        return

    from core.collab.data import prepare
    from core.collab.interpret import bias_baseline
    ratings = ratings_table()
    results = {r: [run_ours(ratings, seeds, args.epochs, args.threads, RECIPES[r]),
                   run_plain_torch(ratings, seeds, args.epochs, args.threads, RECIPES[r])] for r in args.recipes}
    if args.fastai_python:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "ratings.csv"
            ratings.to_csv(csv_path, index=False)
            out = subprocess.run([args.fastai_python, __file__, "--only-fastai", str(csv_path), "--epochs",
                                  str(args.epochs), "--seeds", str(args.seeds), "--threads", str(args.threads),
                                  "--recipes", *args.recipes], capture_output=True, text=True, check=True, cwd=ROOT)
        for r, result in zip(args.recipes, json.loads(out.stdout.strip().splitlines()[-1])):
            results[r].append(result)
    else:
        print("fastai is not importable here: pass --fastai-python to add fastai's collab_learner.\n")
    base = bias_baseline(prepare(ratings))

    print(f"MovieLens (dslabs, 100,004 ratings), DotProductBias({FACTORS} factors), {args.epochs} epochs, "
          f"1 of 5 rows held out (seed 42), CPU threads: {args.threads}")
    for r in args.recipes:
        bs, lr, wd = RECIPES[r]
        print(f"\n{r} recipe: batches of {bs}, fit_one_cycle({args.epochs}, {lr:g}, wd={wd:g})")
        print(f"{'':44s} {'s/epoch':>9s} {'valid RMSE (mean, min-max)':>28s}")
        for result in results[r]:
            runs = result["runs"]
            sec = sum(x["seconds_per_epoch"] for x in runs) / len(runs)
            rm = [x["rmse"] for x in runs]
            who = f"{result['who']} x{len(runs)}"
            print(f"{who:44s} {sec:9.2f} {sum(rm) / len(rm):12.4f} ({min(rm):.4f}-{max(rm):.4f})")
    print(f"\n{'reference: training mean for everyone':44s} {'':9s} {base['mean_rmse']:12.4f}")
    print(f"{'reference: mean + user and movie biases':44s} {'':9s} {base['biases_rmse']:12.4f}")


if __name__ == "__main__":
    main()
