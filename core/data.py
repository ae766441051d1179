"""Batches straight from tensors that already live on the training device.

Like airbench: decode and resize once, keep the whole dataset on the device, and do augmentation
per batch on the device. No worker processes, no per-item Python in the training loop.
"""
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

Batch = tuple[torch.Tensor, ...]
WHOLE_EPOCH_BYTES = 16 * 2**20


class DeviceLoader:
    """Iterate over `tensors` (same first dimension) in batches. The last tensor is the target."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, batch_tfm: Callable[[Batch], Batch] | None = None, seed: int = 0):
        if not tensors:
            raise ValueError("DeviceLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError("all tensors must have the same number of items")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last and n > batch_size
        self.batch_tfm = batch_tfm
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def n(self) -> int:
        return len(self.tensors[0])

    @property
    def device(self) -> torch.device:
        return self.tensors[0].device

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        order = order.to(self.device)
        tensors = self.tensors
        if sum(t.nbytes for t in tensors) <= WHOLE_EPOCH_BYTES:
            # Small tables (tabular, collab): one gather for the whole epoch, and every batch a slice of it instead
            # of an index lookup per tensor (collab's epoch in batches of 512 on the CPU: 0.15 s -> 0.14 s).
            tensors, order = tuple(t[order] for t in tensors), None
        for i in range(len(self)):
            part = slice(i * self.batch_size, (i + 1) * self.batch_size)
            batch = tuple(t[part] if order is None else t[order[part]] for t in tensors)
            yield self.batch_tfm(batch) if self.batch_tfm else batch

    def to(self, device) -> "DeviceLoader":
        self.tensors = tuple(t.to(device) for t in self.tensors)
        return self


@dataclass
class DataLoaders:
    train: DeviceLoader
    valid: DeviceLoader
    vocab: Sequence[str] | None = None
    info: dict = field(default_factory=dict)   # anything a lesson wants to carry along (normalisation stats...)
