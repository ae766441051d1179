"""Collaborative filtering speed and accuracy on the embedded MovieLens: ours vs peers, same ratings, same split.

    .venv/bin/python benchmarks/bench_collab.py
    .venv/bin/python benchmarks/bench_collab.py --fastai-python /tmp/fastai-venv/bin/python
    .venv/bin/python benchmarks/bench_collab.py --seeds 1 --epochs 1 --recipes app          # a quick check

Every side trains DotProductBias with 50 factors, y_range (0.5, 5.5), on fastai's RandomSplitter(valid_pct=0.2,
seed=42) of the same 100,004 ratings, with the lesson's recipes (core/collab/train.py's RECIPES):
- chapter1: batches of 64, fine_tune(10) (on a collab model: fit_one_cycle(1, 2e-3, pct_start=0.99), then
  fit_one_cycle(10, 1e-3, pct_start=0.3, div=5), every weight, wd 0.01);
- chapter8 (alias: course): batches of 64, fit_one_cycle(5, 5e-3, wd=0.1);
- app, the app's default: batches of 512, fit_one_cycle(5, 1e-2, wd=0.5) (8x fewer steps, so more decay per step).
The sides:
- ours: the lesson's own functions, as its fit job calls them (core/collab/jobs.py's settings, make_learner, train);
- plain PyTorch: the same model class, a torch.utils.data DataLoader and a hand-written one-cycle loop;
- fastai's collab_learner, when a Python with fastai is given (it runs there; the ratings go through a temporary
  CSV that is deleted afterwards: MovieLens may not be redistributed);
- two reference lines with no learning of taste: the training mean for everyone, and mean + user and movie biases.
Seconds per epoch = the whole fit / epochs (training + validation; fine_tune's extra first epoch counted), after
one untimed warm-up epoch on each side.
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

FACTORS = 50
ALIASES = {"course": "chapter8"}


def recipes():
    from core.collab.train import RECIPES
    return RECIPES


def plan(recipe_key: str, epochs: int | None) -> dict:
    """The run's config for a recipe (the lesson's own settings check), with fewer epochs if asked."""
    from core.collab.jobs import DEFAULTS, settings
    r = recipes()[ALIASES.get(recipe_key, recipe_key)]
    return settings(dict(DEFAULTS, recipe=r.key, method=r.method, epochs=epochs or r.epochs, lr=r.lr, wd=r.wd,
                         batch_size=r.batch_size, n_factors=FACTORS))


def all_epochs(cfg: dict) -> int:
    return cfg["epochs"] + (1 if cfg["method"] == "fine_tune" else 0)


def ratings_table():
    from core.collab.data import embedded_ratings
    return embedded_ratings()


def run_ours(ratings, seeds, cfg, threads):
    import torch
    torch.set_num_threads(threads)
    from core.collab.data import prepare
    from core.collab.jobs import collab_settings
    from core.collab.train import make_learner, train
    from core.device import training_device
    data = prepare(ratings)
    device = training_device()
    make_learner(data, collab_settings(cfg), device).fit_one_cycle(1, cfg["lr"])          # warm-up, untimed
    rows = []
    for seed in seeds:
        learn = make_learner(data, collab_settings(cfg), device, seed=seed)
        start = time.perf_counter()
        train(learn, cfg["method"], cfg["epochs"], cfg["lr"])
        if device.type == "cuda":
            torch.cuda.synchronize()
        rows.append({"seconds_per_epoch": (time.perf_counter() - start) / all_epochs(cfg),
                     "rmse": learn.recorder.epochs[-1]["rmse"]})
    return {"who": f"ours: the lesson's make_learner + train ({device.type})", "runs": rows}


def run_plain_torch(ratings, seeds, cfg, threads):
    """The same model and recipe with the usual PyTorch pieces: TensorDataset, DataLoader, AdamW, OneCycleLR
    (fine_tune: two one-cycle loops with a fresh AdamW, as fastai's does on a one-group model)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    torch.set_num_threads(threads)
    from core.collab.data import prepare
    from core.collab.model import DotProductBias
    bs, lr, wd = cfg["batch_size"], cfg["lr"], cfg["wd"]
    data = prepare(ratings)
    train, valid = TensorDataset(*data.tensors(data.train_idx)), TensorDataset(*data.tensors(data.valid_idx))
    cycles = [(1, lr, 0.99, 25.0), (cfg["epochs"], lr / 2, 0.3, 5.0)] if cfg["method"] == "fine_tune" \
        else [(cfg["epochs"], lr, 0.25, 25.0)]

    def one_cycle(model, n_epochs, max_lr, pct_start, div):
        opt = torch.optim.AdamW(model.parameters(), lr=max_lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=wd)
        loader = DataLoader(train, batch_size=bs, shuffle=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps=n_epochs * len(loader),
                                                    pct_start=pct_start, div_factor=div, final_div_factor=1e5,
                                                    anneal_strategy="cos", base_momentum=0.85, max_momentum=0.95)
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
        return math.sqrt(sq / len(valid))

    torch.manual_seed(0)
    one_cycle(DotProductBias(len(data.users), len(data.items), FACTORS), 1, lr, 0.25, 25.0)     # warm-up, untimed
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = DotProductBias(len(data.users), len(data.items), FACTORS)
        start = time.perf_counter()
        for cycle in cycles:
            rmse = one_cycle(model, *cycle)
        rows.append({"seconds_per_epoch": (time.perf_counter() - start) / all_epochs(cfg), "rmse": rmse})
    return {"who": "plain PyTorch: DataLoader + loop", "runs": rows}


def run_fastai(csv_path, seeds, cfg, threads):
    """fastai's own calls: collab_learner, then fine_tune or fit_one_cycle as the recipe says."""
    import pandas as pd
    import torch
    torch.set_num_threads(threads)
    from fastai.collab import CollabDataLoaders, collab_learner
    from fastai.torch_core import set_seed
    ratings = pd.read_csv(csv_path)
    rows = []
    for seed in [None, *seeds]:
        set_seed(seed or 0)
        dls = CollabDataLoaders.from_df(ratings, user_name="user", item_name="item", rating_name="rating",
                                        bs=cfg["batch_size"], valid_pct=0.2, seed=42)
        learn = collab_learner(dls, n_factors=FACTORS, y_range=(0.5, 5.5))
        with learn.no_bar(), learn.no_logging():
            if seed is None:
                learn.fit_one_cycle(1, cfg["lr"], wd=cfg["wd"])
                continue
            start = time.perf_counter()
            if cfg["method"] == "fine_tune":
                learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], wd=cfg["wd"])
            else:
                learn.fit_one_cycle(cfg["epochs"], cfg["lr"], wd=cfg["wd"])
            seconds = (time.perf_counter() - start) / all_epochs(cfg)
        rows.append({"seconds_per_epoch": seconds, "rmse": math.sqrt(float(learn.validate()[0]))})
    return {"who": "fastai 2.8 collab_learner", "runs": rows}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=None, help="instead of each recipe's own (10 or 5)")
    p.add_argument("--recipes", nargs="+", choices=["chapter1", "chapter8", "app", *ALIASES],
                   default=["chapter8", "app"])
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for every side (the app trains small models on 1, see core.device.cpu_threads)")
    p.add_argument("--fastai-python", help="a Python with fastai installed, to run fastai's side")
    p.add_argument("--only-fastai", help=argparse.SUPPRESS)
    p.add_argument("--plans", help=argparse.SUPPRESS)
    args = p.parse_args()
    seeds = range(args.seeds)
    if args.only_fastai:                   # in fastai's Python: the plans come as JSON, nothing of ours is imported
        print(json.dumps([run_fastai(args.only_fastai, seeds, cfg, args.threads) for cfg in json.loads(args.plans)]))
        return

    from core.collab.code import fit_call
    from core.collab.data import prepare
    from core.collab.interpret import bias_baseline
    ratings = ratings_table()
    plans = {r: plan(r, args.epochs) for r in args.recipes}
    results = {r: [run_ours(ratings, seeds, cfg, args.threads), run_plain_torch(ratings, seeds, cfg, args.threads)]
               for r, cfg in plans.items()}
    if args.fastai_python:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "ratings.csv"
            ratings.to_csv(csv_path, index=False)
            out = subprocess.run([args.fastai_python, __file__, "--only-fastai", str(csv_path), "--seeds",
                                  str(args.seeds), "--threads", str(args.threads), "--plans",
                                  json.dumps(list(plans.values()))], capture_output=True, text=True, cwd=ROOT)
        if out.returncode:                        # ours is still printed: the peer's failure is said, not fatal
            print(f"fastai's side failed:\n{out.stderr[-1500:]}\n")
        else:
            for r, result in zip(plans, json.loads(out.stdout.strip().splitlines()[-1])):
                results[r].append(result)
    else:
        print("fastai is not importable here: pass --fastai-python to add fastai's collab_learner.\n")
    base = bias_baseline(prepare(ratings))

    print(f"MovieLens (dslabs, 100,004 ratings), DotProductBias({FACTORS} factors), "
          f"1 of 5 rows held out (seed 42), CPU threads: {args.threads}")
    for r, cfg in plans.items():
        print(f"\n{r} recipe: batches of {cfg['batch_size']}, "
              f"{fit_call(cfg['method'], cfg['epochs'], cfg['lr'], cfg['wd'])} ({all_epochs(cfg)} epochs in all)")
        print(f"{'':52s} {'s/epoch':>9s} {'valid RMSE (mean, min-max)':>28s}")
        for result in results[r]:
            runs = result["runs"]
            sec = sum(x["seconds_per_epoch"] for x in runs) / len(runs)
            rm = [x["rmse"] for x in runs]
            who = f"{result['who']} x{len(runs)}"
            print(f"{who:52s} {sec:9.2f} {sum(rm) / len(rm):12.4f} ({min(rm):.4f}-{max(rm):.4f})")
    print(f"\n{'reference: training mean for everyone':52s} {'':9s} {base['mean_rmse']:12.4f}")
    print(f"{'reference: mean + user and movie biases':52s} {'':9s} {base['biases_rmse']:12.4f}")


if __name__ == "__main__":
    main()
