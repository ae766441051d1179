"""A small Learner in the spirit of fastai's: a model, its data, a loss and an optimizer, plus events.

Training emits events (before/after fit, epoch, batch...). Callbacks subscribe to them, and they are the
only link between training and whatever watches it: the recorder, a live chart, weight snapshots, the
Stop button (a callback raising `CancelFitException`).
"""
import math
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from core.callbacks import Callback, CancelFitException, Recorder
from core.data import DataLoaders, DeviceLoader
from core.device import autocast_dtype, training_device
from core.schedules import one_cycle

EVENTS = ("before_fit", "before_epoch", "before_train", "before_batch", "after_pred", "after_loss",
          "after_backward", "after_step", "after_batch", "after_train", "before_validate", "after_validate",
          "after_epoch", "after_cancel_fit", "after_fit")

NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]
    valley: float | None
    cancelled: bool = False


def whole_model(model: nn.Module) -> list[list[nn.Parameter]]:
    return [list(model.parameters())]


class Learner:
    def __init__(self, model: nn.Module, dls: DataLoaders, loss_func: Callable, metrics: Sequence[Callable] = (),
                 splitter: Callable[[nn.Module], list[list[nn.Parameter]]] = whole_model, wd: float = 1e-2,
                 cbs: Sequence[Callback] = (), device: torch.device | None = None, channels_last: bool = False):
        self.device = device or training_device()
        self.channels_last = channels_last
        self.model = model.to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.dls, self.loss_func, self.metrics = dls, loss_func, list(metrics)
        self.splitter, self.wd = splitter, wd
        self.autocast = autocast_dtype(self.device)
        self.pad_eval_batches = self.device.type == "cuda"      # see _forward
        self.opt: torch.optim.Optimizer | None = None
        self.cbs: list[Callback] = []
        self.recorder = Recorder()
        for cb in (self.recorder, *cbs):
            self.add_cb(cb)
        self.phase: str | None = None           # "frozen" / "unfrozen" during fine_tune, "lr_find" during lr_find
        self.cancelled = False
        self.training = False
        self.epoch = self.n_epochs = self.iter = self.n_iter = 0
        self.planned_epochs = 0                 # epochs of the whole current call (fine_tune = frozen + unfrozen)
        self.epochs_done = 0                    # epochs finished in the current call
        self.train_steps = 0                    # optimizer steps since the Learner was made
        self.loss = self.pred = self.xb = self.yb = None

    # ---- callbacks -------------------------------------------------------------------------------
    def add_cb(self, cb: Callback) -> Callback:
        cb.learn = self
        self.cbs.append(cb)
        self.cbs.sort(key=lambda c: c.order)
        return cb

    def remove_cb(self, cb: Callback) -> None:
        self.cbs.remove(cb)

    def event(self, name: str) -> None:
        for cb in self.cbs:
            handler = getattr(cb, name, None)
            if handler is not None:
                handler()

    # ---- parameters, freezing, optimizer --------------------------------------------------------
    def param_groups(self) -> list[list[nn.Parameter]]:
        return self.splitter(self.model)

    def freeze_to(self, n: int) -> None:
        """Train only groups n and after; normalisation layers keep training everywhere (as fastai's train_bn)."""
        norm_params = {id(p) for m in self.model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}
        for i, group in enumerate(self.param_groups()):
            for p in group:
                p.requires_grad_(i >= n or id(p) in norm_params)

    def freeze(self) -> None:
        self.freeze_to(len(self.param_groups()) - 1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        # One torch group per (splitter group, decays?) pair: no weight decay on biases and norm layers.
        no_decay = {id(p) for m in self.model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}
        no_decay |= {id(p) for p in self.model.parameters() if p.ndim <= 1}
        groups = []
        for i, params in enumerate(self.param_groups()):
            decay = [p for p in params if id(p) not in no_decay]
            rest = [p for p in params if id(p) in no_decay]
            groups += [dict(params=decay, weight_decay=self.wd, split=i),
                       dict(params=rest, weight_decay=0.0, split=i)]
        groups = [g for g in groups if g["params"]]
        # fused: one kernel per step for every parameter. On the CPU too (torch 2.4+): AdamW's per-tensor loop was
        # 77% of a collab step, and fused took chapter 8's epoch from 2.23 to 1.26 s, to the same RMSE
        # (benchmarks/bench_collab.py, 2026-12-04).
        return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), eps=1e-5,
                                 fused=self.device.type in ("cuda", "cpu"))

    def _group_lrs(self, lr: float | tuple[float, float]) -> np.ndarray:
        """A float: the same for every group. (low, high): spread geometrically, body low, head high."""
        n = len(self.param_groups())
        if isinstance(lr, (tuple, list)):
            low, high = lr
            return np.geomspace(low, high, n) if n > 1 else np.array([high])
        return np.full(n, float(lr))

    def _set_hypers(self, lrs: np.ndarray, lr_factor: float, beta1: float | None = None) -> None:
        for g in self.opt.param_groups:
            g["lr"] = float(lrs[g["split"]] * lr_factor)
            if beta1 is not None:
                g["betas"] = (beta1, g["betas"][1])

    # ---- one batch ---------------------------------------------------------------------------------
    def _prepare(self, batch):
        if self.channels_last:
            batch = tuple(t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t for t in batch)
        return batch[:-1], batch[-1]

    def _autocast(self):
        if self.autocast is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)

    def _forward(self, xb, pad_to: int | None = None) -> torch.Tensor:
        """The model's output. On a GPU a short batch of images in evaluation is padded to `pad_to`: cuDNN builds
        its execution plans per input shape, and on the H200 a validation set ending in a batch of a new size cost
        a warm worker's job ~3 s of plans (benchmarks/results/README.md, 2026-12-04). In eval mode every item is
        computed on its own, so the padding changes no output."""
        n = len(xb[0])
        if (not self.pad_eval_batches or not pad_to or n >= pad_to
                or any(not isinstance(x, torch.Tensor) or x.ndim != 4 for x in xb)):
            return self.model(*xb)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        padded = [torch.cat([x, x.new_zeros((pad_to - n, *x.shape[1:]))]).contiguous(memory_format=memory_format)
                  for x in xb]
        return self.model(*padded)[:n]

    def _one_batch(self, batch, pad_to: int | None = None) -> None:
        self.xb, self.yb = self._prepare(batch)
        self.event("before_batch")
        with self._autocast():
            self.pred = self._forward(self.xb, pad_to)
            self.event("after_pred")
            self.loss = self.loss_func(self.pred, self.yb)
        self.event("after_loss")
        if not self.training:
            return
        self.loss.backward()
        self.event("after_backward")
        self.opt.step()
        self.train_steps += 1
        self.event("after_step")
        self.opt.zero_grad(set_to_none=True)

    # ---- fit ---------------------------------------------------------------------------------------
    def fit(self, n_epochs: int, lr: float | tuple[float, float] = 1e-3,
            schedule: Callable[[float], tuple[float, float | None]] | None = None) -> None:
        """Train n_epochs. `schedule(progress in [0,1]) -> (lr factor, beta1 or None)`; constant lr if None."""
        if self.opt is None:
            self.opt = self._make_optimizer()
        lrs = self._group_lrs(lr)
        schedule = schedule or (lambda pos: (1.0, None))
        self.n_epochs, self.n_iter = n_epochs, len(self.dls.train)
        self.cancelled = False
        total_steps = max(1, n_epochs * self.n_iter)
        with self._plan(n_epochs):
            self._fit(n_epochs, lrs, schedule, total_steps)

    def _fit(self, n_epochs, lrs, schedule, total_steps) -> None:
        _flush_denormals()
        try:
            self.event("before_fit")
            for self.epoch in range(n_epochs):
                self.event("before_epoch")
                self.model.train()
                self.training = True
                self.event("before_train")
                for self.iter, batch in enumerate(self.dls.train):
                    self._set_hypers(lrs, *schedule((self.epoch * self.n_iter + self.iter) / total_steps))
                    self._one_batch(batch)
                    self.event("after_batch")
                self.event("after_train")
                self.training = False
                self._validate()
                self.epochs_done += 1
                self.event("after_epoch")
        except CancelFitException:
            self.cancelled = True
            self.training = False
            self.event("after_cancel_fit")
        self.opt.zero_grad(set_to_none=True)
        self.event("after_fit")

    def _validate(self) -> None:
        self.model.eval()
        self.event("before_validate")
        with torch.no_grad():
            for batch in self.dls.valid:
                self._one_batch(batch, pad_to=getattr(self.dls.valid, "batch_size", None))
                self.event("after_batch")
        self.event("after_validate")

    @contextmanager
    def _plan(self, epochs: int):
        """Let progress callbacks know how many epochs the whole call will take."""
        outer = self.planned_epochs
        if not outer:
            self.planned_epochs, self.epochs_done = epochs, 0
        try:
            yield
        finally:
            if not outer:
                self.planned_epochs = 0

    def fit_one_cycle(self, n_epochs: int, lr_max: float | tuple[float, float] = 1e-3, pct_start: float = 0.25,
                      div: float = 25.0, div_final: float = 1e5) -> None:
        """Warm the learning rate up then anneal it (cosine), with momentum moving the other way (Smith 2018)."""
        with self._plan(n_epochs):
            self.fit(n_epochs, lr_max, schedule=lambda pos: one_cycle(pos, pct_start, div, div_final))

    def fine_tune(self, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1, lr_mult: float = 100,
                  pct_start: float = 0.3, div: float = 5.0) -> None:
        """fastai's recipe: train the new head with the pretrained body frozen, then everything, the early
        layers with a learning rate lr_mult times smaller than the head's."""
        with self._plan(freeze_epochs + epochs):
            if freeze_epochs:
                self.freeze()
                self.phase = "frozen"
                self.fit_one_cycle(freeze_epochs, base_lr, pct_start=0.99)
                if self.cancelled:
                    return
            base_lr /= 2
            self.unfreeze()
            self.phase = "unfrozen"
            self.fit_one_cycle(epochs, (base_lr / lr_mult, base_lr), pct_start=pct_start, div=div)
        self.phase = None

    # ---- lr_find -------------------------------------------------------------------------------------
    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100) -> LRFinderResult:
        """Train a few batches with an exponentially growing learning rate, then put the weights back."""
        saved_model = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        saved_opt = self.opt
        saved_phase = self.phase
        self.opt = self._make_optimizer()
        lrs, losses, smooth, best = [], [], 0.0, math.inf
        self.phase, self.cancelled = "lr_find", False
        _flush_denormals()
        self.n_iter, self.n_epochs, self.epoch = num_it, 1, 0
        ones = np.ones(len(self.param_groups()))
        try:
            self.model.train()
            self.training = True
            batches = _cycle(self.dls.train)
            for self.iter in range(num_it):
                lr = start_lr * (end_lr / start_lr) ** (self.iter / max(1, num_it - 1))
                self._set_hypers(ones, lr)
                self._one_batch(next(batches))
                raw = self.loss.item()
                smooth = 0.98 * smooth + 0.02 * raw
                loss = smooth / (1 - 0.98 ** (self.iter + 1))
                lrs.append(lr)
                losses.append(loss)
                self.event("after_batch")
                best = min(best, loss)
                if not math.isfinite(loss) or loss > 4 * best:
                    break
        except CancelFitException:
            self.cancelled = True
        finally:
            self.training = False
            self.model.load_state_dict(saved_model)
            self.opt.zero_grad(set_to_none=True)
            self.opt, self.phase = saved_opt, saved_phase
        return LRFinderResult(lrs, losses, valley(lrs, losses), self.cancelled)

    # ---- predictions ---------------------------------------------------------------------------------
    def get_preds(self, dl: DeviceLoader | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Raw outputs, targets and per-item losses (when the loss has a `reduction`), on the CPU, float32."""
        dl = dl or self.dls.valid
        per_item = _per_item(self.loss_func)
        preds, targets, losses = [], [], []
        self.model.eval()
        with torch.no_grad(), self._autocast():
            for batch in dl:
                xb, yb = self._prepare(batch)
                out = self._forward(xb, pad_to=getattr(dl, "batch_size", None))
                preds.append(out.float().cpu())
                targets.append(yb.cpu())
                if per_item is not None:
                    losses.append(per_item(out.float(), yb).float().cpu())
        return torch.cat(preds), torch.cat(targets), torch.cat(losses) if losses else None


def _flush_denormals() -> None:
    """Tiny floats (as weights blow up at the end of lr_find) make CPU math ~10x slower; treat them as zero.
    The setting belongs to the calling thread, so it is made where training runs."""
    torch.set_flush_denormal(True)


def _cycle(loader):
    while True:
        yielded = False
        for batch in loader:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError("the training set has no batches")


def _per_item(loss_func):
    if not hasattr(loss_func, "reduction"):
        return None
    import copy
    per_item = copy.copy(loss_func)
    per_item.reduction = "none"
    return per_item


def valley(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """fastai's 'valley': the middle of the longest stretch where the loss keeps going down."""
    n = len(losses)
    skip_start, skip_end = n // 10, 5 if n > 20 else 0
    lrs, losses = list(lrs[skip_start:n - skip_end]), list(losses[skip_start:n - skip_end])
    n = len(losses)
    if n < 2:
        return None
    run = [1] * n                 # length of the longest decreasing subsequence ending at i
    best_start = best_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
            if run[best_end] < run[i]:
                best_end = i
                best_start = best_end - run[best_end]
    third = (best_end - best_start) / 3
    return float(lrs[best_start + int(third) + int(third / 2)])
