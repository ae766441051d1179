"""The Learner's cost over a plain PyTorch loop, and DeviceLoader against torch's DataLoader, same run.

    .venv/bin/python benchmarks/bench_learner.py [--device cpu|cuda] [--epochs 3]

Prints seconds per epoch for: a hand-written loop over a TensorDataset + DataLoader (the peer), the same loop
over our DeviceLoader, and our Learner.fit_one_cycle (events, recorder, schedule) over DeviceLoader. Also
float32 vs bf16 autocast on this device, which is why core.device.autocast_dtype turns bf16 on for GPUs only.
"""
import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.data import DataLoaders, DeviceLoader
from core.learner import Learner


def make_problem(n, features, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    y = (x[:, :features // 2].sum(1) > 0).long()
    return x.to(device), y.to(device)


def make_model(features, device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 2)).to(device)


def plain_loop(model, batches, epochs, autocast=None):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_func = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for xb, yb in batches:
            with torch.autocast(xb.device.type, dtype=autocast) if autocast else torch.enable_grad():
                loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--items", type=int, default=32768)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    device, features, bs, epochs = torch.device(args.device), 64, args.batch_size, args.epochs
    x, y = make_problem(args.items, features, device)
    torch.set_flush_denormal(True)

    peer = DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=bs, shuffle=True)

    def peer_batches():
        for xb, yb in peer:
            yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)

    class Replay:                       # a fresh generator each epoch
        def __iter__(self):
            return peer_batches()

    ours = DeviceLoader(x, y, batch_size=bs, shuffle=True)
    plain_loop(make_model(features, device), ours, 1)          # warm-up (allocator, kernels), not timed
    rows = []
    rows.append(("plain loop + torch DataLoader (peer)",
                 timed(lambda: plain_loop(make_model(features, device), Replay(), epochs), device)))
    rows.append(("plain loop + our DeviceLoader",
                 timed(lambda: plain_loop(make_model(features, device), ours, epochs), device)))
    valid = DeviceLoader(x[:2048], y[:2048], batch_size=1024)
    learn = Learner(make_model(features, device), DataLoaders(ours, valid), nn.CrossEntropyLoss(), device=device)
    learn.autocast = None
    rows.append(("our Learner.fit_one_cycle (float32)", timed(lambda: learn.fit_one_cycle(epochs, 1e-3), device)))
    rows.append(("plain loop + DeviceLoader, bf16 autocast",
                 timed(lambda: plain_loop(make_model(features, device), ours, epochs, torch.bfloat16), device)))

    print(f"device={device} items={args.items} batch_size={bs} epochs={epochs} threads={torch.get_num_threads()}")
    print(f"{'':45s} {'s/epoch':>9s} {'vs peer':>8s}")
    base = rows[0][1] / epochs
    for name, seconds in rows:
        print(f"{name:45s} {seconds / epochs:9.3f} {base / (seconds / epochs):7.2f}x")


if __name__ == "__main__":
    main()
