"""Metrics over a whole validation set: `f(preds, targets) -> float`, preds being raw model outputs."""
import torch


def accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    if preds.ndim == 2 and preds.shape[1] == 1:            # one logit: binary
        predicted = (preds[:, 0] > 0).long()
    else:
        predicted = preds.argmax(dim=1)
    return (predicted == targets.long()).float().mean().item()


def error_rate(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return 1.0 - accuracy(preds, targets)


def mse(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return torch.mean((preds.float().reshape(targets.shape) - targets.float()) ** 2).item()


def rmse(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return mse(preds, targets) ** 0.5
