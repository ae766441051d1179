"""Callbacks: the only link between a training loop and whatever watches it."""
import time

import torch


class CancelFitException(Exception):
    """Raised by a callback to stop training cleanly; the weights trained so far are kept."""


class Callback:
    order = 0
    learn = None


class Recorder(Callback):
    """The numbers students see: the loss of every batch and a row per epoch (fastai's epoch table).

    A batch's loss stays a tensor until it is needed: reading it (`.item()`) makes the CPU wait for the GPU, and
    waiting at every step would keep the CPU from queueing the next step's kernels while the GPU works. The losses
    are read in one go when `losses` is read (a progress writer does that a few times a second), at an epoch's end,
    or every `READ_EVERY` steps."""
    order = -10
    READ_EVERY = 256

    def __init__(self, smoothing: float = 0.98):
        self.smoothing = smoothing
        self._losses: list[dict] = []         # step, epoch, phase, train_loss (smoothed), raw, lr
        self._unread: list[tuple[torch.Tensor, int, dict]] = []      # (loss, batch size, the row's other fields)
        self.valid_losses: list[dict] = []    # step, valid_loss: one point per epoch
        self.epochs: list[dict] = []
        self._smooth, self._count = 0.0, 0

    @property
    def losses(self) -> list[dict]:
        self._read()
        return self._losses

    def before_epoch(self):
        self._epoch_start = time.perf_counter()
        self._train_sum, self._train_n = 0.0, 0

    def before_validate(self):
        self._valid_preds, self._valid_targets, self._valid_sum, self._valid_n = [], [], 0.0, 0

    def after_batch(self):
        learn = self.learn
        if learn.phase == "lr_find":
            return
        loss, n = learn.loss.detach().float(), len(learn.yb)
        if learn.training:
            lr = learn.opt.param_groups[-1]["lr"]
            self._unread.append((loss, n, dict(step=learn.train_steps, epoch=self.epoch_number, phase=learn.phase,
                                               lr=lr)))
            if len(self._unread) >= self.READ_EVERY:
                self._read()
        else:                   # its predictions are copied to the CPU anyway: reading the loss waits no longer
            self._valid_sum, self._valid_n = self._valid_sum + loss.item() * n, self._valid_n + n
            self._valid_preds.append(learn.pred.detach().float().cpu())
            self._valid_targets.append(learn.yb.detach().cpu())

    def _read(self) -> None:
        """The unread training losses, fetched together: the smoothed curve and the epoch's sum."""
        if not self._unread:
            return
        values = torch.stack([loss for loss, _, _ in self._unread]).tolist()
        for loss, (_, n, row) in zip(values, self._unread):
            self._count += 1
            self._smooth = self.smoothing * self._smooth + (1 - self.smoothing) * loss
            self._train_sum, self._train_n = self._train_sum + loss * n, self._train_n + n
            self._losses.append(dict(row, train_loss=self._smooth / (1 - self.smoothing ** self._count), raw=loss))
        self._unread = []

    def after_epoch(self):
        learn = self.learn
        self._read()
        row = dict(epoch=self.epoch_number, phase=learn.phase or "",
                   train_loss=self._train_sum / max(1, self._train_n),
                   valid_loss=self._valid_sum / max(1, self._valid_n))
        if self._valid_preds:
            preds, targets = torch.cat(self._valid_preds), torch.cat(self._valid_targets)
            for metric in learn.metrics:
                row[metric.__name__] = metric(preds, targets)
        row["time"] = time.perf_counter() - self._epoch_start
        self.epochs.append(row)
        self.valid_losses.append(dict(step=learn.train_steps, epoch=row["epoch"], valid_loss=row["valid_loss"]))

    @property
    def epoch_number(self) -> int:
        return len(self.epochs)


class CancelOnEvent(Callback):
    """The Stop button: a `threading.Event` set from elsewhere ends the fit at the next batch."""

    def __init__(self, event):
        self.cancel_event = event

    def before_batch(self):
        if self.cancel_event.is_set():
            raise CancelFitException()


def layer_name(param_name: str, depth: int = 2) -> str:
    """'blocks.3.1.conv_pw.weight' -> 'blocks.3': a readable unit for per-layer charts."""
    parts = param_name.split(".")[:-1] or [param_name]
    if len(parts) > 1 and parts[1].isdigit():
        return ".".join(parts[:depth])
    return parts[0]


class WeightStats(Callback):
    """Per layer, every few steps: how far the weights moved from where they started (relative) and how big
    the gradient is. Shows that a frozen body stays still while the new head moves.

    The weights are the layers' matrices and kernels (a parameter of two or more dimensions): BatchNorm's scale and
    shift, and the biases, are left out. fastai keeps a frozen body's BatchNorm training, so counting it made the
    frozen body look as if it moved nearly as much as after unfreezing (0.005-0.013 of the bird's blocks); a layer of
    BatchNorm alone (EfficientNet's bn1, bn2) has no row.

    As the Recorder's losses, the numbers stay tensors until `records` is read (at an epoch's end): reading them
    at once made the CPU wait for the GPU twice per layer, at every step of a small epoch (every = n_iter // 8)."""
    order = 5

    def __init__(self, every: int | None = None, max_records: int = 4000, layer_of=None):
        self.every, self.max_records = every, max_records
        self.layer_of = layer_of or layer_name          # parameter name -> the layer it is counted in
        self._records: list[dict] = []
        self._unread: list[tuple[torch.Tensor, list[dict]]] = []   # (grad norm and change per layer, their rows)
        self.start: dict[str, torch.Tensor] | None = None

    @property
    def records(self) -> list[dict]:
        if self._unread:
            values = torch.cat([v for v, _ in self._unread]).view(-1, 2).tolist()      # one wait for the GPU
            rows = [row for _, step_rows in self._unread for row in step_rows]
            for row, (grad_norm, change) in zip(rows, values):
                trainable = row.pop("trainable")
                self._records.append(dict(row, grad_norm=grad_norm, weight_change=change, trainable=trainable))
            self._unread = []
        return self._records

    def _layers(self):
        layers: dict[str, list[tuple[str, torch.nn.Parameter]]] = {}
        for name, p in self.learn.model.named_parameters():
            if p.ndim > 1:
                layers.setdefault(self.layer_of(name), []).append((name, p))
        return layers

    def before_fit(self):
        if self.start is None:
            self.start = {n: p.detach().float().clone() for n, p in self.learn.model.named_parameters() if p.ndim > 1}

    def after_backward(self):
        learn = self.learn
        every = self.every or max(1, learn.n_iter // 8)
        if learn.iter % every and learn.iter != learn.n_iter - 1:
            return
        if len(self._records) + sum(len(rows) for _, rows in self._unread) >= self.max_records:
            return
        values, rows = [], []
        for layer, params in self._layers().items():
            grads = [p.grad.detach().float() for _, p in params if p.grad is not None]
            grad_norm = torch.sqrt(sum((g ** 2).sum() for g in grads)) if grads else params[0][1].new_zeros(())
            moved = sum(((p.detach().float() - self.start[n]) ** 2).sum() for n, p in params)
            size = sum((self.start[n] ** 2).sum() for n, _ in params)
            values += [grad_norm.float(), (moved / size.clamp_min(1e-12)).sqrt()]
            rows.append(dict(step=learn.train_steps, epoch=learn.recorder.epoch_number, phase=learn.phase or "",
                             layer=layer, trainable=any(p.requires_grad for _, p in params)))
        self._unread.append((torch.stack(values), rows))
