"""How much GPU memory a training job needs, so one GPU can be shared by a class.

A job holds, for the whole fit:
  - the training state: float32 weights, their gradients and AdamW's two moments (16 bytes per parameter);
  - its data, kept on the device (uint8 images: 3 * size * size bytes each);
  - the activations autograd saves for the backward pass, which grow with the batch size.

The activations are counted, not guessed: `saved_activation_bytes` runs one forward pass on a small batch, on the
training device and under the autocast training uses (bf16 halves most of them), and adds up the bytes of every
tensor saved for backward. The backward pass, allocator slack and cuDNN's workspace come on top; `HEADROOM` covers
them (benchmarks/bench_image_classification.py prints this estimate next to the measured peak on a GPU).

The job runner gives each job an equal share of the GPU (`job_budget_bytes`) and starts as many workers as there
are shares (`jobs_per_gpu`); a lesson sizes its batch to fit its share (`plan_batch_size`).
"""
import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

BYTES_PER_PARAMETER = 16          # float32 weight + gradient + AdamW exp_avg + exp_avg_sq
# saved activations -> peak during backward (gradients of activations, allocator slack). Measured on an H200
# (benchmarks/results/README.md): the bird lesson predicted 2,743 MiB against a peak of 2,036 MiB reserved by
# PyTorch's allocator (1,453 allocated); segmentation 1,001 against 888 (652).
HEADROOM = 2.0
USABLE_FRACTION = 0.9             # of a GPU's memory; the rest is left to the CUDA context and fragmentation
# A default job reserves ~2 GiB plus its process's CUDA context; 8 bird jobs at once on one H200 ran with no failure
# and 6.7x the images/s of one (benchmarks/results/README.md).
DEFAULT_JOB_GIB = 4.0             # a job's share when LESSON1_JOB_GIB is not set
DEFAULT_MAX_JOBS_PER_GPU = 8      # measured up to 8; more would mostly queue inside the GPU


def saved_activation_bytes(model: nn.Module, inputs: tuple[torch.Tensor, ...],
                           autocast: torch.dtype | None = None) -> int:
    """Bytes of the tensors autograd saves for backward in one training-mode forward pass of `inputs`
    (parameters not counted: they are part of the training state). BatchNorm's running statistics are
    put back afterwards, so measuring doesn't change the model."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in parameters:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    buffers = {name: b.clone() for name, b in model.named_buffers()}
    was_training = model.training
    device_type = inputs[0].device.type
    model.train()
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                (torch.autocast(device_type, dtype=autocast) if autocast else nullcontext()):
            out = model(*inputs)
        del out
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        model.train(was_training)
    return sum(seen.values())


def training_state_bytes(model: nn.Module) -> int:
    return BYTES_PER_PARAMETER * sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class BatchPlan:
    batch_size: int
    per_item_bytes: int          # saved activations per training item
    fixed_bytes: int             # training state + data on the device
    budget_bytes: int | None     # the job's share of the GPU; None on a CPU
    reason: str

    @property
    def estimated_peak_bytes(self) -> int:
        return int(self.fixed_bytes + HEADROOM * self.batch_size * self.per_item_bytes)


def plan_batch_size(per_item_bytes: int, fixed_bytes: int, budget_bytes: int, n_train: int,
                    min_bs: int = 8, max_bs: int = 256, min_steps: int = 8) -> BatchPlan:
    """The largest power of two that fits the budget, but small enough that an epoch still has `min_steps`
    optimizer steps (a few hundred photos in batches of 256 would barely train)."""
    by_data = max(min_bs, n_train // min_steps)
    fits = lambda bs: fixed_bytes + HEADROOM * bs * per_item_bytes <= budget_bytes
    bs = min_bs
    while bs * 2 <= min(max_bs, by_data) and fits(bs * 2):
        bs *= 2
    if not fits(bs):
        reason = f"the smallest batch ({bs}) is over this job's share of the GPU; it may run out of memory"
    elif bs * 2 <= min(max_bs, by_data):
        reason = f"the largest batch that fits this job's share of the GPU ({budget_bytes / 2**30:.1f} GiB)"
    elif bs * 2 > max_bs:
        reason = f"the largest batch size offered ({max_bs})"
    else:
        reason = f"so that each epoch still has at least {min_steps} steps on {n_train} training items"
    return BatchPlan(bs, per_item_bytes, fixed_bytes, budget_bytes, reason)


def jobs_per_gpu(total_bytes: int) -> int:
    """How many jobs fit on a GPU of `total_bytes` at once: as many shares of LESSON1_JOB_GIB as fit,
    at most LESSON1_MAX_JOBS_PER_GPU, at least one."""
    job_bytes = float(os.environ.get("LESSON1_JOB_GIB", DEFAULT_JOB_GIB)) * 2**30
    cap = int(os.environ.get("LESSON1_MAX_JOBS_PER_GPU", DEFAULT_MAX_JOBS_PER_GPU))
    return max(1, min(cap, int(USABLE_FRACTION * total_bytes // job_bytes)))


def job_budget_bytes(total_bytes: int, jobs_on_gpu: int) -> int:
    """One job's share of a GPU: the usable memory split between the jobs that may run on it at once."""
    return int(USABLE_FRACTION * total_bytes / max(1, jobs_on_gpu))


def plan_image_batches(model: nn.Module, device: torch.device, budget_bytes: int | None, image_hw: tuple[int, int],
                       data_bytes: int, n_train: int, requested: int | str = "auto", cpu_batch_size: int = 16,
                       **plan_options) -> BatchPlan:
    """The batch size an image model trains with, and the memory it is expected to need. `requested` wins when it
    is a number; "auto" is `cpu_batch_size` on a CPU and, on a GPU, the largest batch that fits `budget_bytes`.
    The model is moved to `device` (in the layout training uses) to count its activations there."""
    from core.device import autocast_dtype, prefers_channels_last
    layout = torch.channels_last if prefers_channels_last(device) else torch.contiguous_format
    model.to(device, memory_format=layout)
    probe = torch.zeros(2, 3, *image_hw, device=device).contiguous(memory_format=layout)
    per_item = saved_activation_bytes(model, (probe,), autocast_dtype(device)) // 2
    fixed = training_state_bytes(model) + data_bytes
    if requested != "auto":
        return BatchPlan(int(requested), per_item, fixed, budget_bytes, "set in the settings")
    if budget_bytes is None:
        return BatchPlan(cpu_batch_size, per_item, fixed, None, "the best trade-off measured on a small CPU")
    return plan_batch_size(per_item, fixed, budget_bytes, n_train, **plan_options)


def plan_report(plan: BatchPlan) -> dict:
    """What a job reports about its batch size (ctx.report(**plan_report(plan))): pages and benchmarks show it."""
    return dict(batch_size=plan.batch_size, batch_size_reason=plan.reason,
                estimated_peak_mib=round(plan.estimated_peak_bytes / 2**20),
                memory_budget_mib=round(plan.budget_bytes / 2**20) if plan.budget_bytes else None)
