"""Where training runs, and how to make a run reproducible."""
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch


def training_device() -> torch.device:
    """The GPU when there is one, else the CPU. `LESSON1_DEVICE` overrides (e.g. `cpu`)."""
    forced = os.environ.get("LESSON1_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class DeviceInfo:
    kind: str            # "cuda" or "cpu"
    name: str
    free_gib: float | None
    total_gib: float | None
    count: int           # GPUs, or CPU threads torch uses

    @property
    def summary(self) -> str:
        if self.kind == "cuda":
            return f"{self.name} · {self.free_gib:.1f} of {self.total_gib:.1f} GiB free"
        return f"CPU ({self.count} threads) · slower than a GPU: lessons use small images and few epochs"


def describe_device() -> DeviceInfo:
    device = training_device()
    if device.type == "cuda":
        index = device.index or 0
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo("cuda", torch.cuda.get_device_name(index), free / 2**30, total / 2**30,
                          torch.cuda.device_count())
    return DeviceInfo("cpu", "CPU", None, None, torch.get_num_threads())


def seed_everything(seed: int) -> None:
    """Same seed, same data split, same initial head, same batches: the same run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that have it; float32 (no autocast) on the CPU. bf16's speed on a CPU depends on the chip
    (benchmarks/bench_learner.py measured it 1.5x faster on this project's 2-core server, which has native bf16;
    CPUs without it emulate it slowly), and float32 keeps CPU runs comparable with the course's numbers."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def prefers_channels_last(device: torch.device) -> bool:
    """CNNs in the channels-last layout use the GPU's tensor cores without transposes (with bf16, as airbench
    does); CPUs gain nothing certain from it, so CPU runs keep PyTorch's default layout."""
    return device.type == "cuda"


@contextmanager
def cpu_threads(device: torch.device, n: int = 1):
    """Train small models (tables, toy MLPs) on `n` CPU threads. Their matrix products are tiny, so more threads
    mostly wait on each other, and on a busy shared CPU they stall (measured here: the same tabular fit 30x
    slower on 2 threads than on 1, see benchmarks/bench_tabular.py). The setting is the calling thread's; threads
    started meanwhile inherit it. Put back afterwards; GPUs are unaffected."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
